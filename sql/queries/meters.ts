import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db } from '../query.js';
import { NO_CONTROL_CHARS } from '../control-chars.js';

export const AGGREGATIONS = ['SUM', 'COUNT', 'UNIQUE_COUNT', 'MIN', 'MAX', 'AVG', 'LATEST', 'P50', 'P90', 'P95', 'P99'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Whether the API gives this aggregation's values as integers (counts); every other value is an exact decimal string or null. */
export const countsAsInteger = (aggregation: Aggregation): boolean => aggregation === 'COUNT' || aggregation === 'UNIQUE_COUNT';

const dimensionKey = z.string().min(1).max(128).regex(NO_CONTROL_CHARS, 'must not contain control characters');

/** A meter: an aggregation over one metric's events, optionally filtered, groupable by dimensions. */
export const meterDefinition = z
  .strictObject({
    key: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 of a-z 0-9 _ - (starting with a letter or digit)'),
    name: z.string().max(200).optional(),
    metricName: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'is not a valid metric name'),
    aggregation: z.enum(AGGREGATIONS),
    uniqueDimension: dimensionKey.optional(),
    groupBy: z.array(dimensionKey).max(10).default([]),
    filter: z
      .record(dimensionKey, z.array(z.string().max(1024)).min(1).max(100))
      .refine((f) => Object.keys(f).length <= 10, 'may restrict at most 10 dimensions')
      .default({}),
    billable: z.boolean().default(true),
  })
  .superRefine((m, ctx) => {
    if (m.aggregation === 'UNIQUE_COUNT' && !m.uniqueDimension) {
      ctx.addIssue({ code: 'custom', path: ['uniqueDimension'], message: 'is required for UNIQUE_COUNT' });
    }
    if (m.aggregation !== 'UNIQUE_COUNT' && m.uniqueDimension) {
      ctx.addIssue({ code: 'custom', path: ['uniqueDimension'], message: 'applies to UNIQUE_COUNT only' });
    }
    if (m.groupBy.includes('customerId')) {
      ctx.addIssue({ code: 'custom', path: ['groupBy'], message: 'customerId is always groupable; list dimensions only' });
    }
  });
export type MeterDefinition = z.infer<typeof meterDefinition>;

export interface Meter extends MeterDefinition {
  createdAt: string;
  updatedAt: string;
}

/** A stored meter's definition alone, without its timestamps. */
export function definitionOf(meter: Meter): MeterDefinition {
  const { createdAt, updatedAt, ...definition } = meter;
  void createdAt;
  void updatedAt;
  return definition;
}

const storedRow = z.object({ definition: z.string(), createdAt: z.string(), updatedAt: z.string(), isDeleted: z.coerce.number() });

function toMeter(row: z.infer<typeof storedRow>): Meter {
  return { ...meterDefinition.parse(JSON.parse(row.definition)), createdAt: row.createdAt, updatedAt: row.updatedAt };
}

const columns = `definition, created_at AS createdAt, updated_at AS updatedAt, is_deleted AS isDeleted`;

// FINAL: a change is a newer version of the row; the latest one decides, including deletion.
const meterRows = defineQuery({
  name: 'meters.list',
  params: z.object({ tenantId: z.string() }),
  row: storedRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.meters} FINAL WHERE tenant_id = {tenantId:String} ORDER BY meter_key`,
});

const meterRow = defineQuery({
  name: 'meters.get',
  params: z.object({ tenantId: z.string(), key: z.string() }),
  row: storedRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.meters} FINAL WHERE tenant_id = {tenantId:String} AND meter_key = {key:String}`,
});

export async function listMeters(db: Db, tenantId: string): Promise<Meter[]> {
  return (await meterRows(db, { tenantId }, { tenantId })).filter((r) => r.isDeleted === 0).map(toMeter);
}

export async function getMeter(db: Db, tenantId: string, key: string): Promise<Meter | undefined> {
  const [row] = await meterRow(db, { tenantId, key }, { tenantId });
  return row && row.isDeleted === 0 ? toMeter(row) : undefined;
}

/** Write a meter's definition (create or replace), keeping its creation time; returns it as stored. */
export async function saveMeter(db: Db, tenantId: string, definition: MeterDefinition, createdAt?: string): Promise<Meter> {
  const now = Date.now();
  const created = createdAt ? Date.parse(createdAt) : now;
  await insertRows(
    db,
    'meters.save',
    TABLES.meters,
    [
      {
        tenant_id: tenantId,
        meter_key: definition.key,
        definition: JSON.stringify(definition),
        created_at: created,
        updated_at: now,
        is_deleted: 0,
        version: nextVersion(),
      },
    ],
    { tenantId },
  );
  return { ...definition, createdAt: new Date(created).toISOString(), updatedAt: new Date(now).toISOString() };
}

export async function deleteMeter(db: Db, tenantId: string, meter: Meter): Promise<void> {
  await insertRows(
    db,
    'meters.delete',
    TABLES.meters,
    [
      {
        tenant_id: tenantId,
        meter_key: meter.key,
        definition: JSON.stringify(definitionOf(meter)),
        created_at: Date.parse(meter.createdAt),
        updated_at: Date.now(),
        is_deleted: 1,
        version: nextVersion(),
      },
    ],
    { tenantId },
  );
}
