import { connect, type Connection } from '../sql/connect.js';
import { migrate } from '../sql/migrations.js';
import { DirectWriter } from '../ingest/writer.js';
import { defaultTenantLimits, rollupRetention, type Config } from './config.js';
import { kafkaSink, startKafka } from './kafka.js';
import { billingSettings, connectOptions, readLimits, s3Storage } from './runtime-settings.js';
import type { AppDeps } from './context.js';
import { createAccess } from '../access/access.js';
import type { Logger } from './logger.js';
import { createApp } from './app.js';
import { applyEventsRetention, applyRollupRetention, grownRetention } from '../sql/retention.js';
import { markRetentionGrown, readFilledFrom } from '../sql/queries/tier-filled.js';
import { TierCoverage } from './usage/tier-coverage.js';
import { loadMetersFile } from './meters-file.js';
import { reconcileRollups, reconcileWork } from '../jobs/reconcile-rollups.js';
import { startJobs, type Job } from '../jobs/scheduler.js';
import { COMPACT_MAX_SHARE, compactRollups, compactWork } from '../jobs/compact-rollups.js';
import { ROLLUP_TIERS, tierKeptFrom } from '../sql/datasets/rollups.js';
import { Metrics } from './metrics.js';
import type { EventSink } from '../ingest/writer.js';
import { BillingCloser, closeWork, type CloseOptions } from '../jobs/billing/close.js';
import type { ExportBucket } from '../jobs/billing/objects.js';
import { DEFAULT_CLOSE_STATEMENT_BOUNDS } from '../jobs/billing/lines.js';
import { Corrector } from '../ingest/corrections.js';
import { WebhookDispatcher } from '../jobs/billing/webhooks.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { Db } from '../sql/query.js';
import { ReadGate } from './read-gate.js';
import { ByteBudget } from './byte-budget.js';
import { AuditLog } from '../access/audit.js';
import { registerEngineMetrics } from './metrics/engine.js';
import { JobMetrics } from './metrics/jobs.js';
import { DEFAULT_TENANT } from '../jobs/billing/webhooks.js';
import { storageTable } from '../sql/engines.js';
import { TABLES } from '../sql/names.js';
import { LinkStore } from '../access/links.js';
import { MeterCache } from './meter-cache.js';
import { CustomerCache } from './customer-cache.js';
import { LinkTokens } from '../access/link-tokens.js';
import { linkSigningKey } from '../access/link-key.js';
import { sqlService } from './sql-service.js';
import { AlertEvaluator } from '../alerts/service.js';
import { AlertDispatcher } from '../alerts/delivery.js';

export interface Runtime {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  connection: Connection;
  /** Set on the first start of a data directory without METERHOUSE_API_KEY: shown once, never stored. */
  createdAdminKey?: string | undefined;
  /** Set on the first start without METERHOUSE_OPERATOR_KEY when no operator key exists: shown once, stored hashed. */
  createdOperatorKey?: string | undefined;
  /** The scheduled jobs (rollup reconciliation, period close) and webhook delivery; started by the server, not by tests. */
  jobs: Job[];
  startJobs(): void;
  /** Stop jobs, flush buffered events, then close the engine. */
  close(): Promise<void>;
}

/** Per PUT of an export file to S3. */
const EXPORT_UPLOAD_TIMEOUT_MS = 30_000;

/** The rollup compaction job (jobs/compact-rollups.ts) on its own engine connection. */
function compactJob(db: Db, config: Config, clock: Clock): Job {
  return {
    name: 'rollups.compact',
    cron: config.ROLLUP_COMPACT_CRON,
    maxShare: COMPACT_MAX_SHARE,
    run: () => compactRollups(db, { nowMs: clock.now(), settleSeconds: config.ROLLUP_COMPACT_SETTLE_SECONDS }).then(compactWork),
  };
}

/** Open the engine, apply migrations, bootstrap the default tenant and build the app. */
export interface RuntimeOptions extends Pick<CloseOptions, 'fault' | 'linesPerInsert'> {
  /** The product's clock (domain/clock.ts); tests set one at an instant. Default: the system clock. */
  clock?: Clock;
}

export async function startRuntime(config: Config, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  const { clock = systemClock, ...testHooks } = options;
  const connection = await connect(connectOptions(config));
  try {
    const { db } = connection;
    const applied = await migrate(db, { cluster: config.CLICKHOUSE_CLUSTER });
    if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    const retention = rollupRetention(config);
    // Before the longer TTL replaces the shorter: a crash in between leaves the marks for the next start to see.
    const grown = await grownRetention(db, retention, config.CLICKHOUSE_CLUSTER, clock.offsetMs);
    if (grown.length > 0) {
      await markRetentionGrown(db, grown, clock.now());
      logger.warn({ grown, retention }, 'rollup retention grew: reads take these tiers only where they were kept until a full reconciliation fills them');
    }
    const retentionChanged = await applyRollupRetention(db, retention, config.CLICKHOUSE_CLUSTER, clock.offsetMs);
    if (retentionChanged.length > 0) logger.info({ tables: retentionChanged, retention }, 'rollup retention applied');
    const tiers = new TierCoverage(db, retention, await readFilledFrom(db), (error) =>
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'rollup tiers being filled: could not read their marks again'),
    );
    const events = { hotDays: s3Storage(config) ? config.HOT_RETENTION_DAYS : undefined, rawDays: config.RAW_RETENTION_DAYS, clockOffsetMs: clock.offsetMs };
    const eventsChanged = await applyEventsRetention(db, events, config.CLICKHOUSE_CLUSTER);
    if (eventsChanged.length > 0) logger.info({ changed: eventsChanged, ...events }, 'usage_events storage and retention applied');
    if (config.METERS_FILE) logger.info(await loadMetersFile(db, config.METERS_FILE), 'meters file loaded');
    const access = createAccess(db, {
      cacheSeconds: config.API_KEY_CACHE_SECONDS,
      keyCache: { hitSeconds: config.API_KEY_CACHE_SECONDS, missSeconds: config.API_KEY_MISS_CACHE_SECONDS, missEntries: config.API_KEY_MISS_CACHE_ENTRIES },
      defaultLimits: defaultTenantLimits(config),
    });
    const { createdSecret, revokedEnvKey } = await access.keys.bootstrap(config.METERHOUSE_API_KEY);
    if (revokedEnvKey)
      logger.warn('METERHOUSE_API_KEY was revoked and stays revoked; to recover admin access set METERHOUSE_API_KEY to a new secret and restart');
    const { createdSecret: createdOperatorKey } = await access.operator.bootstrap(config.METERHOUSE_OPERATOR_KEY);
    const kafka = await startKafka(db, config, logger);
    let direct: DirectWriter | undefined;
    // A scrape's statements (dead letters, a freshness histogram over every row stored since the last scrape) on a connection of their own.
    const scrapeDb = connection.jobDb();
    const metrics = new Metrics(scrapeDb, logger, kafka?.admin, {
      maxTenantLabels: config.METRICS_TENANT_LABELS,
      queued: () => direct?.queued ?? 0,
      tiersFilling: () => tiers.filling,
    });
    const jobMetrics = new JobMetrics(metrics.registry, metrics.tenantRegistry, metrics.tenantLabels);
    // Each job on an engine connection of its own (embedded): a long job statement never holds API requests' statements on `db`.
    const alerts = new AlertEvaluator(
      connection.jobDb(),
      { graceMs: config.BILLING_GRACE_SECONDS * 1000, defaultCycle: billingSettings(config, clock).defaultCycle },
      clock,
      logger,
      () => alertWebhooks.kick(),
    );
    const writer: EventSink = kafka
      ? kafkaSink(db, config, kafka, metrics, logger)
      : (direct = new DirectWriter(
          db,
          {
            batchRows: config.WRITER_BATCH_ROWS,
            flushIntervalMs: config.WRITER_FLUSH_INTERVAL_MS,
            maxQueuedEvents: config.WRITER_MAX_QUEUED_EVENTS,
            onStored: (rows) => alerts.touched(rows),
          },
          (error, events) =>
            logger.error({ events, err: error instanceof Error ? error.message : String(error) }, 'ingest batch failed; nothing of it was acknowledged'),
        ));
    // Always running: any tenant can set its endpoint through the API.
    const webhookOptions = {
      defaultEndpoint:
        config.BILLING_WEBHOOK_URL && config.BILLING_WEBHOOK_SECRET ? { url: config.BILLING_WEBHOOK_URL, secret: config.BILLING_WEBHOOK_SECRET } : undefined,
      pollMs: config.BILLING_WEBHOOK_POLL_MS,
      backoffMs: config.BILLING_WEBHOOK_BACKOFF_MS,
      backoffMaxMs: config.BILLING_WEBHOOK_BACKOFF_MAX_MS,
      timeoutMs: config.BILLING_WEBHOOK_TIMEOUT_MS,
      onFailure: () => jobMetrics.webhookFailures.inc(),
    };
    const webhooks = new WebhookDispatcher(connection.jobDb(), webhookOptions, logger);
    const alertWebhooks = new AlertDispatcher(connection.jobDb(), webhookOptions, logger);
    const s3 = s3Storage(config);
    const exportBucket: ExportBucket | undefined = s3 && { ...s3, timeoutMs: EXPORT_UPLOAD_TIMEOUT_MS };
    const onUploadError = (tenantId: string, error: unknown) =>
      logger.warn({ tenantId, err: error instanceof Error ? error.message : String(error) }, 'billing export not copied to S3; the next close run retries');
    const onTenantClosed = (tenantId: string) => jobMetrics.tenantClosed(tenantId);
    const countedUploadError = (tenantId: string, error: unknown) => {
      jobMetrics.uploadFailures.inc();
      onUploadError(tenantId, error);
    };
    const closer = new BillingCloser(
      connection.jobDb(),
      {
        settings: billingSettings(config, clock),
        statements: { ...DEFAULT_CLOSE_STATEMENT_BOUNDS, groupBySpillBytes: config.BILLING_CLOSE_SPILL_BYTES },
        bucket: exportBucket,
        onUploadError: countedUploadError,
        onTenantClosed,
        ...testHooks,
      },
      () => webhooks.kick(),
    );
    await registerEngineMetrics(metrics.registry, {
      db: scrapeDb,
      logger,
      clockOffsetMs: clock.offsetMs,
      usageTables: [...new Set([TABLES.usageEvents, storageTable({ database: db.database, cluster: config.CLICKHOUSE_CLUSTER }, TABLES.usageEvents)])],
      rollupTables: ROLLUP_TIERS.map((t) => ({ tier: t.name, table: storageTable({ database: db.database, cluster: config.CLICKHOUSE_CLUSTER }, t.table) })),
      nowMs: () => clock.now(),
      webhookDefaultTenant: config.BILLING_WEBHOOK_URL && config.BILLING_WEBHOOK_SECRET ? DEFAULT_TENANT : '',
      bucket: exportBucket,
    });
    const limits = readLimits(config);
    const readers = connection.readClients.map((client) => ({ client, database: db.database, readLimits: limits }));
    const readGate = new ReadGate(readers, { maxQueued: config.READ_MAX_QUEUED, queueTimeoutMs: config.READ_QUEUE_TIMEOUT_MS });
    const ingestBudget = new ByteBudget(config.INGEST_MAX_INFLIGHT_BYTES);
    const signing = await linkSigningKey(config.PORTAL_SIGNING_KEY, config.DATA_DIR);
    if (signing.source === 'created') logger.info('dashboard link signing key created in DATA_DIR (several instances must share one: set PORTAL_SIGNING_KEY)');
    const links = new LinkStore(db, new LinkTokens(signing.key), () => clock.now(), config.API_KEY_CACHE_SECONDS);
    const audit = new AuditLog(db);
    const sql = await sqlService(connection, config, access);
    const deps: AppDeps = {
      db,
      writer,
      readGate,
      ingestBudget,
      access,
      config,
      logger,
      metrics,
      closer,
      exportBucket,
      clock,
      corrector: new Corrector(db, config.CLICKHOUSE_CLUSTER, () => tierKeptFrom(retention, clock.now())),
      audit,
      links,
      sql,
      alerts,
      meters: new MeterCache(db, config.API_KEY_CACHE_SECONDS),
      customers: new CustomerCache(db, config.API_KEY_CACHE_SECONDS),
      tiers,
    };
    const reconcileDb = connection.jobDb();
    const jobs: Job[] = [
      {
        name: 'rollups.reconcile',
        cron: config.ROLLUP_RECONCILE_CRON,
        maxShare: config.ROLLUP_RECONCILE_MAX_SHARE,
        run: () =>
          reconcileRollups(reconcileDb, {
            cluster: config.CLICKHOUSE_CLUSTER,
            settleMs: config.ROLLUP_RECONCILE_SETTLE_SECONDS * 1000,
            clockOffsetMs: clock.offsetMs,
            retention,
          })
            .then(async (r) => {
              // A full pass may have filled a tier whose retention grew: reads take it again at once.
              if (tiers.pending) await tiers.refresh();
              return r;
            })
            .then((r) => reconcileWork(jobMetrics.reconciled(r))),
      },
      { name: 'billing.close', cron: config.BILLING_CLOSE_CRON, run: () => closer.run().then((r) => closeWork(jobMetrics.closed(r))) },
      { name: 'alerts.sweep', cron: config.ALERTS_SWEEP_CRON, run: () => alerts.sweep() },
      // One node's parts only: on a cluster each shard's replicas keep their own (not run there).
      ...(config.CLICKHOUSE_CLUSTER ? [] : [compactJob(connection.jobDb(), config, clock)]),
    ].map((job) => jobMetrics.instrument(job));
    let scheduler: { stop(): Promise<void> } | undefined;
    return {
      app: createApp(deps),
      deps,
      connection,
      createdAdminKey: createdSecret,
      createdOperatorKey,
      jobs,
      startJobs() {
        scheduler ??= startJobs(jobs, logger);
        webhooks.start();
        alerts.start();
        alertWebhooks.start();
      },
      async close() {
        await scheduler?.stop();
        await webhooks.stop();
        await writer.close();
        await alerts.stop();
        await alertWebhooks.stop();
        await kafka?.admin.close();
        await connection.close();
      },
    };
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}
