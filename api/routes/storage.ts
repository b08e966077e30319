import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { needs } from '../route-scopes.js';
import { TABLES } from '../../sql/names.js';
import { storageTable } from '../../sql/engines.js';
import { COLD_DISK } from '../../sql/tiering.js';
import { oldestHotPartition, partsByDisk, tablePolicy } from '../../sql/queries/storage.js';

const sizes = { rows: z.number().int(), bytes: z.number().int(), parts: z.number().int() };

const storageView = z
  .object({
    tables: z.array(z.object({ table: z.string(), disk: z.string(), ...sizes })),
    usageEvents: z.object({
      table: z.string(),
      storagePolicy: z.string(),
      hotRetentionDays: z.number().int().nullable().openapi({ description: 'Days of event time before parts move to S3; null without S3' }),
      rawRetentionDays: z.number().int().nullable().openapi({ description: 'Days of event time before raw events are deleted; null: never' }),
    }),
    oldestHotPartition: z
      .object({ table: z.string(), partition: z.string(), ...sizes })
      .nullable()
      .openapi({ description: 'The oldest usage_events partition (YYYYMM of event time) with parts still on the local disk' }),
  })
  .openapi('Storage');

const storageRoute = createRoute({
  method: 'get',
  path: '/v1/operator/storage',
  summary: 'Where the data lives (operator): parts, rows and bytes per table and disk, across all tenants',
  security: needs('operator'),
  responses: {
    200: { description: 'Storage by table and disk', content: { 'application/json': { schema: storageView } } },
  },
});

export function storageRoutes({ config }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(storageRoute, async (c) => {
    const db = c.get('reader');
    const { database } = db;
    // On a cluster the parts belong to the sharded table, and these are the answering node's.
    const table = storageTable({ database, cluster: config.CLICKHOUSE_CLUSTER }, TABLES.usageEvents);
    // Totals across tenants: the operator's, never a tenant admin's (they would show other tenants' volumes).
    const tags = { route: 'operator.storage', requestId: c.get('requestId') };
    const tables = await partsByDisk(db, { database }, tags);
    const [oldest] = await oldestHotPartition(db, { database, table, coldDisk: COLD_DISK }, tags);
    const [policy] = await tablePolicy(db, { database, table }, tags);
    const tiered = config.S3_ENDPOINT !== undefined;
    return c.json(
      {
        tables,
        usageEvents: {
          table,
          storagePolicy: policy?.policy ?? 'default',
          hotRetentionDays: tiered ? config.HOT_RETENTION_DAYS : null,
          rawRetentionDays: config.RAW_RETENTION_DAYS ?? null,
        },
        oldestHotPartition: oldest ? { table, ...oldest } : null,
      },
      200,
    );
  });
  return app;
}
