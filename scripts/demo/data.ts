/**
 * The demo's sample (npm run demo): customers in several time zones and billing
 * cycles, meters, and three months of events up to `endMs`, with redeliveries
 * (the same eventId sent again, as a retrying service does). Deterministic for a
 * given seed, so a test can compute what every number must be.
 */
export interface DemoEvent {
  eventId: string;
  customerId: string;
  metricName: string;
  timestamp: string;
  quantity?: string;
  dimensions: Record<string, string>;
}

export const DEMO_CUSTOMERS = [
  { customerId: 'acme', name: 'Acme Corp', timezone: 'America/New_York', billingCycle: { interval: 'month', anchorDay: 1 } },
  { customerId: 'globex', name: 'Globex GmbH', timezone: 'Europe/Berlin', billingCycle: { interval: 'month', anchorDay: 15 } },
  { customerId: 'initech', name: 'Initech India', timezone: 'Asia/Kolkata', billingCycle: { interval: 'week', anchorDay: 1 } },
  { customerId: 'umbrella', name: 'Umbrella Ltd', timezone: 'UTC', billingCycle: { interval: 'month', anchorDay: 1 } },
] as const;

export const DEMO_METERS = [
  { key: 'api-calls', name: 'API calls', metricName: 'api.calls', aggregation: 'COUNT', groupBy: ['region', 'endpoint'], billable: true },
  { key: 'compute-seconds', name: 'Compute seconds', metricName: 'compute.seconds', aggregation: 'SUM', groupBy: ['region', 'model'], billable: true },
  { key: 'storage-gb', name: 'Storage (GB)', metricName: 'storage.gb', aggregation: 'LATEST', groupBy: ['region'], billable: false },
] as const;

const REGIONS = ['eu-west', 'us-east', 'ap-south'];
const ENDPOINTS = ['/search', '/upload', '/render'];
const MODELS = ['small', 'large'];
const DAY_MS = 86_400_000;

/** mulberry32: a small seeded generator, so the same seed gives the same sample. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface DemoSample {
  /** Every distinct event, once: what meterhouse must count. */
  events: DemoEvent[];
  /** What is sent: the events plus redeliveries of some of them, in request-sized batches. */
  batches: DemoEvent[][];
  redeliveries: number;
}

export function demoSample(options: { endMs: number; days?: number; eventsPerDay?: number; seed?: number; batchSize?: number }): DemoSample {
  const { endMs, days = 90, eventsPerDay = 400, seed = 20261130, batchSize = 5_000 } = options;
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const events: DemoEvent[] = [];
  const startMs = endMs - days * DAY_MS;
  for (let i = 0; i < days * eventsPerDay; i++) {
    // Spread over the whole span, a little denser in recent weeks (growth), never at or after endMs.
    const at = startMs + Math.floor(Math.sqrt(next()) * (endMs - startMs - 60_000));
    const customer = pick(DEMO_CUSTOMERS).customerId;
    const region = pick(REGIONS);
    const kind = next();
    const base = { eventId: `demo-${seed}-${i}`, customerId: customer, timestamp: new Date(at).toISOString() };
    if (kind < 0.6) events.push({ ...base, metricName: 'api.calls', dimensions: { region, endpoint: pick(ENDPOINTS) } });
    else if (kind < 0.9)
      events.push({
        ...base,
        metricName: 'compute.seconds',
        quantity: (Math.floor(next() * 360_000) / 1000).toFixed(3),
        dimensions: { region, model: pick(MODELS) },
      });
    else events.push({ ...base, metricName: 'storage.gb', quantity: (Math.floor(next() * 50_000) / 100).toFixed(2), dimensions: { region } });
  }
  // About 2% are sent twice, in a later batch, as a service that retried after a timeout would.
  const sent = [...events];
  let redeliveries = 0;
  for (const event of events) {
    if (next() < 0.02) {
      sent.push(event);
      redeliveries++;
    }
  }
  const batches: DemoEvent[][] = [];
  for (let i = 0; i < sent.length; i += batchSize) batches.push(sent.slice(i, i + batchSize));
  return { events, batches, redeliveries };
}
