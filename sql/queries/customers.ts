import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineCount, defineQuery, insertRows, nextVersion, runQuery, countRows, type Db, type QueryTags } from '../query.js';

export const customerRow = z.object({
  customerId: z.string(),
  name: z.string(),
  timezone: z.string(),
  interval: z.enum(['month', 'week', 'day']),
  anchorDay: z.coerce.number().int(),
  /** meterKey -> allowance (decimal string): the base of percentage alert thresholds (alerts/). */
  allowances: z.record(z.string(), z.string()).default({}),
  /** When the time zone or cycle last changed from what the customer was billed in (0: never); see customerCycleMovesDdl. */
  cycleMovedAtMs: z.coerce.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type CustomerRecord = z.infer<typeof customerRow>;

const columns = `customer_id AS customerId, name, timezone, toString(cycle_interval) AS interval, anchor_day AS anchorDay, allowances, toUnixTimestamp64Milli(cycle_moved_at) AS cycleMovedAtMs, created_at AS createdAt, updated_at AS updatedAt`;

// FINAL: a change is a newer version of the customer's row.
export const customersOfTenant = defineQuery({
  name: 'customers.list',
  params: z.object({ tenantId: z.string(), afterId: z.string().default(''), limit: z.number().int().min(1) }),
  row: customerRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.billingCustomers} FINAL
WHERE tenant_id = {tenantId:String} AND customer_id > {afterId:String}
ORDER BY customer_id LIMIT {limit:UInt32}`,
});

export const customerById = defineQuery({
  name: 'customers.get',
  params: z.object({ tenantId: z.string(), customerId: z.string() }),
  row: customerRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.billingCustomers} FINAL
WHERE tenant_id = {tenantId:String} AND customer_id = {customerId:String}`,
});

/** Whether any export of the tenant has a line of this customer (its periods are then fixed). */
export const customerHasExports = defineCount({
  name: 'customers.has_exports',
  params: z.object({ tenantId: z.string(), customerId: z.string() }),
  rows: (db) => `SELECT 1 FROM ${db}.${TABLES.billingExportLines}
WHERE tenant_id = {tenantId:String} AND customer_id = {customerId:String} LIMIT 1`,
});

export async function saveCustomer(db: Db, tenantId: string, c: Omit<CustomerRecord, 'createdAt' | 'updatedAt'>, createdAtMs: number): Promise<CustomerRecord> {
  const now = Date.now();
  await insertRows(
    db,
    'customers.save',
    TABLES.billingCustomers,
    [
      {
        tenant_id: tenantId,
        customer_id: c.customerId,
        name: c.name,
        timezone: c.timezone,
        cycle_interval: c.interval,
        anchor_day: c.anchorDay,
        allowances: c.allowances,
        cycle_moved_at: c.cycleMovedAtMs,
        created_at: createdAtMs,
        updated_at: now,
        version: nextVersion(),
      },
    ],
    { tenantId },
  );
  return { ...c, createdAt: new Date(createdAtMs).toISOString(), updatedAt: new Date(now).toISOString() };
}

/**
 * The billing cycles the tenant's customer records use, each once: with the
 * default cycle, every cycle a close run of the tenant can meet.
 */
export const cyclesOfTenant = defineQuery({
  name: 'customers.cycles',
  params: z.object({ tenantId: z.string() }),
  row: customerRow.pick({ timezone: true, interval: true, anchorDay: true }),
  sql: (db) => `SELECT DISTINCT timezone, toString(cycle_interval) AS interval, anchor_day AS anchorDay
FROM ${db}.${TABLES.billingCustomers} FINAL
WHERE tenant_id = {tenantId:String}`,
});

/**
 * The tenant's customers whose record moved to another time zone or cycle at or
 * after {movedSinceMs} and that have no export line up to {uptoSequence}. A
 * move is refused once a customer has exports. A close run reads these
 * customers' days as changed (jobs/billing/lines.ts), and removes the lines of
 * those that moved at or after its cutoff (lateMovers); a move that raced a run
 * is undone by the API when the run billed first (jobs/billing/cycle-moves.ts).
 */
const movedRecords = (db: string) => `SELECT customer_id, toUnixTimestamp64Milli(cycle_moved_at) AS movedAtMs FROM ${db}.${TABLES.billingCustomers} FINAL
WHERE tenant_id = {tenantId:String} AND cycle_moved_at >= fromUnixTimestamp64Milli({movedSinceMs:Int64}, 'UTC')`;
const movedWithoutLines = (db: string) => `${movedRecords(db)}
  AND customer_id NOT IN (SELECT customer_id FROM ${db}.${TABLES.billingExportLines}
    WHERE tenant_id = {tenantId:String} AND sequence <= {uptoSequence:UInt64})
ORDER BY customer_id`;

/**
 * The customers of movedWithoutLines, by id, with when each moved. Most calls find no record moved since then (a
 * count of the customers table) and read no export line.
 */
export async function movedCustomers(
  db: Db,
  p: { tenantId: string; movedSinceMs: number; uptoSequence: number },
  tags: QueryTags,
): Promise<{ customerId: string; movedAtMs: number }[]> {
  if ((await countRows(db, 'customers.moved_records', movedRecords(db.database), p, tags)) === 0) return [];
  const row = z.object({ customer_id: z.string(), movedAtMs: z.coerce.number().int() });
  return (await runQuery(db, 'customers.moved', movedWithoutLines(db.database), p, row, tags)).map((r) => ({
    customerId: r.customer_id,
    movedAtMs: r.movedAtMs,
  }));
}

/**
 * Whether this customer has a line in an export whose cutoff is before {movedAtMs}: a close run that may have read
 * its record before a move stored at that time billed it (in its old cycle). The cutoff of the claim that holds a
 * sequence decides (claimOf's rule: the earliest claim).
 */
export const linesBeforeMove = defineCount({
  name: 'customers.lines_before_move',
  params: z.object({ tenantId: z.string(), customerId: z.string(), movedAtMs: z.number().int() }),
  rows: (db) => `SELECT 1 FROM ${db}.${TABLES.billingExportLines}
WHERE tenant_id = {tenantId:String} AND customer_id = {customerId:String}
  AND sequence IN (
    SELECT sequence FROM ${db}.${TABLES.billingClaims} WHERE tenant_id = {tenantId:String}
    GROUP BY sequence HAVING argMin(cutoff, (claimed_at, run_id)) < fromUnixTimestamp64Milli({movedAtMs:Int64}, 'UTC'))
LIMIT 1`,
});

export const customersByIds = defineQuery({
  name: 'customers.by_ids',
  params: z.object({ tenantId: z.string(), ids: z.array(z.string()) }),
  row: customerRow,
  sql: (db) => `SELECT ${columns} FROM ${db}.${TABLES.billingCustomers} FINAL
WHERE tenant_id = {tenantId:String} AND customer_id IN {ids:Array(String)}`,
});
