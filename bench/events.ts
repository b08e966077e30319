/** A realistic, deterministic usage event set: skewed customers, several metrics, decimal quantities, a few redeliveries. */
export interface BenchShape {
  events: number;
  customers: number;
  days: number;
  duplicateRate: number;
  endMs: number;
}

const METRICS = ['api.calls', 'compute.seconds', 'storage.gb_hours', 'egress.bytes', 'tokens'] as const;
const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1'] as const;

/** Mulberry32: small seeded PRNG so every run generates the same events. */
function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function* eventBatches(shape: BenchShape, batchSize: number): Generator<object[]> {
  const rand = prng(42);
  const spanMs = shape.days * 86_400_000;
  let batch: object[] = [];
  for (let i = 0; i < shape.events; i++) {
    const redeliver = i > 0 && rand() < shape.duplicateRate;
    const n = redeliver ? Math.floor(rand() * i) : i;
    const r = prng(n + 1);
    // skewed: a few customers send most events
    const customer = Math.floor(shape.customers * r() ** 3);
    const metric = METRICS[Math.floor(r() * METRICS.length)]!;
    batch.push({
      eventId: `evt-${n.toString(36).padStart(8, '0')}`,
      customerId: `cust-${customer}`,
      metricName: metric,
      timestamp: shape.endMs - Math.floor(r() * spanMs),
      quantity: metric === 'api.calls' ? 1 : (r() * 100).toFixed(3),
      dimensions: { region: REGIONS[Math.floor(r() * REGIONS.length)]! },
    });
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
