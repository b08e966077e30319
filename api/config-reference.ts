import { z } from 'zod';
import { configSchema } from './config.js';

/**
 * What each setting means, grouped for the reader. The defaults, ranges and
 * allowed values come from the config schema itself (renderConfigReference),
 * so docs/configuration.md cannot drift from what startup accepts; a test
 * fails when a setting has no entry here or the file is not current.
 */
export const CONFIG_GROUPS: ReadonlyArray<{ title: string; settings: Record<string, string> }> = [
  {
    title: 'Server and engine',
    settings: {
      PORT: 'HTTP port (`0` picks a free one)',
      HOST: 'HTTP bind address',
      DATA_DIR: 'embedded engine data directory (one process per directory); also holds generated secrets',
      CLICKHOUSE_URL: 'set to use a ClickHouse server (`http(s)://host:8123`) instead of the embedded engine',
      CLICKHOUSE_USER: 'ClickHouse server user',
      CLICKHOUSE_PASSWORD: 'ClickHouse server password (never logged)',
      CLICKHOUSE_DATABASE: 'database holding all tables',
      CLICKHOUSE_CLUSTER: 'cluster name: DDL `ON CLUSTER`, Replicated engines, Distributed tables',
      CLICKHOUSE_REQUEST_TIMEOUT_MS: 'ClickHouse server request timeout',
      ENGINE_MAX_MEMORY_BYTES: 'embedded engine memory limit',
      ENGINE_MARK_CACHE_BYTES: 'embedded engine mark cache',
      ENGINE_BACKGROUND_POOL_SIZE: 'embedded engine merge threads',
      ENGINE_MERGE_NICE:
        'Linux nice value of the embedded engine merge threads (0: as every other thread; higher: merges yield the CPU to inserts and reads when both want it, and use what is idle)',
      ENGINE_FSYNC: 'fsync each inserted part before acknowledging',
      LOG_LEVEL:
        'log level; logs are JSON lines. At `info`: every request except passing `/healthz` and `/readyz` probes (those are `debug`), and each job run that did work (exports written, rollup windows checked and rewritten, export uploads retried); runs with nothing to do are `debug`',
      METRICS_TENANT_LABELS:
        'tenants that get their own `tenant` label on `/metrics` (operator scrapes only); later tenants share `_other` (docs/operations.md)',
    },
  },
  {
    title: 'Keys, tenants and per-tenant limits',
    settings: {
      METERHOUSE_API_KEY: 'admin key of tenant `default` (at least 24 printable characters)',
      METERHOUSE_OPERATOR_KEY: 'the operator credential (not the admin key); generated and printed once when unset',
      API_KEY_CACHE_SECONDS: 'how long a resolved key, a tenant state, a meter definition (for usage reads) and a customer record (for dashboards) are cached',
      API_KEY_MISS_CACHE_SECONDS: 'how long an unknown key is refused without an engine lookup',
      API_KEY_MISS_CACHE_ENTRIES: 'how many unknown keys are remembered',
      TENANT_INGEST_EVENTS_PER_SECOND: "per-tenant ingest rate, unless the operator set the tenant's own",
      TENANT_CONCURRENT_READS: "per-tenant reads at once, unless the operator set the tenant's own",
      READ_MAX_EXECUTION_SECONDS: 'engine time of one read (per-tenant default)',
      READ_MAX_ROWS_TO_READ: 'rows one read may scan (per-tenant default)',
      READ_MAX_MEMORY_BYTES: 'engine memory of one read (per-tenant default)',
    },
  },
  {
    title: 'Ingest',
    settings: {
      MAX_EVENTS_PER_REQUEST: 'events per `POST /v1/events`',
      MAX_BODY_BYTES: 'request body size',
      MAX_FUTURE_SKEW_SECONDS: 'how far in the future an event time may be',
      WRITER_BATCH_ROWS:
        'events per insert, at most: a batch takes what is queued when the previous one is under way, so larger batches form only under load (where they cost the engine less per event: fewer parts to write and merge)',
      WRITER_FLUSH_INTERVAL_MS: 'longest wait before a partial batch is written',
      WRITER_MAX_QUEUED_EVENTS: 'events buffered or in flight; beyond it ingest answers 503',
      INGEST_MAX_INFLIGHT_BYTES: 'ingest body bytes in flight, all requests together; beyond, 503 `ingest_busy`',
    },
  },
  {
    title: 'Reads and HTTP',
    settings: {
      READ_MAX_RESULT_ROWS: 'rows of one engine answer',
      READ_MAX_RESULT_BYTES: 'bytes of one engine answer',
      READ_MAX_THREADS: 'engine threads of one read',
      READ_OS_THREAD_PRIORITY:
        "OS niceness of an API read's engine threads: by default below ingest (0), above the embedded engine's merges (ENGINE_MERGE_NICE) and the background jobs' reads (19)",
      READ_MAX_PAGE_ROWS: 'rows (windows x groups) of one meter usage page',
      READ_MAX_CONCURRENT: 'reads at once (one read connection each; raise it in server mode)',
      READ_MAX_QUEUED: 'reads waiting for a connection; beyond, 429',
      READ_QUEUE_TIMEOUT_MS: 'how long a read waits for a connection; beyond, 429',
      HTTP_HEADERS_TIMEOUT_MS: 'slow request headers are cut off after this',
      HTTP_REQUEST_TIMEOUT_MS: 'a request (with its body) is cut off after this',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 'an idle keep-alive connection is closed after this',
    },
  },
  {
    title: 'Meters and rollups',
    settings: {
      METERS_FILE: 'JSON file of meter definitions loaded at start',
      ROLLUP_MINUTE_RETENTION_DAYS:
        'how long minute rollups are kept (0 = forever); older events write no minute rows; once raised, reads take the tier only where it holds every window until the full reconciliation the server starts fills it (docs/storage.md)',
      ROLLUP_HOUR_RETENTION_DAYS: 'how long hour rollups are kept (0 = forever); older events write no hour rows; raised: as for minute rollups',
      ROLLUP_DAY_RETENTION_DAYS: 'how long day rollups are kept (0 = forever); older events write no day rows; raised: as for minute rollups',
      ROLLUP_RECONCILE_CRON: 'schedule of rollup reconciliation (croner, seconds field allowed; an invalid or never-firing pattern stops startup)',
      ROLLUP_RECONCILE_MAX_SHARE:
        'the most of the time reconciliation may run: after a run of d seconds it skips its schedule for d x (1 / share - 1) seconds, so during a large backfill (each run re-reads every touched hour) it cannot take the engine from ingest; reads stay exact meanwhile (windows not yet reconciled are read from raw events)',
      ROLLUP_RECONCILE_SETTLE_SECONDS:
        'an hour is compared with the raw events only once no row has been stored into it for this long (an insert makes its raw rows visible before its rollup rows, so an hour still receiving rows would look stale and be rewritten for nothing); hours still receiving rows are left to a later run, except the last 2 hours of event time (live usage), compared on every run',
      ROLLUP_COMPACT_CRON:
        'schedule of rollup compaction: each run merges one past month of a rollup tier held in several parts into one (croner; not run with CLICKHOUSE_CLUSTER)',
      ROLLUP_COMPACT_SETTLE_SECONDS:
        'a past month is merged only once none of its parts has been written for this long (engine time): a month still receiving late events or rewrites is left until it settles',
    },
  },
  {
    title: 'Kafka',
    settings: {
      KAFKA_BROKERS: '`host:port[,...]`: ingest through Kafka (API produces, ClickHouse consumes)',
      KAFKA_ENGINE_BROKERS: 'the brokers as ClickHouse reaches them, if its network differs (default: `KAFKA_BROKERS`)',
      KAFKA_TOPIC: 'topic of usage events',
      KAFKA_CONSUMER_GROUP: "ClickHouse's consumer group",
      KAFKA_CLIENT_ID: 'KafkaJS client id',
      KAFKA_TOPIC_PARTITIONS: 'partitions when meterhouse creates a missing topic',
      KAFKA_TOPIC_REPLICATION: 'replication factor when meterhouse creates a missing topic',
      KAFKA_CONSUMERS: '`kafka_num_consumers` per ClickHouse server; more than one: each on a thread of its own (`kafka_thread_per_consumer`)',
      KAFKA_POLL_MAX_MESSAGES: '`kafka_max_block_size`: messages per block written',
      KAFKA_FLUSH_INTERVAL_MS: '`kafka_flush_interval_ms`: longest wait before a partial block is written',
      KAFKA_POLL_TIMEOUT_MS: '`kafka_poll_timeout_ms`',
      KAFKA_PRODUCE_TIMEOUT_MS: "longest an API request waits for the broker's acknowledgement before 503",
      KAFKA_SESSION_TIMEOUT_MS: "embedded engine: consumer session timeout (a dead consumer's partitions move after it)",
    },
  },
  {
    title: 'Customer dashboards',
    settings: {
      PUBLIC_URL: 'the origin dashboard links point to (e.g. `https://usage.example.com`); default: the address the request came to',
      PORTAL_SIGNING_KEY: 'signing key of dashboard links; every instance of one deployment must share it (unset: generated into `DATA_DIR` on first start)',
      PORTAL_FRAME_ANCESTORS: 'space-separated origins allowed to embed the page in an iframe (CSP `frame-ancestors`; unset: none)',
      PORTAL_REQUESTS_PER_SECOND: 'requests per second one dashboard link may make',
    },
  },
  {
    title: 'Tiered storage and retention',
    settings: {
      S3_ENDPOINT: 'S3 endpoint URL, `http(s)://host:port` (path-style addressing); all five of endpoint, bucket, key id, secret and region, or none',
      S3_BUCKET: 'bucket for cold parts and billing exports (must exist)',
      S3_ACCESS_KEY_ID: 'S3 access key id',
      S3_SECRET_ACCESS_KEY: 'S3 secret (never logged)',
      S3_REGION: 'signing region, e.g. `us-east-1`',
      S3_PREFIX: 'key prefix inside the bucket; parts go under `<prefix>parts/`, billing exports under `<prefix>exports/`',
      S3_RETRY_ATTEMPTS: 'attempts per S3 request in the engine',
      S3_CONNECT_TIMEOUT_MS: "timeout of the start-up probe and of the engine's S3 connects",
      HOT_RETENTION_DAYS: 'days of event time before `usage_events` parts move to S3',
      RAW_RETENTION_DAYS: 'days of event time before raw events are deleted (unset: never); at least 31 + grace days + 7',
    },
  },
  {
    title: 'Analyst SQL (docs/sql.md)',
    settings: {
      SQL_MAX_EXECUTION_SECONDS: 'engine time of one analyst query (per-tenant default)',
      SQL_MAX_ROWS_TO_READ: 'rows one analyst query may read (per-tenant default)',
      SQL_MAX_BYTES_TO_READ: 'bytes one analyst query may read (per-tenant default)',
      SQL_MAX_MEMORY_BYTES: 'engine memory of one analyst query (per-tenant default)',
      SQL_MAX_RESULT_ROWS: 'rows of one answer: json is cut there (`truncated: true`), other formats fail past it (per-tenant default)',
      SQL_CONCURRENT_QUERIES: 'analyst queries of one tenant at once; beyond, 429 (per-tenant default)',
      SQL_MAX_RESULT_BYTES: 'bytes of one answer; beyond, 422',
      SQL_MAX_QUERY_BYTES: 'length of the query text',
      SQL_MAX_CONCURRENT: "analyst connections (queries at once, all tenants), apart from ingest's and the API reads'",
      SQL_MAX_QUEUED: 'analyst queries waiting for a connection; beyond, 429',
      SQL_OS_THREAD_PRIORITY: "OS niceness of an analyst query's engine threads: by default the lowest, below ingest, API reads and merges",
      CLICKHOUSE_ANALYST_USER: 'server mode: the readonly user analyst queries run as (docs/sql.md renders it); default: CLICKHOUSE_USER',
      CLICKHOUSE_ANALYST_PASSWORD: 'its password (never logged)',
    },
  },
  {
    title: 'Billing',
    settings: {
      BILLING_CLOSE_CRON: 'schedule of the close job (checked by croner at startup)',
      BILLING_GRACE_SECONDS: 'a period closes once `periodEnd + grace` has passed',
      BILLING_CUTOFF_LAG_MS: "how far the cutoff trails the run's start (inserts in flight)",
      BILLING_CLOSE_SPILL_BYTES:
        "engine memory a close statement's grouping holds before it spills to disk (the data directory's `tmp`, or the server's); bounds a close run's memory whatever a tenant's size",
      BILLING_DEFAULT_TIMEZONE: 'billing time zone of customers without a record',
      BILLING_DEFAULT_INTERVAL: 'billing interval of customers without a record',
      BILLING_DEFAULT_ANCHOR_DAY: 'anchor day of customers without a record (1-28 for months, ISO weekday 1-7 for weeks)',
      BILLING_WEBHOOK_URL: "where to announce tenant `default`'s exports (other tenants: `PUT /v1/webhooks`)",
      BILLING_WEBHOOK_SECRET: 'signing secret of those deliveries (required with the URL; never logged)',
      BILLING_WEBHOOK_POLL_MS: 'how often the webhook outbox is read (a close also triggers delivery at once)',
      BILLING_WEBHOOK_BACKOFF_MS: 'first retry delay of a failed delivery',
      BILLING_WEBHOOK_BACKOFF_MAX_MS: 'longest retry delay',
      BILLING_WEBHOOK_TIMEOUT_MS: 'per-delivery timeout',
      ALERTS_SWEEP_CRON:
        'schedule of the sweep of every usage alert rule (each ingest flush also evaluates the customers it touched); crossings are delivered with the `BILLING_WEBHOOK_*` settings',
    },
  },
];

type FieldSchema = z.ZodType;

/** Default as startup applies it: parsing "not set" gives the default, undefined (optional) or an error (required). */
function defaultOf(field: FieldSchema): string {
  const parsed = field.safeParse(undefined);
  if (!parsed.success) return 'required';
  if (parsed.data === undefined) return 'unset';
  if (parsed.data === '') return 'empty';
  return `\`${String(parsed.data)}\``;
}

/** What values startup accepts, from the schema's JSON Schema view. */
function acceptedOf(field: FieldSchema): string {
  const json = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  // z.stringbool(): its JSON Schema view is a plain string.
  if (typeof field.safeParse('true').data === 'boolean') return 'boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`)';
  if (Array.isArray(json.enum)) return json.enum.map((v) => `\`${String(v)}\``).join(', ');
  if (json.type === 'integer') return `integer ${String(json.minimum)} to ${String(json.maximum)}`;
  if (json.format === 'uri') return 'URL';
  const parts = ['text'];
  if (typeof json.minLength === 'number') parts.push(`${json.minLength}+ characters`);
  if (typeof json.maxLength === 'number') parts.push(`at most ${json.maxLength}`);
  return parts.join(', ');
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');

/** docs/configuration.md, generated (npm run docs:config). */
export function renderConfigReference(): string {
  const shape = configSchema.shape as Record<string, FieldSchema>;
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schema (api/config.ts, api/config-reference.ts) by `npm run docs:config`; api/config-reference.test.ts fails when it is not current. -->',
    '',
    'Environment variables, parsed once at start. An invalid value stops startup (exit 2) with a',
    'message naming the variable; secrets are never echoed. Settings that must agree with each',
    'other (all S3 settings or none; retention against the grace period; the webhook URL with its',
    'secret) are checked together.',
  ];
  for (const group of CONFIG_GROUPS) {
    lines.push('', `## ${group.title}`, '', '| variable | default | accepts | meaning |', '| --- | --- | --- | --- |');
    for (const [name, meaning] of Object.entries(group.settings)) {
      const field = shape[name];
      if (field === undefined) throw new Error(`config reference names ${name}, which the config schema does not have`);
      lines.push(`| \`${name}\` | ${escapeCell(defaultOf(field))} | ${escapeCell(acceptedOf(field))} | ${escapeCell(meaning)} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Settings the schema has that the reference does not describe. */
export function undocumentedSettings(): string[] {
  const described = new Set(CONFIG_GROUPS.flatMap((g) => Object.keys(g.settings)));
  return Object.keys(configSchema.shape).filter((name) => !described.has(name));
}
