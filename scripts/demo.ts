// npm run demo: loads a realistic sample into a running meterhouse and prints where to look.
// METERHOUSE_URL (default http://localhost:8080) and METERHOUSE_API_KEY (an admin key of the tenant) say where.
import { DEMO_CUSTOMERS, DEMO_METERS, demoSample } from './demo/data.js';

const base = (process.env.METERHOUSE_URL ?? 'http://localhost:8080').replace(/\/$/, '');
const key = process.env.METERHOUSE_API_KEY;
if (!key) {
  console.error('set METERHOUSE_API_KEY to an admin key of the tenant to load the demo into (npm start prints one on first start)');
  process.exit(2);
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

function must(result: { status: number; json: any }, what: string, ok: number[]): any {
  if (!ok.includes(result.status)) throw new Error(`${what}: HTTP ${result.status} ${JSON.stringify(result.json)}`);
  return result.json;
}

const endMs = Date.now();
const seed = Number(process.env.DEMO_SEED ?? Math.floor(endMs / 1000));
const sample = demoSample({ endMs, seed });

for (const { customerId, ...record } of DEMO_CUSTOMERS) {
  must(await call('PUT', `/v1/customers/${customerId}`, record), `customer ${customerId}`, [200, 201, 409]);
}
for (const meter of DEMO_METERS) must(await call('POST', '/v1/meters', meter), `meter ${meter.key}`, [201, 409]);

let accepted = 0;
let duplicates = 0;
for (const batch of sample.batches) {
  const answer = must(await call('POST', '/v1/events', batch), 'events', [200, 207]);
  accepted += answer.accepted;
  duplicates += answer.duplicates;
  if (answer.rejected > 0) throw new Error(`events refused: ${JSON.stringify(answer.results.filter((r: any) => r.status === 'rejected').slice(0, 3))}`);
}
console.log(`loaded ${DEMO_CUSTOMERS.length} customers, ${DEMO_METERS.length} meters, ${accepted} events over 90 days (${duplicates} redeliveries collapsed)`);

// The close job (every minute by default) closes the past periods; wait for the first export.
const deadline = Date.now() + Number(process.env.DEMO_WAIT_MS ?? 120_000);
let exports: any[] = [];
while (Date.now() < deadline) {
  exports = must(await call('GET', '/v1/billing/exports?limit=100'), 'exports', [200]).data;
  if (exports.length > 0) break;
  await new Promise((r) => setTimeout(r, 1000));
}
console.log(
  exports.length > 0
    ? `closed periods exported so far: ${exports.length} (GET /v1/billing/exports)`
    : 'no period closed yet: the close job runs every minute (BILLING_CLOSE_CRON)',
);

// A customer dashboard link (8 hours) for each demo customer, as a platform would hand out.
console.log('\ncustomer dashboards (links valid 8 hours; revoke with DELETE /v1/portal/tokens/{id}):');
for (const { customerId, timezone } of DEMO_CUSTOMERS) {
  const link = must(await call('POST', '/v1/portal/tokens', { customerId, expiresInSeconds: 8 * 3600 }), `dashboard link for ${customerId}`, [201]);
  console.log(`  ${customerId.padEnd(9)} (${timezone}): ${link.url}`);
}
// A SQL console link (1 hour, the longest a console link lives) for the tenant's analysts.
const consoleLink = must(await call('POST', '/v1/sql/console-links', { expiresInSeconds: 3600 }), 'SQL console link', [201]);
console.log(`\nSQL console (valid 1 hour): ${consoleLink.url}`);
console.log(`API reference: ${base}/docs/api`);
