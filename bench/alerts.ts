// npm run bench:alerts (also part of npm run bench): latency of usage alerts, from the
// ack of the event that crosses a threshold to the first webhook attempt, over real HTTP
// on the embedded engine while other clients keep ingesting into another tenant whose
// every customer has a rule (so its flushes are evaluated too).
// BENCH_ALERT_TRIALS (default 200), BENCH_ALERT_BACKGROUND_CLIENTS (default 2), BENCH_ALERT_BATCH (default 2,000).
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { eventBatches } from './events.js';
import { envNumber, ingestOverHttp, percentile, prepareBodies, type PreparedBody, writeResults } from './common.js';
import { startServer } from './server-process.js';

const TRIALS = envNumber('BENCH_ALERT_TRIALS', 200);
const BACKGROUND = envNumber('BENCH_ALERT_BACKGROUND_CLIENTS', 2);
const BATCH = envNumber('BENCH_ALERT_BATCH', 2_000);
const KEY = 'bench-admin-key-0123456789abcdef';
const OPERATOR_KEY = 'bench-operator-key-0123456789abcdef';

// The receiver notes when each crossing's first attempt arrives.
const firstAttempt = new Map<string, number>();
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const { alert, tenantId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tenantId: string; alert: { customerId: string } };
    if (tenantId === 'default' && !firstAttempt.has(alert.customerId)) firstAttempt.set(alert.customerId, performance.now());
    res.writeHead(200).end();
  });
});
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/alerts`;

const dataDir = await mkdtemp(join(tmpdir(), 'meterhouse-bench-alerts-'));
// meterhouse in its own process (api/main.ts, which starts the jobs and the alert evaluator); the
// probes, the background load and the webhook receiver share this one.
const server = await startServer({
  DATA_DIR: dataDir,
  METERHOUSE_API_KEY: KEY,
  METERHOUSE_OPERATOR_KEY: OPERATOR_KEY,
  MAX_EVENTS_PER_REQUEST: String(Math.max(BATCH, 10_000)),
});
const base = server.base;
async function call(method: string, path: string, body: unknown, key = KEY) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res;
}
// The probes run in tenant default; the background load in a tenant of its own, with a rule on every customer.
const busy = (await (await call('POST', '/v1/operator/tenants', { tenantId: 'busy', name: 'busy' }, OPERATOR_KEY)).json()) as { adminKey: string };
for (const [key, meter] of [
  [KEY, 'probe'],
  [busy.adminKey, 'calls'],
] as const) {
  await call('PUT', '/v1/webhooks', { url: hookUrl, secret: 'bench-webhook-secret-0123456789' }, key);
  await call('POST', '/v1/meters', { key: meter, metricName: meter === 'calls' ? 'api.calls' : 'alert.probe', aggregation: 'SUM' }, key);
}
await call('POST', '/v1/alerts/rules', { meterKey: 'calls', every: '1000', window: 'period' }, busy.adminKey);
await call('POST', '/v1/alerts/rules', { meterKey: 'probe', thresholds: ['100'], window: 'period' });

let stop = false;
function* background(): Generator<PreparedBody> {
  const batches = eventBatches({ events: Number.MAX_SAFE_INTEGER, customers: 500, days: 0.01, duplicateRate: 0.01, endMs: Date.now() }, BATCH);
  while (!stop) yield prepareBodies([batches.next().value as object[]])[0]!;
}
const load = ingestOverHttp(base, busy.adminKey, background(), BACKGROUND, 100_000);

const latencies: number[] = [];
for (let i = 0; i < TRIALS; i++) {
  const customerId = `probe-${i}`;
  await call('POST', '/v1/events', [{ eventId: `probe-${i}`, customerId, metricName: 'alert.probe', timestamp: Date.now() - 1000, quantity: '100' }]);
  const acked = performance.now();
  const deadline = acked + 60_000;
  while (!firstAttempt.has(customerId)) {
    if (performance.now() > deadline) throw new Error(`no webhook for ${customerId} within 60 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  latencies.push(firstAttempt.get(customerId)! - acked);
  if ((i + 1) % 20 === 0) process.stderr.write(`  ${i + 1} crossings timed, last ${latencies.at(-1)!.toFixed(0)} ms\n`);
}
stop = true;
const run = await load;
latencies.sort((a, b) => a - b);

const results = {
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    loadavg1m: +loadavg()[0]!.toFixed(2),
  },
  config: { trials: TRIALS, backgroundClients: BACKGROUND, batch: BATCH },
  background: { events: run.sent, seconds: +run.seconds.toFixed(1), eventsPerSecond: Math.round(run.sent / run.seconds) },
  ackToFirstWebhookMs: { p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +latencies.at(-1)!.toFixed(1) },
};
console.log(`\nmeterhouse alerts bench — ${results.machine.cpus} cores, load ${results.machine.loadavg1m}, ${results.machine.node}`);
console.table([
  { measure: 'ack -> first webhook attempt p50 (ms)', value: results.ackToFirstWebhookMs.p50 },
  { measure: 'ack -> first webhook attempt p99 (ms)', value: results.ackToFirstWebhookMs.p99 },
  { measure: 'ack -> first webhook attempt max (ms)', value: results.ackToFirstWebhookMs.max },
  { measure: 'background ingest meanwhile (events/s)', value: results.background.eventsPerSecond },
]);
await writeResults('alerts', results);
await server.stop();
receiver.close();
await rm(dataDir, { recursive: true, force: true });
