import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery } from '../query.js';

const ms = z.coerce.number().int();

/** meterhouse's tables and their row counts as the engine keeps them (views and Kafka tables have none). */
export const tableRows = defineQuery({
  name: 'status.tables',
  params: z.object({ database: z.string() }),
  row: z.object({ table: z.string(), engine: z.string(), rows: ms.nullable() }),
  sql: () => `SELECT name AS table, engine, total_rows AS rows FROM system.tables WHERE database = {database:String} ORDER BY name`,
});

/** Each tenant's latest export. FINAL: an export written twice is one row. */
export const lastExports = defineQuery({
  name: 'status.last_exports',
  params: z.object({}),
  row: z.object({ tenantId: z.string(), sequence: ms, createdAt: z.string(), cutoff: z.string(), checksum: z.string() }),
  sql: (db) => `SELECT tenant_id AS tenantId, sequence, created_at AS createdAt, cutoff, checksum
FROM ${db}.${TABLES.billingExports} FINAL ORDER BY tenant_id, sequence DESC LIMIT 1 BY tenant_id`,
});
