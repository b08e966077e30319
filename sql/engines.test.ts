import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from './migrations.js';
import { migrationsDdl } from './datasets/tenancy.js';
import type { RenderTarget } from './engines.js';

const single: RenderTarget = { database: 'meterhouse' };
const cluster: RenderTarget = { database: 'meterhouse', cluster: 'main' };

const render = (t: RenderTarget) => [...migrationsDdl(t), ...MIGRATIONS.flatMap((m) => m.statements(t))].join(';\n\n');

describe('DDL rendering from one source', () => {
  it('renders a single node', () => {
    const ddl = render(single);
    expect(ddl).not.toMatch(/ON CLUSTER|Replicated|Distributed/);
    expect(ddl).toMatchSnapshot();
  });

  it('renders a cluster: ON CLUSTER, Replicated engines, Distributed over sharded storage', () => {
    const ddl = render(cluster);
    const creates = ddl.split(';\n\n');
    expect(creates.filter((s) => !s.startsWith('INSERT INTO')).every((s) => s.includes(' ON CLUSTER main'))).toBe(true);
    expect(ddl).toContain('ALTER TABLE meterhouse.sharded_usage_events ON CLUSTER main ADD COLUMN IF NOT EXISTS is_deleted UInt8 DEFAULT 0');
    expect(ddl).toContain("ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/meterhouse.sharded_usage_events', '{replica}', version)");
    expect(ddl).toContain('ENGINE = Distributed(main, meterhouse, sharded_usage_events, cityHash64(tenant_id, event_id))');
    // reference tables are replicated whole, not sharded
    expect(ddl).toContain("'/clickhouse/tables/all/meterhouse.api_keys'");
    // each shard rolls up its own rows: MVs read and write the sharded storage tables
    expect(ddl).toContain('CREATE MATERIALIZED VIEW IF NOT EXISTS meterhouse.usage_per_hour_mv ON CLUSTER main TO meterhouse.sharded_usage_per_hour');
    expect(ddl).toMatch(/FROM meterhouse\.sharded_usage_events\nGROUP BY/);
    expect(ddl).toMatchSnapshot();
  });

  it('keeps every statement idempotent and migrations numbered in order', () => {
    for (const s of render(cluster).split(';\n\n')) {
      if (s.startsWith('ALTER TABLE')) {
        // Only additive column changes, each guarded; or a sum widened to Decimal(76, 9) and the view that
        // computes it (idempotent: a column modified to its own type, a view to its own query, stays as it is).
        // A projection: added if missing, its parts built (a mutation that only adds projection parts), kept on merges and deletes.
        if (/ MODIFY QUERY\n/.test(s)) expect(s).toMatch(/^ALTER TABLE \S+_mv( ON CLUSTER \w+)? MODIFY QUERY\nSELECT /);
        else if (/ PROJECTION /.test(s)) expect(s).toMatch(/ (ADD PROJECTION IF NOT EXISTS \w+ \(\nSELECT [^]*\)|MATERIALIZE PROJECTION \w+)$/);
        // Or the merge selector's base on a table every event is written to (migration 28): a setting, no data changed.
        else if (/ MODIFY SETTING /.test(s))
          expect(s).toMatch(
            / MODIFY SETTING (deduplicate_merge_projection_mode = 'rebuild', lightweight_mutation_projection_mode = 'rebuild'|merge_selector_base = 10)$/,
          );
        // A codec change (migration 24): every clause re-states its column's type and default, then the codec.
        else if (/ CODEC\(/.test(s))
          for (const clause of s.split('\n').slice(1)) expect(clause).toMatch(/^ {4}MODIFY COLUMN \w+ .*\S CODEC\((T64, )?ZSTD\(1\)\),?$/);
        else if (/ MODIFY COLUMN /.test(s)) expect(s).toMatch(/ MODIFY COLUMN \w+ (SimpleAggregateFunction\(sum, Decimal\(76, 9\)\)|Decimal\(76, 9\))$/);
        // Migration 26: the rollups' LATEST state converted into its keyed column (rows whose old state holds
        // an event, waited for), then the old column dropped, once the views no longer write it. The only drop.
        else if (/ UPDATE /.test(s))
          expect(s).toMatch(
            /^ALTER TABLE \S+( ON CLUSTER \w+)? UPDATE latest_key = arrayReduce\('argMaxState', .* WHERE startsWith\(CAST\(latest, 'String'\), unhex\('01'\)\) SETTINGS mutations_sync = 2$/,
          );
        else if (/ DROP /.test(s)) expect(s).toMatch(/^ALTER TABLE \S+( ON CLUSTER \w+)? DROP COLUMN IF EXISTS latest$/);
        else expect(s).toMatch(/ ADD COLUMN IF NOT EXISTS /);
        expect(s).not.toMatch(/ADD COLUMN (?!IF NOT EXISTS)|DROP (?!COLUMN IF EXISTS latest$)|RENAME/);
      } else if (s.startsWith('INSERT')) {
        expect(s).toMatch(/^INSERT INTO \S+ \(.*\) SELECT .* FROM \S+$/);
      } else expect(s).toMatch(/^CREATE (TABLE|DATABASE|MATERIALIZED VIEW) IF NOT EXISTS /);
    }
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('puts the tenant first in the key of every tenant table', () => {
    for (const s of render(single).split(';\n\n')) {
      // Not tenant tables: bookkeeping, the Kafka Null table, and dead letters (keyed by their place in
      // the log, because a malformed message may name no tenant at all; reads filter by tenant).
      // operator_keys belong to the operator, who is no tenant.
      if (!s.startsWith('CREATE TABLE') || /schema_migrations|rollup_reconcile_state|usage_events_incoming|usage_dead_letters|operator_keys/.test(s)) continue;
      expect(s).toMatch(/ORDER BY \(?tenant_id/);
    }
  });
});
