import { createServer, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { now } from './clock.js';
import { engine, newTenant, type TestTenant } from './harness.js';
import type { LoggedOp } from './billing-oracle.js';
import { GRACE_MS, clockPast, generateEvents, send, setUpTenant } from './billing-fixture.js';

const SECRET = 'test-webhook-secret-0123456789';
const DEFAULT_ADMIN_KEY = 'default-admin-key-0123456789abcdef';
const BACKOFF_MS = 100;
const FAILURES = 3;

interface Received {
  atMs: number;
  body: string;
  signatureValid: boolean;
  answered: number;
}
const received: Received[] = [];
let server: Server;
let hookUrl = '';

/** A biller's endpoint: verifies the signature, refuses the first deliveries, then acknowledges. */
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-meterhouse-signature'] ?? ''));
      const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
      const answered = !signatureValid ? 401 : received.length < FAILURES ? 503 : 200;
      received.push({ atMs: Date.now(), body, signatureValid, answered });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  hookUrl = `http://127.0.0.1:${port}/hooks/billing`;
  const r = await engine({
    BILLING_CUTOFF_LAG_MS: '0',
    BILLING_GRACE_SECONDS: String(GRACE_MS / 1000),
    BILLING_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/billing`,
    BILLING_WEBHOOK_SECRET: SECRET,
    BILLING_WEBHOOK_POLL_MS: '20',
    BILLING_WEBHOOK_BACKOFF_MS: String(BACKOFF_MS),
    BILLING_CLOSE_CRON: '0 0 1 1 *', // this test closes on demand only
    METERHOUSE_API_KEY: DEFAULT_ADMIN_KEY,
  });
  r.startJobs();
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** BILLING_WEBHOOK_URL is tenant default's endpoint (other tenants set theirs: test/export-ledger.test.ts): act as default. */
async function defaultTenant(): Promise<TestTenant> {
  const any = await newTenant();
  const as = <I extends { key?: string | null }>(init: I = {} as I) => ({ ...init, key: init.key === undefined ? DEFAULT_ADMIN_KEY : init.key });
  return {
    tenantId: 'default',
    adminKey: DEFAULT_ADMIN_KEY,
    request: (m, p, init) => any.request(m, p, as(init)),
    json: (m, p, init) => any.json(m, p, as(init)),
  };
}

it('announces each export of tenant default to BILLING_WEBHOOK_URL, signed, retried with exponential backoff until acknowledged, in sequence order', async () => {
  const t = await defaultTenant();
  expect((await t.json('GET', '/v1/webhooks')).body).toEqual({ url: hookUrl, updatedAt: null, source: 'default' });
  const log: LoggedOp[] = [];
  await setUpTenant(t);
  await send(t, log, generateEvents('w', 120, 3, now()));
  await clockPast(log);
  const first = (await t.json('POST', '/v1/billing/close')).body.data[0];
  await send(t, log, generateEvents('w-late', 30, 4, now()));
  await clockPast(log);
  const second = (await t.json('POST', '/v1/billing/close')).body.data[0];
  expect([first.sequence, second.sequence]).toEqual([1, 2]);

  const deadline = Date.now() + 20_000;
  while (received.filter((r) => r.answered === 200).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));

  expect(received.every((r) => r.signatureValid)).toBe(true);
  const bodies = received.map((r) => JSON.parse(r.body));
  // the refused attempts are all of export 1; export 2 waits for it
  expect(bodies.map((b) => b.export.sequence)).toEqual([...Array(FAILURES + 1).fill(1), 2]);
  expect(received.map((r) => r.answered)).toEqual([...Array(FAILURES).fill(503), 200, 200]);
  expect(bodies[FAILURES]).toEqual({ type: 'billing.export.created', tenantId: t.tenantId, export: first });
  expect(bodies[FAILURES + 1].export).toEqual(second);
  // waits of 100, 200, 400 ms between attempts (a poll may add up to its 20 ms period)
  for (let i = 1; i <= FAILURES; i++) {
    const gap = received[i]!.atMs - received[i - 1]!.atMs;
    expect(gap).toBeGreaterThanOrEqual(BACKOFF_MS * 2 ** (i - 1));
    expect(gap).toBeLessThan(BACKOFF_MS * 2 ** (i - 1) + 5000); // generous: a loaded machine delays polls
  }
  // acknowledged exports are not sent again
  const count = received.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(received).toHaveLength(count);
});
