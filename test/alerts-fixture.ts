import { createServer, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TestTenant } from './harness.js';
import { waitFor } from './wait.js';

export const HOOK_SECRET = 'alerts-webhook-secret-0123456789';

export interface Delivery {
  tenantId: string;
  deliveryId: string;
  signatureValid: boolean;
  status: number;
  alert: { id: string; threshold: string; value: string; customerId: string; ruleId: string; periodStart: string | null; thresholdValue: string };
}

/** A tenant's webhook receiver: verifies the signature; `answer` decides the status (a receiver that is down answers 503). */
export interface Receiver {
  url: string;
  deliveries: Delivery[];
  answer: (d: Omit<Delivery, 'status'>) => number;
  /** Acknowledged deliveries of one tenant, deduplicated on X-Meterhouse-Delivery as a receiver must, in arrival order. */
  acknowledged(tenantId: string): Delivery[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const r: Receiver = {
    url: '',
    deliveries: [],
    answer: () => 200,
    acknowledged(tenantId) {
      const seen = new Set<string>();
      return r.deliveries.filter((d) => d.tenantId === tenantId && d.status === 200 && !seen.has(d.deliveryId) && seen.add(d.deliveryId));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const expected = Buffer.from(`sha256=${createHmac('sha256', HOOK_SECRET).update(body).digest('hex')}`);
      const given = Buffer.from(String(req.headers['x-meterhouse-signature'] ?? ''));
      const parsed = JSON.parse(body) as { type: string; tenantId: string; alert: Delivery['alert'] };
      const d = {
        tenantId: parsed.tenantId,
        deliveryId: String(req.headers['x-meterhouse-delivery']),
        signatureValid: given.length === expected.length && timingSafeEqual(given, expected),
        alert: parsed.alert,
      };
      const status = parsed.type === 'alert.crossed' && d.signatureValid ? r.answer(d) : 400;
      r.deliveries.push({ ...d, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/alerts`;
  return r;
}

export async function useReceiver(t: TestTenant, r: Receiver): Promise<void> {
  const res = await t.json('PUT', '/v1/webhooks', { body: { url: r.url, secret: HOOK_SECRET } });
  if (res.status !== 200) throw new Error(`webhook not set: ${JSON.stringify(res.body)}`);
}

export async function createRule(t: TestTenant, rule: Record<string, unknown>): Promise<string> {
  const res = await t.json('POST', '/v1/alerts/rules', { body: rule });
  if (res.status !== 201) throw new Error(`rule not created: ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

export async function sendEvents(t: TestTenant, events: object[]): Promise<void> {
  const res = await t.json('POST', '/v1/events', { body: events });
  if (res.status >= 300) throw new Error(`events not accepted: ${res.status} ${JSON.stringify(res.body)}`);
}

export const crossings = async (t: TestTenant, query = ''): Promise<any[]> => (await t.json('GET', `/v1/alerts/events${query}`)).body.data;

/** Waits until the tenant's receiver has acknowledged `n` distinct crossings. */
export async function acknowledgedCount(r: Receiver, tenantId: string, n: number, timeoutMs = 20_000): Promise<Delivery[]> {
  await waitFor(
    `${n} acknowledged alert deliveries`,
    () => r.acknowledged(tenantId).length >= n,
    timeoutMs,
    () => r.acknowledged(tenantId).map((d) => d.alert.threshold),
  );
  return r.acknowledged(tenantId);
}

/**
 * The oracle: a meter's exact SUM from the events sent, as the product's
 * promise defines it: per eventId the first payload wins, an amendment
 * replaces the quantity, a void removes it.
 */
export class SumOracle {
  private first = new Map<string, { customerId: string; timestamp: number; quantity: string }>();
  send(events: { eventId: string; customerId: string; timestamp: number; quantity: string }[]): void {
    for (const e of events) if (!this.first.has(e.eventId)) this.first.set(e.eventId, e);
  }
  amend(eventId: string, quantity: string): void {
    this.first.get(eventId)!.quantity = quantity;
  }
  void(eventId: string): void {
    this.first.delete(eventId);
  }
  /** In units of 1e-9, within [fromMs, toMs). */
  value(customerId: string, fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): string {
    let sum = 0n;
    for (const e of this.first.values()) {
      if (e.customerId !== customerId || e.timestamp < fromMs || e.timestamp >= toMs) continue;
      const [w, f = ''] = e.quantity.split('.');
      sum += BigInt(w!) * 1_000_000_000n + BigInt(f.padEnd(9, '0'));
    }
    const whole = sum / 1_000_000_000n;
    const frac = (sum % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
    return frac ? `${whole}.${frac}` : `${whole}`;
  }
}

/** The thresholds an exact value has reached, in order (rising). */
export const reachedThresholds = (value: string, thresholds: string[]) =>
  thresholds.filter((t) => Number(t) <= Number(value)).sort((a, b) => Number(a) - Number(b));

/** A tenant on a runtime of the test's own (one it restarts on the same data directory), acting through that runtime's app. */
export async function tenantOn(
  runtime: () => {
    app: { request(path: string, init: RequestInit): Response | Promise<Response> };
    deps: { db: import('../sql/query.js').Db; access: { keys: { create(t: string, n: string, s: ['admin']): Promise<{ secret: string }> } } };
  },
  tenantId: string,
): Promise<TestTenant> {
  const { writeTenant } = await import('../sql/queries/tenancy.js');
  await writeTenant(runtime().deps.db, tenantId, tenantId);
  const { secret } = await runtime().deps.access.keys.create(tenantId, 'test admin', ['admin']);
  const request: TestTenant['request'] = async (method, path, init = {}) => {
    const body = init.body === undefined ? init.raw : JSON.stringify(init.body);
    const headers: Record<string, string> = { authorization: `Bearer ${secret}`, ...init.headers };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    return runtime().app.request(path, { method, headers, body });
  };
  return {
    tenantId,
    adminKey: secret,
    request,
    json: async (m, p, init) => {
      const res = await request(m, p, init);
      return { status: res.status, body: (await res.json()) as any, headers: res.headers };
    },
  };
}
