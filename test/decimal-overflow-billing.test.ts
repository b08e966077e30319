import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { engine, newTenant, type TestTenant } from './harness.js';
import { fromUnits, toUnits, type OracleEvent } from './oracle.js';
import type { LoggedOp, OracleLine } from './billing-oracle.js';
import { GRACE_MS, clockPast, expectExportsMatchOracle, send, setUpTenant } from './billing-fixture.js';
import { runQuery } from '../sql/query.js';

/**
 * Billing with quantities at the top of the event contract (29 integer
 * digits): the usage lines of a close, the adjustment lines an amendment and a
 * late event make, and the export files (JSONL, CSV, Parquet). Every line is
 * checked against the billing oracle (BigInt arithmetic on the decimal strings).
 */
const DAY = 86_400_000;
const NINES = '9'.repeat(29);
const MAX = `${NINES}.999999999`;

beforeAll(async () => {
  await engine({ BILLING_CUTOFF_LAG_MS: '0', BILLING_GRACE_SECONDS: String(GRACE_MS / 1000) });
});

/** An export's lines in a file format the engine wrote, as (customer, meter, kind, value) read back from the file. */
async function fileLines(t: TestTenant, id: string, format: 'jsonl' | 'csv' | 'parquet'): Promise<string[][]> {
  const res = await t.request('GET', `/v1/billing/exports/${id}/lines?format=${format}`);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (format === 'jsonl')
    return bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>)
      .map((r) => [r.customerId!, r.meterKey!, r.kind!, r.value!]);
  if (format === 'csv') {
    // No cell here holds a comma or a quote: split, and unquote the strings.
    const [header, ...rows] = bytes
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => l.split(',').map((c) => c.replace(/^"(.*)"$/, '$1')));
    const at = (name: string) => header!.indexOf(name);
    return rows.map((r) => [r[at('customerId')]!, r[at('meterKey')]!, r[at('kind')]!, r[at('value')]!]);
  }
  // Parquet: read back by the engine (it reads any Parquet decimal); the type must hold the value, not a rounded double.
  const dir = await mkdtemp(join(tmpdir(), 'meterhouse-parquet-'));
  try {
    const path = join(dir, 'lines.parquet');
    await writeFile(path, bytes);
    const { db } = (await engine()).deps;
    const row = z.object({ customerId: z.string(), meterKey: z.string(), kind: z.string(), text: z.string(), type: z.string() });
    const rows = await runQuery(
      db,
      'test.parquet',
      `SELECT customerId, meterKey, kind, toString(value) AS text, toTypeName(value) AS type FROM file('${path}', Parquet)`,
      {},
      row,
    );
    expect(new Set(rows.map((r) => r.type))).toEqual(new Set(['Decimal(76, 9)']));
    return rows.map((r) => [r.customerId, r.meterKey, r.kind, r.text]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const asRows = (lines: OracleLine[]) => lines.map((l) => [l.customerId, l.meterKey, l.kind, l.value]);

describe('billing at the contract maximum', () => {
  let t: TestTenant;
  const log: LoggedOp[] = [];
  // A UTC month that ended at least 28 days before now (the default cycle), and NY's month that holds the same instants.
  const today = new Date(Date.now());
  const periodStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 2, 1);
  const at = (i: number) => periodStart + 2 * DAY + i * 1000;
  const ev = (eventId: string, customerId: string, metricName: string, i: number, quantity: string, region: string): OracleEvent => ({
    eventId,
    customerId,
    metricName,
    timestamp: at(i),
    quantity,
    dimensions: { region },
  });

  beforeAll(async () => {
    t = await newTenant();
    await setUpTenant(t);
  });

  it('closes a period into exact usage lines and files', async () => {
    const events = ['c-default', 'c-ny'].flatMap((c) => [
      ev(`${c}-1`, c, 'api.calls', 1, NINES, 'eu'),
      ev(`${c}-2`, c, 'api.calls', 2, NINES, 'us'),
      ev(`${c}-3`, c, 'api.calls', 3, NINES, 'ap'),
      ev(`${c}-4`, c, 'api.calls', 4, MAX, 'eu'),
      ev(`${c}-g1`, c, 'gpu.seconds', 5, MAX, 'eu'),
      ev(`${c}-g2`, c, 'gpu.seconds', 6, MAX, 'eu'),
    ]);
    await send(t, log, events);
    await clockPast(log);
    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.data.map((e: { sequence: number }) => e.sequence)).toEqual([1]);
    const [first] = await expectExportsMatchOracle(t, log);
    const calls = first!.lines.find((l) => l.customerId === 'c-default' && l.meterKey === 'calls')!;
    expect(calls).toMatchObject({ kind: 'usage', value: fromUnits(3n * toUnits(NINES) + toUnits(MAX)), events: 4 });
    expect(first!.lines.find((l) => l.customerId === 'c-ny' && l.meterKey === 'gpu')!.value).toBe(fromUnits(2n * toUnits(MAX)));
    expect(first!.lines.find((l) => l.customerId === 'c-ny' && l.meterKey === 'calls-avg')!.value).toBe(fromUnits((3n * toUnits(NINES) + toUnits(MAX)) / 4n));
    for (const format of ['jsonl', 'csv', 'parquet'] as const) expect(await fileLines(t, first!.id, format), format).toEqual(asRows(first!.lines));
  });

  it('turns an amendment and a late event of the closed period into exact adjustment lines', async () => {
    const amended = await t.json('POST', '/v1/events/c-default-4/amend', { body: { quantity: '0.5' } });
    expect(amended.status).toBe(200);
    log.push({ doneAt: Date.now(), amend: { eventId: 'c-default-4', quantity: '0.5' } });
    await send(t, log, [ev('c-ny-late', 'c-ny', 'api.calls', 7, MAX, 'us'), ev('c-ny-g-late', 'c-ny', 'gpu.seconds', 8, MAX, 'us')]);
    await clockPast(log);
    const closed = await t.json('POST', '/v1/billing/close');
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);
    expect(closed.body.data.map((e: { sequence: number }) => e.sequence)).toEqual([2]);
    const [, second] = await expectExportsMatchOracle(t, log);
    expect(second!.lines.every((l) => l.kind === 'adjustment')).toBe(true);
    const line = (customerId: string, meterKey: string) => second!.lines.find((l) => l.customerId === customerId && l.meterKey === meterKey)!;
    expect(line('c-default', 'calls')).toMatchObject({ value: fromUnits(toUnits('0.5') - toUnits(MAX)), events: 0 });
    expect(line('c-ny', 'calls')).toMatchObject({ value: MAX, events: 1 });
    expect(line('c-ny', 'gpu')).toMatchObject({ value: MAX, events: 1 });
    // CSV is checked on the first export only: negative values here start with '-', a cell the CSV formula-injection fix (issue 10, item 5) may change.
    for (const format of ['jsonl', 'parquet'] as const) expect(await fileLines(t, second!.id, format), format).toEqual(asRows(second!.lines));
  });
});
