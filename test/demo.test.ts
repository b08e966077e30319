import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoSample } from '../scripts/demo/data.js';
import { fromUnits, toUnits } from './oracle.js';
import { start, stop, tempDir, type Server } from './server-process.js';

/**
 * `npm run demo` as a newcomer runs it: against a running meterhouse (its own
 * process), it loads the sample, waits for an export and prints dashboard links
 * that open; the numbers meterhouse shows are the sample's, each event once.
 */
const ROOT = join(import.meta.dirname, '..');
const KEY = 'mh_demo-test-admin-key-0123456789';
const SEED = 4242;
let server: Server;

beforeAll(async () => {
  // The close job every 2 s instead of every minute, so the wait for the first export is short.
  server = await start({
    DATA_DIR: await tempDir(),
    METERHOUSE_API_KEY: KEY,
    METERHOUSE_OPERATOR_KEY: 'mho_demo-test-operator-0123456789',
    BILLING_CLOSE_CRON: '*/2 * * * * *',
  });
}, 60_000);

afterAll(async () => {
  if (server) await stop(server);
});

function runDemo(): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', METERHOUSE_URL: server.url, METERHOUSE_API_KEY: KEY, DEMO_SEED: String(SEED) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (b) => (output += b));
    proc.stderr.on('data', (b) => (output += b));
    proc.on('exit', (code) => resolve({ code, output, seconds: (performance.now() - started) / 1000 }));
  });
}

describe('npm run demo', () => {
  it('loads the sample exactly once, exports a closed period and prints dashboard and SQL console links that open', async () => {
    const run = await runDemo();
    expect(run.code, run.output).toBe(0);
    const sample = demoSample({ endMs: Date.now(), seed: SEED });
    expect(run.output).toContain(`${sample.events.length} events over 90 days (${sample.redeliveries} redeliveries collapsed)`);
    expect(run.output).toMatch(/closed periods exported so far: [1-9]/);

    // What meterhouse counts equals the sample: every distinct event once, exact sums per metric.
    const res = await fetch(`${server.url}/v1/usage/summary?from=0&to=${Date.now() + 86_400_000}&limit=10000`, { headers: { authorization: `Bearer ${KEY}` } });
    const rows = ((await res.json()) as { data: { metricName: string; quantity: string; events: number }[] }).data;
    const expected = new Map<string, { units: bigint; events: number }>();
    for (const e of sample.events) {
      const m = expected.get(e.metricName) ?? { units: 0n, events: 0 };
      m.units += toUnits(e.quantity ?? '1');
      m.events += 1;
      expected.set(e.metricName, m);
    }
    const actual = new Map<string, { units: bigint; events: number }>();
    for (const r of rows) {
      const m = actual.get(r.metricName) ?? { units: 0n, events: 0 };
      m.units += toUnits(r.quantity);
      m.events += r.events;
      actual.set(r.metricName, m);
    }
    expect([...actual].map(([k, v]) => [k, fromUnits(v.units), v.events]).sort()).toEqual(
      [...expected].map(([k, v]) => [k, fromUnits(v.units), v.events]).sort(),
    );

    // Each printed dashboard link opens that customer's portal.
    const links = [...run.output.matchAll(/^\s+(\w+)\s+\([^)]+\): (http\S+)$/gm)].map((m) => ({ customerId: m[1]!, url: m[2]! }));
    expect(links.map((l) => l.customerId).sort()).toEqual(['acme', 'globex', 'initech', 'umbrella']);
    for (const link of links) {
      const url = new URL(link.url);
      expect(url.pathname).toBe('/dashboards/portal/');
      expect((await fetch(url.origin + url.pathname)).status).toBe(200);
      const token = new URLSearchParams(url.hash.slice(1)).get('token')!;
      const customer = await fetch(`${server.url}/v1/portal/customer`, { headers: { authorization: `Bearer ${token}` } });
      expect(customer.status).toBe(200);
      expect(((await customer.json()) as { customer: { customerId: string } }).customer.customerId).toBe(link.customerId);
    }
    // The printed SQL console link opens the console and runs a query over the sample.
    const consoleUrl = new URL(/^SQL console \(valid 1 hour\): (http\S+)$/m.exec(run.output)![1]!);
    expect(consoleUrl.pathname).toBe('/dashboards/sql/');
    expect((await fetch(consoleUrl.origin + consoleUrl.pathname)).status).toBe(200);
    const consoleToken = new URLSearchParams(consoleUrl.hash.slice(1)).get('token')!;
    const query = await fetch(`${server.url}/v1/sql/console/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${consoleToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT count() AS n FROM events' }),
    });
    expect(query.status).toBe(200);
    expect(Number(((await query.json()) as { data: { n: number | string }[] }).data[0]!.n)).toBe(sample.events.length);
    console.log(`npm run demo took ${run.seconds.toFixed(1)} s`);
  }, 300_000);
});
