import { z } from 'zod';
import { LONGEST_PERIOD_DAYS, RETENTION_MARGIN_DAYS, maxEventAgeMs, minimumRawRetentionDays } from '../domain/retention.js';
import { isTimeZone, TIME_ZONE_MESSAGE } from './usage/time-zones.js';
import { Cron } from 'croner';
import { LIMIT_RANGES, type TenantLimits } from '../access/limits.js';
import type { TierRetention } from '../sql/datasets/rollups.js';
import type { BillingCycle } from '../jobs/billing/periods.js';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const BROKER_LIST = /^[A-Za-z0-9.-]+:\d{1,5}(,[A-Za-z0-9.-]+:\d{1,5})*$/;
const KAFKA_NAME = /^[A-Za-z0-9._-]{1,249}$/;
/** A CSP frame-ancestors source: 'self' or a scheme and host (a leading *. allowed), optional port. */
const FRAME_SOURCE = /^(?:'self'|https?:\/\/(?:\*\.)?[A-Za-z0-9.-]+(?::\d{1,5})?)$/;

const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
/** A per-tenant limit's default, in the range the operator's overrides take too. */
const limit = (name: keyof TenantLimits, fallback: number) => int(LIMIT_RANGES[name].min, LIMIT_RANGES[name].max, fallback);
const secret = (name: string) =>
  z
    .string()
    .min(24, 'must be at least 24 characters')
    .max(256)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .describe(name);

/**
 * A croner schedule, checked by croner itself so a typo stops startup here,
 * before anything is created, instead of crashing when the jobs start. A
 * pattern that can never fire (30 February) is refused too: a job that
 * silently never runs is worse than no start.
 */
const cronPattern = (fallback: string) =>
  z
    .string()
    .min(1)
    .default(fallback)
    .superRefine((pattern, ctx) => {
      let next: Date | null;
      try {
        // No callback: croner parses the pattern and schedules nothing.
        next = new Cron(pattern).nextRun();
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `is not a valid cron pattern (${error instanceof Error ? error.message : String(error)}); e.g. "0 * * * * *" (seconds minutes hours day-of-month month day-of-week)`,
        });
        return;
      }
      if (next === null) ctx.addIssue({ code: 'custom', message: 'is a cron pattern that never fires' });
    });

/** The settings that switch tiered storage on; one given means all are needed. */
export const S3_REQUIRED = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_REGION'] as const;

/** Every environment variable meterhouse reads, with its default. Parsed once, at boot. */
export const configSchema = z
  .object({
    PORT: int(0, 65535, 8080),
    HOST: z.string().min(1).default('0.0.0.0'),
    DATA_DIR: z.string().min(1).default('./data'),
    CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }).optional(),
    CLICKHOUSE_USER: z.string().default('default'),
    CLICKHOUSE_PASSWORD: z.string().default(''),
    CLICKHOUSE_DATABASE: z.string().regex(IDENTIFIER, 'must be a plain identifier').default('meterhouse'),
    CLICKHOUSE_CLUSTER: z.string().regex(IDENTIFIER, 'must be a plain identifier').optional(),
    CLICKHOUSE_REQUEST_TIMEOUT_MS: int(1000, 3_600_000, 60_000),
    METERHOUSE_API_KEY: secret("the default tenant's admin key").optional(),
    // The operator credential (/v1/operator/...); generated and printed once at first start when not set.
    METERHOUSE_OPERATOR_KEY: secret('the operator credential').optional(),
    MAX_EVENTS_PER_REQUEST: int(1, 1_000_000, 10_000),
    MAX_BODY_BYTES: int(1024, 1024 * MiB, 10 * MiB),
    MAX_FUTURE_SKEW_SECONDS: int(0, 7 * 86_400, 300),
    WRITER_BATCH_ROWS: int(1, 1_000_000, 25_000),
    WRITER_FLUSH_INTERVAL_MS: int(0, 60_000, 20),
    WRITER_MAX_QUEUED_EVENTS: int(1, 10_000_000, 200_000),
    ENGINE_MAX_MEMORY_BYTES: int(256 * MiB, 1024 * GiB, 8 * GiB),
    ENGINE_MARK_CACHE_BYTES: int(16 * MiB, 64 * GiB, 512 * MiB),
    ENGINE_BACKGROUND_POOL_SIZE: int(1, 64, 4),
    ENGINE_MERGE_NICE: int(0, 19, 10),
    ENGINE_FSYNC: z.stringbool().default(true),
    API_KEY_CACHE_SECONDS: int(0, 3600, 5),
    // Per-tenant limits (docs/access.md): these defaults, unless the operator set the tenant's own.
    TENANT_INGEST_EVENTS_PER_SECOND: limit('ingestEventsPerSecond', 100_000),
    TENANT_CONCURRENT_READS: limit('concurrentReads', 8),
    READ_MAX_EXECUTION_SECONDS: limit('readMaxExecutionSeconds', 20),
    READ_MAX_ROWS_TO_READ: limit('readMaxRowsToRead', 200_000_000),
    READ_MAX_MEMORY_BYTES: limit('readMaxMemoryBytes', 1 * GiB),
    // Analyst SQL (docs/sql.md): per-tenant defaults, then the analyst connection and answer bounds.
    SQL_MAX_EXECUTION_SECONDS: limit('sqlMaxExecutionSeconds', 30),
    SQL_MAX_ROWS_TO_READ: limit('sqlMaxRowsToRead', 1_000_000_000),
    SQL_MAX_BYTES_TO_READ: limit('sqlMaxBytesToRead', 100 * GiB),
    SQL_MAX_MEMORY_BYTES: limit('sqlMaxMemoryBytes', 1 * GiB),
    SQL_MAX_RESULT_ROWS: limit('sqlMaxResultRows', 100_000),
    SQL_CONCURRENT_QUERIES: limit('sqlConcurrentQueries', 2),
    SQL_MAX_RESULT_BYTES: int(1 * MiB, 4 * GiB, 64 * MiB),
    SQL_MAX_QUERY_BYTES: int(1024, 1 * MiB, 64 * 1024),
    SQL_MAX_CONCURRENT: int(1, 64, 1),
    SQL_MAX_QUEUED: int(0, 10_000, 16),
    SQL_OS_THREAD_PRIORITY: int(0, 19, 19),
    CLICKHOUSE_ANALYST_USER: z.string().min(1).optional(),
    CLICKHOUSE_ANALYST_PASSWORD: z.string().default(''),
    API_KEY_MISS_CACHE_SECONDS: int(0, 3600, 5),
    API_KEY_MISS_CACHE_ENTRIES: int(1, 10_000_000, 10_000),
    // Reads (docs/api.md, "Limits"): every API read runs on its own engine connection with these limits.
    READ_MAX_RESULT_ROWS: int(10_001, 100_000_000, 100_000),
    READ_MAX_RESULT_BYTES: int(1 * MiB, 16 * GiB, 64 * MiB),
    READ_MAX_THREADS: int(1, 256, 1),
    READ_OS_THREAD_PRIORITY: int(0, 19, 5),
    READ_MAX_PAGE_ROWS: int(10_000, 10_000_000, 10_000),
    // Embedded: chdb runs parameterized statements one at a time per process, so more concurrent reads only queue there.
    READ_MAX_CONCURRENT: int(1, 64, 1),
    READ_MAX_QUEUED: int(0, 100_000, 32),
    READ_QUEUE_TIMEOUT_MS: int(0, 600_000, 10_000),
    // HTTP server (docs/api.md, "Limits"): slow clients are cut off.
    HTTP_HEADERS_TIMEOUT_MS: int(100, 600_000, 10_000),
    HTTP_REQUEST_TIMEOUT_MS: int(100, 3_600_000, 60_000),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: int(100, 600_000, 5_000),
    INGEST_MAX_INFLIGHT_BYTES: int(1024, 64 * GiB, 64 * MiB),
    ROLLUP_MINUTE_RETENTION_DAYS: int(0, 100_000, 14),
    ROLLUP_HOUR_RETENTION_DAYS: int(0, 100_000, 400),
    ROLLUP_DAY_RETENTION_DAYS: int(0, 100_000, 0),
    ROLLUP_RECONCILE_CRON: cronPattern('*/30 * * * * *'),
    ROLLUP_RECONCILE_MAX_SHARE: z.coerce.number().gt(0).max(1).default(0.25),
    // At most jobs/reconcile-rollups.ts RECONCILE_OVERLAP_MS (120 s): a window left for later must be newer than the next watermark.
    ROLLUP_RECONCILE_SETTLE_SECONDS: int(0, 120, 60),
    ROLLUP_COMPACT_CRON: cronPattern('0 */5 * * * *'),
    ROLLUP_COMPACT_SETTLE_SECONDS: int(0, 86_400, 600),
    METERS_FILE: z.string().min(1).optional(),
    KAFKA_BROKERS: z.string().regex(BROKER_LIST, 'must be host:port[,host:port...]').optional(),
    KAFKA_ENGINE_BROKERS: z.string().regex(BROKER_LIST, 'must be host:port[,host:port...]').optional(),
    KAFKA_TOPIC: z.string().regex(KAFKA_NAME, 'must be 1-249 letters, digits, . _ -').default('usage_events'),
    KAFKA_CONSUMER_GROUP: z.string().regex(KAFKA_NAME, 'must be 1-249 letters, digits, . _ -').default('meterhouse'),
    KAFKA_CLIENT_ID: z.string().regex(KAFKA_NAME, 'must be 1-249 letters, digits, . _ -').default('meterhouse'),
    KAFKA_TOPIC_PARTITIONS: int(1, 10_000, 12),
    KAFKA_TOPIC_REPLICATION: int(1, 16, 1),
    KAFKA_CONSUMERS: int(1, 64, 1),
    KAFKA_POLL_MAX_MESSAGES: int(1, 1_000_000, 65_536),
    KAFKA_FLUSH_INTERVAL_MS: int(50, 60_000, 500),
    KAFKA_POLL_TIMEOUT_MS: int(50, 60_000, 500),
    KAFKA_PRODUCE_TIMEOUT_MS: int(100, 120_000, 5000),
    KAFKA_SESSION_TIMEOUT_MS: int(1000, 300_000, 10_000),
    // Tiered storage (all five S3_* together, or none) and raw-event retention.
    S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    S3_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)')
      .optional(),
    S3_ACCESS_KEY_ID: z.string().min(1).max(256).optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).max(1024).optional(),
    S3_REGION: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/, 'must be a region name such as us-east-1')
      .optional(),
    S3_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'must be empty or path segments (letters, digits, . _ -) each ending in /')
      .default('meterhouse/'),
    S3_RETRY_ATTEMPTS: int(0, 100, 3),
    S3_CONNECT_TIMEOUT_MS: int(100, 60_000, 2000),
    HOT_RETENTION_DAYS: int(1, 100_000, 30),
    RAW_RETENTION_DAYS: z.coerce.number().int().min(1).max(100_000).optional(),
    /** Tenants with their own `tenant` label on /metrics (operator scrapes); later tenants share `_other`. */
    METRICS_TENANT_LABELS: int(0, 10_000, 100),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    // Billing (issue 5): see docs/billing.md.
    BILLING_CLOSE_CRON: cronPattern('0 * * * * *'),
    BILLING_GRACE_SECONDS: int(0, 366 * 86_400, 86_400),
    BILLING_CUTOFF_LAG_MS: int(0, 600_000, 5_000),
    BILLING_CLOSE_SPILL_BYTES: int(16 * MiB, 1024 * GiB, 512 * MiB),
    BILLING_DEFAULT_TIMEZONE: z.string().min(1).max(64).refine(isTimeZone, TIME_ZONE_MESSAGE).default('UTC'),
    BILLING_DEFAULT_INTERVAL: z.enum(['month', 'week', 'day']).default('month'),
    BILLING_DEFAULT_ANCHOR_DAY: int(1, 28, 1),
    BILLING_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    BILLING_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
    BILLING_WEBHOOK_POLL_MS: int(10, 3_600_000, 2_000),
    BILLING_WEBHOOK_BACKOFF_MS: int(1, 3_600_000, 1_000),
    BILLING_WEBHOOK_BACKOFF_MAX_MS: int(1, 86_400_000, 600_000),
    BILLING_WEBHOOK_TIMEOUT_MS: int(100, 600_000, 10_000),
    // Customer dashboards (docs/portal.md): who may frame the page, the public address links point to, the links' signing key.
    PORTAL_FRAME_ANCESTORS: z
      .string()
      .default('')
      .transform((s) => s.split(/\s+/).filter((x) => x !== ''))
      .pipe(z.array(z.string().regex(FRAME_SOURCE, "each entry must be 'self' or an origin such as https://app.example.com or https://*.example.com")).max(32)),
    PUBLIC_URL: z
      .url({ protocol: /^https?$/ })
      .refine(
        (u) => URL.canParse(u) && new URL(u).pathname === '/' && !u.includes('?') && !u.includes('#'),
        'must be an origin such as https://usage.example.com (no path)',
      )
      .optional(),
    PORTAL_SIGNING_KEY: secret("the dashboard links' signing key").optional(),
    PORTAL_REQUESTS_PER_SECOND: int(1, 10_000, 20),
    /** Usage alerts: the sweep of every rule (the flush hook evaluates touched customers sooner); deliveries reuse BILLING_WEBHOOK_*. */
    ALERTS_SWEEP_CRON: cronPattern('0 * * * * *'),
  })
  .refine((c) => !c.BILLING_WEBHOOK_URL || c.BILLING_WEBHOOK_SECRET, {
    path: ['BILLING_WEBHOOK_SECRET'],
    message: 'is required when BILLING_WEBHOOK_URL is set (deliveries are signed)',
  })
  .refine((c) => c.METERHOUSE_OPERATOR_KEY === undefined || c.METERHOUSE_OPERATOR_KEY !== c.METERHOUSE_API_KEY, {
    path: ['METERHOUSE_OPERATOR_KEY'],
    message: "must differ from METERHOUSE_API_KEY (one secret cannot be both a tenant key and the operator's)",
  })
  .refine((c) => c.BILLING_DEFAULT_INTERVAL === 'month' || c.BILLING_DEFAULT_ANCHOR_DAY <= 7, {
    path: ['BILLING_DEFAULT_ANCHOR_DAY'],
    message: 'must be 1-7 (ISO weekday, 1 = Monday) for weekly cycles',
  })
  .refine((c) => c.WRITER_MAX_QUEUED_EVENTS >= c.MAX_EVENTS_PER_REQUEST, {
    path: ['WRITER_MAX_QUEUED_EVENTS'],
    message: 'must be at least MAX_EVENTS_PER_REQUEST (a full request must fit the ingest buffer)',
  })
  .refine((c) => c.READ_MAX_PAGE_ROWS < c.READ_MAX_RESULT_ROWS, {
    path: ['READ_MAX_PAGE_ROWS'],
    message: 'must be less than READ_MAX_RESULT_ROWS (a page is one engine answer)',
  })
  .refine((c) => c.INGEST_MAX_INFLIGHT_BYTES >= c.MAX_BODY_BYTES, {
    path: ['INGEST_MAX_INFLIGHT_BYTES'],
    message: 'must be at least MAX_BODY_BYTES (a full body must fit the in-flight budget)',
  })
  .refine((c) => c.HTTP_REQUEST_TIMEOUT_MS >= c.HTTP_HEADERS_TIMEOUT_MS, {
    path: ['HTTP_REQUEST_TIMEOUT_MS'],
    message: 'must be at least HTTP_HEADERS_TIMEOUT_MS',
  })
  .superRefine((c, ctx) => {
    const missing = S3_REQUIRED.filter((name) => c[name] === undefined);
    if (missing.length > 0 && missing.length < S3_REQUIRED.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['S3'],
        message: `S3 settings go together: missing ${missing.join(', ')} (set all of ${S3_REQUIRED.join(', ')}, or none)`,
      });
    }
    if (missing.length === 0 && c.RAW_RETENTION_DAYS !== undefined && c.RAW_RETENTION_DAYS <= c.HOT_RETENTION_DAYS) {
      ctx.addIssue({
        code: 'custom',
        path: ['RAW_RETENTION_DAYS'],
        message: 'must be greater than HOT_RETENTION_DAYS (events are deleted only after they moved to S3)',
      });
    }
    const minimum = minimumRawRetentionDays(c.BILLING_GRACE_SECONDS * 1000);
    if (c.RAW_RETENTION_DAYS !== undefined && c.RAW_RETENTION_DAYS < minimum) {
      ctx.addIssue({
        code: 'custom',
        path: ['RAW_RETENTION_DAYS'],
        message: `must be at least ${minimum} days: the longest billing period (${LONGEST_PERIOD_DAYS} days) plus BILLING_GRACE_SECONDS (${Math.ceil(c.BILLING_GRACE_SECONDS / 86_400)} days) plus a ${RETENTION_MARGIN_DAYS}-day margin, so that no event of a period that is not yet exported is ever deleted`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Every tenant's limits where the operator set none. */
/** How far from its receive time an event's timestamp may lie: the same bounds on the HTTP path, in replays and in the Kafka views. */
/** The billing cycle of a customer without a record. */
export function defaultCycle(c: Config): BillingCycle {
  return { timezone: c.BILLING_DEFAULT_TIMEZONE, interval: c.BILLING_DEFAULT_INTERVAL, anchorDay: c.BILLING_DEFAULT_ANCHOR_DAY };
}

export function eventTimeBounds(c: Config): { maxFutureSkewMs: number; maxAgeMs: number | undefined } {
  return { maxFutureSkewMs: c.MAX_FUTURE_SKEW_SECONDS * 1000, maxAgeMs: maxEventAgeMs(c.RAW_RETENTION_DAYS) };
}

/** Days each rollup tier keeps (0: forever): applied as TTLs at startup, read by the source choice and the reconciler. */
export function rollupRetention(config: Config): TierRetention {
  return { minute: config.ROLLUP_MINUTE_RETENTION_DAYS, hour: config.ROLLUP_HOUR_RETENTION_DAYS, day: config.ROLLUP_DAY_RETENTION_DAYS };
}

export function defaultTenantLimits(c: Config): TenantLimits {
  return {
    ingestEventsPerSecond: c.TENANT_INGEST_EVENTS_PER_SECOND,
    concurrentReads: c.TENANT_CONCURRENT_READS,
    readMaxExecutionSeconds: c.READ_MAX_EXECUTION_SECONDS,
    readMaxRowsToRead: c.READ_MAX_ROWS_TO_READ,
    readMaxMemoryBytes: c.READ_MAX_MEMORY_BYTES,
    sqlMaxExecutionSeconds: c.SQL_MAX_EXECUTION_SECONDS,
    sqlMaxRowsToRead: c.SQL_MAX_ROWS_TO_READ,
    sqlMaxBytesToRead: c.SQL_MAX_BYTES_TO_READ,
    sqlMaxMemoryBytes: c.SQL_MAX_MEMORY_BYTES,
    sqlMaxResultRows: c.SQL_MAX_RESULT_ROWS,
    sqlConcurrentQueries: c.SQL_CONCURRENT_QUERIES,
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parse the environment; an invalid value names its variable. Secrets are never echoed. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
