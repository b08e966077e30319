import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TABLES, mvName } from './names.js';
import { onCluster, qualified, type RenderTarget } from './engines.js';
import { defineQuery, execute, type Db } from './query.js';
import { kafkaSourceDdl, validationViewsDdl, type KafkaSourceOptions, type ValidatedSelect } from './datasets/kafka-ingest.js';

/**
 * The Kafka chain's views and engine table depend on configuration (brokers,
 * topic, group, consumers, skew), so they are not numbered migrations: at
 * start-up they are made to match the configuration. The Kafka table's COMMENT
 * carries a fingerprint of the whole rendered chain; when it differs, the
 * chain is rebuilt. Offsets live in Kafka under the consumer group, so a
 * rebuilt chain resumes where the old one committed.
 */
export type PipelineChange = 'unchanged' | 'created' | 'rebuilt' | 'removed' | 'absent';

// In the order they are dropped: consumption first, the table the routing views read last.
const CHAIN = [
  mvName(TABLES.usageEventsIncoming),
  TABLES.kafkaUsageEvents,
  mvName(TABLES.usageEventsValidated),
  mvName(TABLES.usageEvents),
  mvName(TABLES.usageDeadLetters),
  TABLES.usageEventsValidated,
] as const;
const CHAIN_TABLES: ReadonlySet<string> = new Set([TABLES.kafkaUsageEvents, TABLES.usageEventsValidated]);

const chainState = defineQuery({
  name: 'kafka.chain_state',
  params: z.object({ database: z.string(), names: z.array(z.string()) }),
  row: z.object({ name: z.string(), comment: z.string() }),
  sql: () => `SELECT name, comment FROM system.tables WHERE database = {database:String} AND name IN {names:Array(String)}`,
});

function fingerprintOf(t: RenderTarget, source: KafkaSourceOptions, validation: ValidatedSelect): string {
  const rendered = [...validationViewsDdl(t, validation), ...kafkaSourceDdl(t, source, '')].join('\n');
  return `meterhouse chain ${createHash('sha256').update(rendered).digest('hex').slice(0, 16)}`;
}

async function dropChain(db: Db, t: RenderTarget): Promise<void> {
  // Consumption stops first (the view that reads the Kafka table), then the rest.
  for (const name of CHAIN) {
    const kind = CHAIN_TABLES.has(name) ? 'TABLE' : 'VIEW';
    await execute(db, 'kafka.drop_chain', `DROP ${kind} IF EXISTS ${qualified(t, name)}${onCluster(t)} SYNC`);
  }
}

/** Make the Kafka chain match `source` (absent: no Kafka, the chain is removed). */
export async function ensureKafkaPipeline(
  db: Db,
  t: RenderTarget,
  source: KafkaSourceOptions | undefined,
  validation: ValidatedSelect,
): Promise<PipelineChange> {
  const existing = await chainState(db, { database: t.database, names: [...CHAIN] });
  if (!source) {
    if (existing.length === 0) return 'absent';
    await dropChain(db, t);
    return 'removed';
  }
  const fingerprint = fingerprintOf(t, source, validation);
  const kafkaTable = existing.find((r) => r.name === TABLES.kafkaUsageEvents);
  if (existing.length === CHAIN.length && kafkaTable?.comment === fingerprint) return 'unchanged';
  if (existing.length > 0) await dropChain(db, t);
  // Validation and routing first, consumption last: see sql/datasets/kafka-ingest.ts.
  for (const statement of [...validationViewsDdl(t, validation), ...kafkaSourceDdl(t, source, fingerprint)]) {
    await execute(db, 'kafka.create_chain', statement);
  }
  return existing.length > 0 ? 'rebuilt' : 'created';
}
