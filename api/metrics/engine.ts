import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../../sql/query.js';
import type { Logger } from '../logger.js';
import { engineNowMs, freshnessBuckets, uploadBacklog, usageEventsBacklog, usageEventsParts, webhookBacklog } from '../../sql/queries/observability.js';
import { readWatermark } from '../../sql/queries/reconcile.js';
import { splitPartitions } from '../../sql/queries/compaction.js';
import { monthPartition } from '../../jobs/compact-rollups.js';
import { BucketHistogram } from './bucket-histogram.js';

/** Seconds from API receipt (ingested_at) to stored (stored_at): sub-second for the direct writer, Kafka adds its consumer's poll. */
export const FRESHNESS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

export interface EngineMetricSources {
  db: Db;
  logger: Logger;
  /** The product clock's offset from the engine's (domain/clock.ts): ingested_at is product time, stored_at engine time. */
  clockOffsetMs: number;
  /** usage_events and, on a cluster, its shard table (system.parts names the local table). */
  usageTables: string[];
  /** Each rollup tier's table as system.parts names it (on a cluster, this node's shard table). */
  rollupTables: { tier: string; table: string }[];
  /** The product clock (domain/clock.ts): which months are past. */
  nowMs: () => number;
  /** The tenant BILLING_WEBHOOK_URL serves ('' when unset). */
  webhookDefaultTenant: string;
  /** Where exports are copied, when S3 is configured. */
  bucket?: { bucket: string; prefix: string } | undefined;
}

/**
 * Gauges and histograms read from the engine when Prometheus scrapes: nothing
 * in the write path, so ingest is not slowed by observing it. A read that
 * fails is logged and the series keeps its last value (a scrape never fails
 * on one of them). No tenant labels: operator-wide totals.
 */
export async function registerEngineMetrics(registry: Registry, s: EngineMetricSources): Promise<void> {
  const { db, logger } = s;
  const tags = { job: 'metrics' };
  const guarded = (what: string, read: (this: Gauge) => Promise<void>) =>
    async function collect(this: Gauge) {
      try {
        await read.call(this);
      } catch (error) {
        logger.warn({ err: error instanceof Error ? error.message : String(error) }, `metrics: ${what} unavailable`);
      }
    };
  const registers = [registry];

  // Counted from this process's start: a restart resets it, as it does every counter.
  let sinceMs = (await engineNowMs(db, {}, tags))[0]!.nowMs;
  const freshness: BucketHistogram = new BucketHistogram(
    'meterhouse_freshness_stored_seconds',
    'Seconds from receipt (ingested_at) to stored in usage_events (stored_at), per stored row; the rollup views write in the same insert, so this is also the time to visible in the rollups',
    FRESHNESS_BUCKETS,
    registry,
    guarded('freshness', async () => {
      const rows = await freshnessBuckets(db, { sinceMs, offsetMs: s.clockOffsetMs, bounds: FRESHNESS_BUCKETS }, tags);
      // arrayFirstIndex is 1-based and 0 when no bound holds the value (+Inf).
      for (const r of rows) freshness.add(r.bucket === 0 ? FRESHNESS_BUCKETS.length : r.bucket - 1, r.rows, r.seconds);
      if (rows[0]) sinceMs = rows[0].untilMs;
    }),
  );

  new Gauge({
    name: 'meterhouse_rollups_reconciled_until_timestamp_seconds',
    help: 'Rollups are known exact for rows stored before this instant (the reconciliation watermark); 0 before the first run',
    registers,
    collect: guarded('reconcile watermark', async function (this: Gauge) {
      this.set((await readWatermark(db)) / 1000);
    }),
  });

  // Partitions are months of event time: at most RAW_RETENTION_DAYS / 28 + 1 label values.
  const parts = new Gauge({
    name: 'meterhouse_usage_events_parts',
    help: 'Active parts of usage_events per partition (month); many small parts mean merges lag behind inserts',
    labelNames: ['partition'] as const,
    registers,
  });
  const rows = new Gauge({ name: 'meterhouse_usage_events_rows', help: 'Rows in active parts of usage_events (before dedupe)', registers });
  const bytes = new Gauge({ name: 'meterhouse_usage_events_bytes', help: 'Bytes on disk of active parts of usage_events', registers });
  new Gauge({
    name: 'meterhouse_usage_events_partitions',
    help: 'Partitions of usage_events',
    registers,
    collect: guarded('usage_events parts', async function (this: Gauge) {
      const found = await usageEventsParts(db, { database: db.database, tables: s.usageTables }, tags);
      parts.reset();
      for (const p of found) parts.set({ partition: p.partition }, p.parts);
      rows.set(found.reduce((n, p) => n + p.rows, 0));
      bytes.set(found.reduce((n, p) => n + p.bytes, 0));
      this.set(found.length);
    }),
  });
  const mutations = new Gauge({
    name: 'meterhouse_usage_events_mutations_pending',
    help: 'Mutations (lightweight deletes, TTL moves) of usage_events not done yet',
    registers,
  });
  new Gauge({
    name: 'meterhouse_usage_events_merges_running',
    help: 'Merges of usage_events in progress',
    registers,
    collect: guarded('usage_events merges', async function (this: Gauge) {
      const [b] = await usageEventsBacklog(db, { database: db.database, tables: s.usageTables }, tags);
      this.set(b?.merges ?? 0);
      mutations.set(b?.mutations ?? 0);
    }),
  });

  // One series per tier: how many past months the rollups.compact job (jobs/compact-rollups.ts) has still to merge.
  new Gauge({
    name: 'meterhouse_rollup_months_split',
    help: 'Past months (before the current UTC month) of each rollup tier held in more than one part: the rollups.compact backlog, settled or not; each part of a month adds to every read of it',
    labelNames: ['tier'] as const,
    registers,
    collect: guarded('rollup parts', async function (this: Gauge) {
      const tables = s.rollupTables.map((t) => t.table);
      const split = await splitPartitions(db, tables, monthPartition(s.nowMs()), 0, '', tags);
      for (const { tier, table } of s.rollupTables) this.set({ tier }, split.filter((p) => p.table === table).length);
    }),
  });

  new Gauge({
    name: 'meterhouse_webhook_backlog',
    help: "Exports not yet acknowledged by their tenant's webhook endpoint",
    registers,
    collect: guarded('webhook backlog', async function (this: Gauge) {
      this.set((await webhookBacklog(db, { defaultTenant: s.webhookDefaultTenant }, tags))[0]?.pending ?? 0);
    }),
  });
  const bucket = s.bucket;
  new Gauge({
    name: 'meterhouse_export_upload_backlog',
    help: 'Exports whose files are not yet in the S3 bucket (the next close run uploads them); 0 without S3',
    registers,
    collect: guarded('upload backlog', async function (this: Gauge) {
      this.set(bucket ? ((await uploadBacklog(db, { bucket: bucket.bucket, keyPrefix: bucket.prefix }, tags))[0]?.pending ?? 0) : 0);
    }),
  });
}
