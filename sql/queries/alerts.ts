import { z } from 'zod';
import { TABLES } from '../names.js';
import { defineQuery, insertRows, nextVersion, type Db, type QueryTags } from '../query.js';

export const ALERT_WINDOWS = ['period', 'lifetime'] as const;
export const ALERT_DIRECTIONS = ['rising', 'falling'] as const;
export const ALERT_UNITS = ['absolute', 'percent'] as const;

export const alertRuleRow = z.object({
  id: z.string(),
  meterKey: z.string(),
  /** '' = every customer of the tenant. */
  customerId: z.string(),
  thresholds: z.array(z.string()),
  unit: z.enum(ALERT_UNITS),
  /** '' = no recurring step. */
  every: z.string(),
  window: z.enum(ALERT_WINDOWS),
  direction: z.enum(ALERT_DIRECTIONS),
  rearm: z.coerce.number().transform((n) => n === 1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AlertRule = z.infer<typeof alertRuleRow>;

const ruleColumns = `rule_id AS id, meter_key AS meterKey, customer_id AS customerId, thresholds, toString(unit) AS unit, every,
  toString(alert_window) AS window, toString(direction) AS direction, rearm, created_at AS createdAt, updated_at AS updatedAt`;

// FINAL: a change or deletion is a newer version of the rule's row.
export const alertRules = defineQuery({
  name: 'alerts.rules.list',
  params: z.object({ tenantId: z.string(), afterId: z.string().default(''), limit: z.number().int().min(1) }),
  row: alertRuleRow,
  sql: (db) => `SELECT ${ruleColumns} FROM ${db}.${TABLES.alertRules} FINAL
WHERE tenant_id = {tenantId:String} AND deleted = 0 AND rule_id > {afterId:String} ORDER BY rule_id LIMIT {limit:UInt32}`,
});

export const alertRuleById = defineQuery({
  name: 'alerts.rules.get',
  params: z.object({ tenantId: z.string(), id: z.string() }),
  row: alertRuleRow,
  sql: (db) => `SELECT ${ruleColumns} FROM ${db}.${TABLES.alertRules} FINAL
WHERE tenant_id = {tenantId:String} AND rule_id = {id:String} AND deleted = 0`,
});

/** Tenants with at least one live rule (the sweep visits only these). */
export const tenantsWithRules = defineQuery({
  name: 'alerts.rules.tenants',
  params: z.object({}),
  row: z.object({ tenantId: z.string() }),
  sql: (db) => `SELECT DISTINCT tenant_id AS tenantId FROM ${db}.${TABLES.alertRules} FINAL WHERE deleted = 0 ORDER BY tenantId`,
});

export async function writeAlertRule(db: Db, tenantId: string, r: AlertRule, deleted = false, tags: QueryTags = {}): Promise<void> {
  await insertRows(
    db,
    'alerts.rules.write',
    TABLES.alertRules,
    [
      {
        tenant_id: tenantId,
        rule_id: r.id,
        meter_key: r.meterKey,
        customer_id: r.customerId,
        thresholds: r.thresholds,
        unit: r.unit,
        every: r.every,
        alert_window: r.window,
        direction: r.direction,
        rearm: r.rearm ? 1 : 0,
        created_at: Date.parse(r.createdAt),
        updated_at: Date.parse(r.updatedAt),
        deleted: deleted ? 1 : 0,
        version: nextVersion(),
      },
    ],
    tags,
  );
}

/** Customers with any stored row of these metrics at or after `fromMs` (event time): who an every-customer rule looks at. */
export const customersWithEvents = defineQuery({
  name: 'alerts.customers',
  params: z.object({ tenantId: z.string(), metrics: z.array(z.string()), fromMs: z.number().int(), customers: z.array(z.string()) }),
  row: z.object({ customerId: z.string() }),
  sql: (db) => `SELECT DISTINCT customer_id AS customerId FROM ${db}.${TABLES.usageEventLog}
WHERE tenant_id = {tenantId:String} AND metric_name IN {metrics:Array(String)} AND timestamp >= fromUnixTimestamp64Milli({fromMs:Int64}, 'UTC')
  AND (empty({customers:Array(String)}) OR customer_id IN {customers:Array(String)})
ORDER BY customerId`,
});

export interface AlertEventRow {
  id: string;
  ruleId: string;
  customerId: string;
  meterKey: string;
  threshold: string;
  thresholdValue: string;
  direction: 'rising' | 'falling';
  arm: number;
  value: string;
  periodStartMs: number;
  crossedAtMs: number;
}

const ms = z.coerce.number().int();
const eventRow = z.object({
  id: z.string(),
  ruleId: z.string(),
  customerId: z.string(),
  meterKey: z.string(),
  threshold: z.string(),
  thresholdValue: z.string(),
  direction: z.enum(ALERT_DIRECTIONS),
  arm: ms,
  value: z.string(),
  periodStartMs: ms,
  crossedAtMs: ms,
});

// The earliest row per id: a crossing inserted twice (token out of its window) is still one crossing.
const firstRowPerId = (db: string, where: string) => `SELECT tenant_id AS tenantId, event_id AS id, argMin(rule_id, crossed_at) AS ruleId,
  argMin(customer_id, crossed_at) AS customerId, argMin(meter_key, crossed_at) AS meterKey, argMin(threshold, crossed_at) AS threshold,
  argMin(threshold_value, crossed_at) AS thresholdValue, toString(argMin(direction, crossed_at)) AS direction, argMin(arm, crossed_at) AS arm,
  argMin(value, crossed_at) AS value, toUnixTimestamp64Milli(argMin(period_start, crossed_at)) AS periodStartMs,
  toUnixTimestamp64Milli(min(crossed_at)) AS crossedAtMs
FROM ${db}.${TABLES.alertEvents} WHERE ${where} GROUP BY tenant_id, event_id`;

// Crossings of one evaluation share crossedAt: rising thresholds in ascending order, falling ones descending.
const crossingOrder = `crossedAtMs, periodStartMs, ruleId, customerId, arm, if(direction = 'rising', 1, -1) * toDecimal256OrZero(thresholdValue, 9), id`;

/** The crossings and marks of one rule for these customers and periods: the evaluator's state. */
export const alertState = defineQuery({
  name: 'alerts.state',
  params: z.object({ tenantId: z.string(), ruleId: z.string(), customers: z.array(z.string()), starts: z.array(z.number().int()) }),
  row: z.object({ kind: z.string(), customerId: z.string(), periodStartMs: ms, threshold: z.string(), arm: ms }),
  sql: (db) => `SELECT 'fired' AS kind, customer_id AS customerId, toUnixTimestamp64Milli(period_start) AS periodStartMs, threshold, arm
FROM ${db}.${TABLES.alertEvents}
WHERE tenant_id = {tenantId:String} AND rule_id = {ruleId:String} AND customer_id IN {customers:Array(String)} AND toUnixTimestamp64Milli(period_start) IN {starts:Array(Int64)}
UNION ALL
SELECT toString(kind) AS kind, customer_id AS customerId, toUnixTimestamp64Milli(period_start) AS periodStartMs, threshold, arm
FROM ${db}.${TABLES.alertMarks}
WHERE tenant_id = {tenantId:String} AND rule_id = {ruleId:String} AND customer_id IN {customers:Array(String)} AND toUnixTimestamp64Milli(period_start) IN {starts:Array(Int64)}`,
});

/** Insert one crossing; the token makes a second insert of the same id (another instance, a re-run) a no-op. */
export async function insertAlertEvent(db: Db, tenantId: string, e: AlertEventRow, tags: QueryTags = {}): Promise<void> {
  await insertRows(
    db,
    'alerts.events.insert',
    TABLES.alertEvents,
    [
      {
        tenant_id: tenantId,
        event_id: e.id,
        rule_id: e.ruleId,
        customer_id: e.customerId,
        meter_key: e.meterKey,
        threshold: e.threshold,
        threshold_value: e.thresholdValue,
        direction: e.direction,
        arm: e.arm,
        value: e.value,
        period_start: e.periodStartMs,
        crossed_at: e.crossedAtMs,
      },
    ],
    tags,
    { insert_deduplication_token: `alert/${tenantId}/${e.id}` },
  );
}

export async function insertAlertMark(
  db: Db,
  tenantId: string,
  m: { ruleId: string; customerId: string; periodStartMs: number; threshold: string; arm: number; kind: 'primed' | 'rearmed' },
  tags: QueryTags = {},
): Promise<void> {
  const token = `alert-mark/${JSON.stringify([tenantId, m.ruleId, m.customerId, m.periodStartMs, m.threshold, m.arm, m.kind])}`;
  await insertRows(
    db,
    'alerts.marks.insert',
    TABLES.alertMarks,
    [
      {
        tenant_id: tenantId,
        rule_id: m.ruleId,
        customer_id: m.customerId,
        period_start: m.periodStartMs,
        threshold: m.threshold,
        arm: m.arm,
        kind: m.kind,
      },
    ],
    tags,
    { insert_deduplication_token: token },
  );
}

/** One customer's crossings of these (rule, period start) pairs, the newest `perRule` of each rule, newest first as listAlertEvents orders them: the dashboard's "crossed so far". */
export const customerCrossings = defineQuery({
  name: 'alerts.events.customer',
  params: z.object({
    tenantId: z.string(),
    customerId: z.string(),
    ruleIds: z.array(z.string()),
    starts: z.array(z.number().int()),
    perRule: z.number().int().min(1),
  }),
  row: eventRow,
  sql: (db) => `SELECT * EXCEPT tenantId FROM (
  ${firstRowPerId(
    db,
    `tenant_id = {tenantId:String} AND customer_id = {customerId:String}
    AND (rule_id, toUnixTimestamp64Milli(period_start)) IN (SELECT tupleElement(x, 1), tupleElement(x, 2) FROM (SELECT arrayJoin(arrayZip({ruleIds:Array(String)}, {starts:Array(Int64)})) AS x))`,
  )}
) ORDER BY ruleId, crossedAtMs DESC, periodStartMs DESC, arm DESC, if(direction = 'rising', -1, 1) * toDecimal256OrZero(thresholdValue, 9), id
LIMIT {perRule:UInt32} BY ruleId`,
});

export type ListedAlertEvent = AlertEventRow & { deliveredAtMs: number | null };

/** A tenant's crossings, newest first, optionally of one customer and/or rule; with when each was acknowledged. */
export const listAlertEvents = defineQuery({
  name: 'alerts.events.list',
  params: z.object({ tenantId: z.string(), customerId: z.string().default(''), ruleId: z.string().default(''), limit: z.number().int().min(1) }),
  row: eventRow.extend({ deliveredAtMs: z.coerce.number().int().nullable() }),
  sql: (db) => `SELECT e.* EXCEPT tenantId, if(d.n = 0, NULL, d.at) AS deliveredAtMs FROM (
  ${firstRowPerId(db, `tenant_id = {tenantId:String} AND ({customerId:String} = '' OR customer_id = {customerId:String}) AND ({ruleId:String} = '' OR rule_id = {ruleId:String})`)}
) AS e LEFT JOIN (
  SELECT event_id, count() AS n, toUnixTimestamp64Milli(min(delivered_at)) AS at FROM ${db}.${TABLES.alertDeliveries} WHERE tenant_id = {tenantId:String} GROUP BY event_id
) AS d ON d.event_id = e.id
ORDER BY crossedAtMs DESC, periodStartMs DESC, ruleId, customerId, arm DESC, if(direction = 'rising', -1, 1) * toDecimal256OrZero(thresholdValue, 9), id LIMIT {limit:UInt32}
`,
});

/** The outbox: crossings of these tenants without an acknowledged delivery, per tenant in crossing order. */
export const undeliveredAlerts = defineQuery({
  name: 'alerts.outbox.pending',
  params: z.object({ tenants: z.array(z.string()), limit: z.number().int().min(1) }),
  row: eventRow.extend({ tenantId: z.string() }),
  sql: (db) => `SELECT * FROM (${firstRowPerId(db, 'tenant_id IN {tenants:Array(String)}')})
WHERE (tenantId, id) NOT IN (SELECT tenant_id, event_id FROM ${db}.${TABLES.alertDeliveries})
ORDER BY tenantId, ${crossingOrder} LIMIT {limit:UInt32}`,
});

export async function recordAlertDelivery(db: Db, tenantId: string, eventId: string, attempts: number): Promise<void> {
  await insertRows(db, 'alerts.outbox.delivered', TABLES.alertDeliveries, [{ tenant_id: tenantId, event_id: eventId, attempts, delivered_at: Date.now() }], {
    tenantId,
    job: 'alerts.webhooks',
  });
}
