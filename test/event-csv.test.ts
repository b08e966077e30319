import { expect, it } from 'vitest';
import { engine, newTenant } from './harness.js';
import { TABLES } from '../sql/names.js';
import { execute, insertCsv, insertRows, type RawInsert } from '../sql/query.js';
import { DirectWriter } from '../ingest/writer.js';
import { EVENT_CSV_COLUMNS, EVENT_CSV_SETTINGS, eventsCsv } from '../ingest/event-csv.js';
import { MAX_EPOCH_MS } from '../ingest/time.js';
import type { EventRow } from '../ingest/normalise.js';
import { prng } from '../bench/events.js';

// Text that CSV, the Map's text form or the engine's readers treat specially, and text that is only plain.
const HOSTILE = [
  '',
  '"',
  '""',
  '"a"',
  ',',
  'a,b',
  '\n',
  '\r\n',
  '\r',
  'a\rb',
  '\t',
  '\0',
  'a\0b',
  '\\',
  '\\\\',
  "\\'",
  "'",
  "''",
  "a'b",
  '{',
  '}',
  "{'a':'b'}",
  "':'",
  'a\\nb',
  '\\N',
  'NULL',
  ' leading',
  'trailing ',
  ' ',
  '=1+2',
  '-1',
  '1.5',
  'ключ',
  'значение',
  '😀',
  '\u2028\u2029',
  '\u00a0',
  '\ufeff',
  '\u0001\u001f\u007f',
  'x'.repeat(20_000),
];

/** Deterministic (seeded) strings of the hostile pieces and random code points, every string well formed. */
function randomText(next: () => number): string {
  let s = '';
  const parts = Math.floor(next() * 6);
  for (let i = 0; i < parts; i++) {
    const kind = next();
    if (kind < 0.5) s += HOSTILE[Math.floor(next() * (HOSTILE.length - 1))];
    else if (kind < 0.8) s += String.fromCharCode(Math.floor(next() * 128));
    else {
      let cp = Math.floor(next() * 0x10ffff);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      s += String.fromCodePoint(cp);
    }
  }
  return s;
}

const QUANTITIES = ['0', '1', '0.000000001', '12345678901234567890123456789.123456789', '99999999999999999999999999999.999999999', '-5.5', '53.796'];
const TIMES = [0, 1, 999, 1_000, 86_400_000 - 1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 10, 1), MAX_EPOCH_MS - 1];

function rows(): EventRow[] {
  const out: EventRow[] = [];
  HOSTILE.forEach((text, i) => {
    out.push({
      tenant_id: `t-${text}`,
      event_id: `e${i}-${text}`,
      customer_id: text,
      product_id: text,
      metric_name: text,
      timestamp: TIMES[i % TIMES.length]!,
      quantity: QUANTITIES[i % QUANTITIES.length]!,
      dimensions: text === '' ? {} : { [text]: text, [`k${text}`]: HOSTILE[(i + 7) % HOSTILE.length]!, plain: 'v' },
      source: text,
      source_version: text,
      request_id: text,
      ingested_at: TIMES[(i + 3) % TIMES.length]!,
    });
  });
  const next = prng(7);
  for (let i = 0; i < 8_000; i++) {
    const dimensions: Record<string, string> = {};
    for (let d = Math.floor(next() * 4); d > 0; d--) dimensions[randomText(next)] = randomText(next);
    out.push({
      tenant_id: randomText(next),
      event_id: `r${i}-${randomText(next)}`,
      customer_id: randomText(next),
      product_id: randomText(next),
      metric_name: randomText(next),
      // Random times within 90 days (one insert may touch at most 100 monthly partitions).
      timestamp: Date.UTC(2026, 0, 1) + Math.floor(next() * 90 * 86_400_000),
      quantity: QUANTITIES[Math.floor(next() * QUANTITIES.length)]!,
      dimensions,
      source: randomText(next),
      source_version: randomText(next),
      request_id: randomText(next),
      ingested_at: Math.floor(next() * (MAX_EPOCH_MS - 1)),
    });
  }
  return out;
}

/** The rows without line feeds in their text (eventsCsv leaves a batch with one to the JSON insert). */
const withoutLineFeeds = (rows: EventRow[]) => rows.filter((r) => !JSON.stringify(r).includes('\\n'));

it('an event batch inserted as CSV is stored exactly as the JSON insert stores it: every column, hostile text, every time and quantity form', async () => {
  const { db } = (await engine()).deps;
  const t = (name: string) => `${db.database}.${name}`;
  for (const copy of ['csv_json_copy', 'csv_csv_copy']) await execute(db, 'test.copy', `CREATE TABLE ${t(copy)} AS ${t(TABLES.usageEvents)}`);
  const batch = withoutLineFeeds(rows());
  expect(batch.length).toBeGreaterThan(2_000);
  const body = eventsCsv(batch);
  expect(body).toBeInstanceOf(Buffer);
  await insertRows(db, 'test.json', 'csv_json_copy', batch);
  await insertCsv(db.rawInsert!, db.database, 'test.csv', 'csv_csv_copy', EVENT_CSV_COLUMNS, body!, {}, EVENT_CSV_SETTINGS);
  const read = async (table: string) => {
    const res = await db.client.query({
      query: `SELECT hex(tenant_id) a, hex(event_id) b, hex(customer_id) c, hex(product_id) d, hex(metric_name) e, toUnixTimestamp64Milli(timestamp) f,
        toString(quantity) g, arraySort(arrayMap((k, v) -> concat(hex(k), ':', hex(v)), mapKeys(dimensions), mapValues(dimensions))) h,
        hex(source) i, hex(source_version) j, hex(request_id) k, toUnixTimestamp64Milli(ingested_at) l
        FROM ${t(table)} ORDER BY b`,
      format: 'JSONEachRow',
    });
    return res.json<Record<string, unknown>>();
  };
  const [viaJson, viaCsv] = [await read('csv_json_copy'), await read('csv_csv_copy')];
  expect(viaJson).toHaveLength(batch.length);
  expect(viaCsv).toEqual(viaJson);
  // And what JSON stored is what was sent (the comparison above is against the exact rows, not two equal errors).
  const hex = (s: string) => Buffer.from(s).toString('hex').toUpperCase();
  const sent = new Map(batch.map((r) => [hex(r.event_id), r]));
  for (const row of viaCsv) {
    const r = sent.get(row.b as string)!;
    expect(row).toEqual({
      a: hex(r.tenant_id),
      b: hex(r.event_id),
      c: hex(r.customer_id),
      d: hex(r.product_id),
      e: hex(r.metric_name),
      f: String(r.timestamp),
      g: r.quantity,
      h: Object.entries(r.dimensions)
        .map(([k, v]) => `${hex(k)}:${hex(v)}`)
        .sort(),
      i: hex(r.source),
      j: hex(r.source_version),
      k: hex(r.request_id),
      l: String(r.ingested_at),
    });
  }
});

it('a batch with a time or quantity outside the normaliser forms gets no CSV (the writer inserts it as JSON)', () => {
  const row: EventRow = {
    tenant_id: 't',
    event_id: 'e',
    customer_id: 'c',
    product_id: '',
    metric_name: 'm',
    timestamp: 1,
    quantity: '1',
    dimensions: {},
    source: '',
    source_version: '',
    request_id: '',
    ingested_at: 1,
  };
  expect(eventsCsv([row])?.toString()).toBe('"t","e","c","","m",1970-01-01 00:00:00.001,1,"{}","","","",1970-01-01 00:00:00.001\n');
  for (const bad of [
    { quantity: '1e3' },
    { quantity: '1,5' },
    { quantity: '' },
    { timestamp: 1.5 },
    { timestamp: -1 },
    { timestamp: Date.UTC(10_000, 0, 1) },
    { ingested_at: Number.NaN },
  ])
    expect(eventsCsv([row, { ...row, ...bad }])).toBeUndefined();
  // A line feed in any text, a Map's key or value included: chdb's insert would cut the data at two in a row.
  const lineFeeds: Partial<EventRow>[] = [
    { customer_id: 'a\nb' },
    { event_id: '\n' },
    { request_id: '\n\n' },
    { dimensions: { 'a\n': 'b' } },
    { dimensions: { a: 'b\n' } },
  ];
  for (const bad of lineFeeds) expect(eventsCsv([row, { ...row, ...bad }])).toBeUndefined();
  expect(eventsCsv([row, { ...row, customer_id: 'a\r\tb' }])).toBeInstanceOf(Buffer);
});

it("the writer's embedded inserts go as CSV, and a batch with a line feed in its text as JSON, each stored exactly", async () => {
  const { db } = (await engine()).deps;
  const t = await newTenant();
  const formats: string[] = [];
  const rawInsert: RawInsert = (table, body, settings, csv) => {
    if (table.endsWith(`.${TABLES.usageEvents}`)) formats.push(csv ? 'csv' : 'json');
    return db.rawInsert!(table, body, settings, csv);
  };
  const writer = new DirectWriter({ ...db, rawInsert }, { batchRows: 2, flushIntervalMs: 60_000, maxQueuedEvents: 10 });
  const row = (id: string, text: string): EventRow => ({
    tenant_id: t.tenantId,
    event_id: id,
    customer_id: `c${text}`,
    product_id: '',
    metric_name: 'm',
    timestamp: Date.UTC(2026, 0, 31, 23, 59, 59, 999),
    quantity: '0.000000001',
    dimensions: { [`k${text}`]: `v${text}` },
    source: text,
    source_version: '',
    request_id: '',
    ingested_at: Date.UTC(2026, 1, 1),
  });
  const plain = [row('csv-1', '",\\\'\r\t'), row('csv-2', '')];
  const lineFeed = [row('json-1', 'a\n\nb'), row('json-2', '')];
  expect(await writer.write(plain)).toEqual(['accepted', 'accepted']);
  expect(await writer.write(lineFeed)).toEqual(['accepted', 'accepted']);
  await writer.close();
  expect(formats).toEqual(['csv', 'json']);
  const res = await db.client.query({
    query: `SELECT event_id, customer_id, dimensions, source, toUnixTimestamp64Milli(timestamp) AS ts, toString(quantity) AS q
      FROM ${db.database}.${TABLES.usageEvents} WHERE tenant_id = {t:String} ORDER BY event_id`,
    query_params: { t: t.tenantId },
    format: 'JSONEachRow',
  });
  const sent = [...plain, ...lineFeed].sort((x, y) => (x.event_id < y.event_id ? -1 : 1));
  expect(await res.json()).toEqual(
    sent.map((r) => ({ event_id: r.event_id, customer_id: r.customer_id, dimensions: r.dimensions, source: r.source, ts: String(r.timestamp), q: r.quantity })),
  );
});
