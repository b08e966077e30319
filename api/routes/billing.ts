import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError, errorSchema } from '../errors.js';
import { needs } from '../route-scopes.js';
import { limitParam, jsonOf } from '../params.js';
import {
  CONTENT_TYPES,
  FILE_FORMATS,
  exportById,
  exportFile,
  exportObjectsStored,
  listExports,
  manifestRow,
  sha256,
  type ExportManifest,
  type FileFormat,
} from '../../sql/queries/exports.js';
import { exportObjectKeys } from '../../jobs/billing/objects.js';
import { count } from '../../sql/count.js';
import type { Db } from '../../sql/query.js';
import { verifyExports } from '../../access/export-chain.js';
import { actorOf } from './audit.js';

const manifestSchema = manifestRow
  .extend({
    objectKey: z
      .string()
      .optional()
      .openapi({ description: "With S3 configured: key of the export's JSONL object in S3_BUCKET (lines.csv, lines.parquet and manifest.json sit beside it)" }),
    objectStoredAt: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: 'With S3 configured: when the objects were written; null until then (S3 down at the close: a later run uploads them)' }),
  })
  .openapi('ExportManifest');
const lineSchema = z
  .object({
    customerId: z.string(),
    meterKey: z.string(),
    periodStart: z.string(),
    periodEnd: z.string(),
    kind: z.enum(['usage', 'adjustment']),
    value: z.string().openapi({ description: 'Exact decimal: the period value (usage) or the change to what was exported (adjustment)' }),
    events: count, // a JSON integer here; the JSONL file quotes it (see sql/count.ts)
  })
  .openapi('ExportLine');

const idParam = z.object({ id: z.string().min(1).max(64) });
const notFound = { description: 'No such export in this tenant', content: jsonOf(errorSchema) };

const routes = {
  close: createRoute({
    method: 'post',
    path: '/v1/billing/close',
    summary: 'Run the period close now for this tenant (billing:write); returns the exports it wrote',
    security: needs('billing:write'),
    responses: {
      200: { description: 'Exports written by this run (none when nothing closed or changed)', content: jsonOf(z.object({ data: z.array(manifestSchema) })) },
    },
  }),
  list: createRoute({
    method: 'get',
    path: '/v1/billing/exports',
    summary: 'The export feed, in sequence order',
    security: needs('billing:read'),
    request: { query: z.object({ afterSequence: z.coerce.number().int().min(0).default(0), limit: limitParam(100, 1000) }) },
    responses: { 200: { description: 'Exports after afterSequence', content: jsonOf(z.object({ data: z.array(manifestSchema) })) } },
  }),
  verify: createRoute({
    method: 'get',
    path: '/v1/billing/exports/verify',
    summary:
      'Recompute the export ledger: each checksum from its lines, each previousChecksum from the export before; names the first export that does not fit',
    security: needs('billing:read'),
    responses: {
      200: {
        description: 'The result (ok: false with firstBad when the ledger is broken)',
        content: jsonOf(
          z
            .object({
              ok: z.boolean(),
              exports: z.number().int(),
              head: z.object({ sequence: z.number().int(), checksum: z.string() }).nullable(),
              firstBad: z.object({ id: z.string(), sequence: z.number().int(), reason: z.string() }).optional(),
            })
            .openapi('ExportLedgerVerification'),
        ),
      },
    },
  }),
  get: createRoute({
    method: 'get',
    path: '/v1/billing/exports/{id}',
    summary: 'An export: its manifest and lines',
    security: needs('billing:read'),
    request: { params: idParam },
    responses: { 200: { description: 'Manifest and lines', content: jsonOf(manifestSchema.extend({ lines: z.array(lineSchema) })) }, 404: notFound },
  }),
  lines: createRoute({
    method: 'get',
    path: '/v1/billing/exports/{id}/lines',
    summary: "An export's lines as a file written by the engine; X-Checksum-Sha256 is the SHA-256 of the bytes served",
    security: needs('billing:read'),
    request: { params: idParam, query: z.object({ format: z.enum(Object.keys(FILE_FORMATS) as [FileFormat, ...FileFormat[]]).default('jsonl') }) },
    responses: {
      200: {
        description: 'The file (JSONL bytes are exactly those the manifest checksum covers)',
        content: {
          'application/x-ndjson': { schema: z.string() },
          'text/csv': { schema: z.string() },
          'application/vnd.apache.parquet': { schema: z.string().openapi({ format: 'binary' }) },
        },
      },
      404: notFound,
    },
  }),
};

export function billingRoutes({ db, closer, exportBucket, audit }: AppDeps) {
  /** With S3 configured, say where each export's objects are and whether they are written yet. */
  const withObjects = async <M extends ExportManifest>(
    db: Db,
    tenantId: string,
    ms: M[],
  ): Promise<(M & { objectKey?: string; objectStoredAt?: string | null })[]> => {
    if (!exportBucket || ms.length === 0) return ms;
    const stored = new Map(
      (
        await exportObjectsStored(
          db,
          { tenantId, bucket: exportBucket.bucket, keyPrefix: exportBucket.prefix, sequences: ms.map((m) => m.sequence) },
          { tenantId },
        )
      ).map((r) => [r.sequence, r.storedAt]),
    );
    return ms.map((m) => ({
      ...m,
      objectKey: exportObjectKeys(exportBucket.prefix, tenantId, m.sequence).jsonl,
      objectStoredAt: stored.get(m.sequence) ?? null,
    }));
  };
  const app = new OpenAPIHono<AppEnv>();
  const found = async (db: Db, tenantId: string, id: string) => {
    const [m] = await exportById(db, { tenantId, id }, { tenantId });
    if (!m) throw new ApiError(404, 'not_found', `no export "${id}" in this tenant`);
    return m;
  };

  app.openapi(routes.close, async (c) => {
    const { tenantId } = c.get('principal');
    const { exports } = await closer.run(tenantId);
    if (exports.length > 0)
      await audit.record(actorOf(c), 'billing.closed', { after: exports.map((m) => ({ id: m.id, sequence: m.sequence, checksum: m.checksum })) });
    return c.json(
      {
        data: await withObjects(
          db,
          tenantId,
          exports.map(({ tenantId: _, ...m }) => m),
        ),
      },
      200,
    );
  });

  app.openapi(routes.list, async (c) => {
    const { tenantId } = c.get('principal');
    const q = c.req.valid('query');
    return c.json(
      {
        data: await withObjects(
          c.get('reader'),
          tenantId,
          await listExports(c.get('reader'), { tenantId, afterSequence: q.afterSequence, limit: q.limit }, { tenantId, route: 'GET /v1/billing/exports' }),
        ),
      },
      200,
    );
  });

  // Registered before /exports/{id}, which would otherwise take "verify" for an id.
  app.openapi(routes.verify, async (c) => c.json(await verifyExports(c.get('reader'), c.get('principal').tenantId), 200));

  app.openapi(routes.get, async (c) => {
    const { tenantId } = c.get('principal');
    const reader = c.get('reader');
    const m = await found(reader, tenantId, c.req.valid('param').id);
    const jsonl = (await exportFile(reader, tenantId, m.sequence, 'jsonl', { tenantId })).toString('utf8');
    const lines = jsonl
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => lineSchema.parse(JSON.parse(l)));
    return c.json({ ...(await withObjects(reader, tenantId, [m]))[0]!, lines }, 200);
  });

  app.openapi(routes.lines, async (c) => {
    const { tenantId } = c.get('principal');
    const reader = c.get('reader');
    const m = await found(reader, tenantId, c.req.valid('param').id);
    const format = c.req.valid('query').format;
    const bytes = await exportFile(reader, tenantId, m.sequence, format, { tenantId, route: 'GET /v1/billing/exports/{id}/lines' });
    c.header('content-type', CONTENT_TYPES[format]);
    c.header('content-disposition', `attachment; filename="export-${m.sequence}.${format}"`);
    c.header('x-checksum-sha256', sha256(bytes));
    return c.body(new Uint8Array(bytes), 200) as never;
  });
  return app;
}
