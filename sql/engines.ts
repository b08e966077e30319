import { assertIdentifier } from './names.js';

/**
 * Where DDL is rendered for. One source renders both a single node and a
 * cluster (ON CLUSTER, Replicated* engines, Distributed read/write tables).
 */
export interface RenderTarget {
  database: string;
  /** Cluster name from the server's remote_servers; absent on a single node. */
  cluster?: string | undefined;
}

export type MergeTreeKind = 'MergeTree' | 'ReplacingMergeTree' | 'AggregatingMergeTree' | 'SummingMergeTree';

export function onCluster(t: RenderTarget): string {
  return t.cluster ? ` ON CLUSTER ${assertIdentifier('cluster', t.cluster)}` : '';
}

export function qualified(t: RenderTarget, table: string): string {
  return `${assertIdentifier('database', t.database)}.${table}`;
}

/**
 * Sharded tables hold one shard's rows; small reference tables (tenants, keys)
 * are replicated whole to every node so each node can answer them locally.
 */
export type Distribution = { kind: 'sharded'; shardingKey: string } | { kind: 'everywhere' };

/** The name of the table that physically stores rows (`sharded_<t>` on a cluster). */
export function storageTable(t: RenderTarget, table: string, kind: Distribution['kind'] = 'sharded'): string {
  return t.cluster && kind === 'sharded' ? `sharded_${table}` : table;
}

export function mergeTreeEngine(t: RenderTarget, kind: MergeTreeKind, table: string, dist: Distribution, args: string[] = []): string {
  if (!t.cluster) return `${kind}(${args.join(', ')})`;
  const shard = dist.kind === 'sharded' ? '{shard}' : 'all';
  const zkPath = `'/clickhouse/tables/${shard}/${t.database}.${storageTable(t, table, dist.kind)}'`;
  return `Replicated${kind}(${[zkPath, "'{replica}'", ...args].join(', ')})`;
}

export interface TableSpec {
  table: string;
  columns: string;
  engine: MergeTreeKind;
  engineArgs?: string[];
  dist: Distribution;
  /** Everything after ENGINE = ...: PARTITION BY, ORDER BY, TTL, SETTINGS. */
  tail: string;
}

/**
 * CREATE statements for one table: on a single node the table itself; on a
 * cluster for a sharded dataset, the sharded storage table plus a Distributed
 * table under the plain name that reads and writes across shards.
 */
export function createTable(t: RenderTarget, spec: TableSpec): string[] {
  const store = storageTable(t, spec.table, spec.dist.kind);
  const engine = mergeTreeEngine(t, spec.engine, spec.table, spec.dist, spec.engineArgs);
  const statements = [`CREATE TABLE IF NOT EXISTS ${qualified(t, store)}${onCluster(t)}\n(\n${spec.columns}\n)\nENGINE = ${engine}\n${spec.tail}`];
  if (t.cluster && spec.dist.kind === 'sharded') {
    statements.push(
      `CREATE TABLE IF NOT EXISTS ${qualified(t, spec.table)}${onCluster(t)} AS ${qualified(t, store)}\n` +
        `ENGINE = Distributed(${t.cluster}, ${t.database}, ${store}, ${spec.dist.shardingKey})`,
    );
  }
  return statements;
}

/**
 * A materialized view from one table of ours into another. On a cluster both
 * ends are the sharded storage tables: each shard rolls up its own rows, and
 * the Distributed table over the target sums across shards at read time.
 */
export function createMaterializedView(t: RenderTarget, spec: { name: string; to: string; from: string; select: (source: string) => string }): string {
  const to = qualified(t, storageTable(t, spec.to));
  const from = qualified(t, storageTable(t, spec.from));
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(t, spec.name)}${onCluster(t)} TO ${to}\nAS ${spec.select(from)}`;
}
