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
export function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the summary must say once every generated event is stored: distinct events and their exact sum per metric. */
export interface BenchTruth {
  events: number;
  /** Sum in thousandths (every generated quantity has at most 3 fraction digits). */
  thousandths: Map<string, bigint>;
}

export const newTruth = (): BenchTruth => ({ events: 0, thousandths: new Map() });

/** A truth's sums as exact decimal strings, per metric. */
export function truthSums(truth: BenchTruth): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [metric, t] of truth.thousandths) out[metric] = `${t / 1000n}.${(t % 1000n).toString().padStart(3, '0')}`;
  return out;
}

/**
 * BENCH_RANDOM_IDS=1: ids in random order, as UUIDv4 ids are (a deterministic hash of the index
 * before it), instead of increasing with the index. The writer's identity lookup reads every
 * granule whose id range holds an id of the batch: with increasing ids a batch's ids are in a
 * few granules, with random ids in all of them (docs/benchmarks.md, "Identity lookup").
 */
const RANDOM_IDS = process.env.BENCH_RANDOM_IDS === '1';
const idOf = (prefix: string, n: number): string => {
  const tail = n.toString(36).padStart(8, '0');
  if (!RANDOM_IDS) return `${prefix}-${tail}`;
  const h = prng(n ^ 0x5bd1e995);
  const hex8 = () =>
    Math.floor(h() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return `${prefix}-${hex8()}${hex8()}-${tail}`;
};

/** Events as `prefix`-tagged ids; redeliveries (same id, same payload) at `duplicateRate`; counted into `truth` once per id. */
export function* eventBatches(shape: BenchShape, batchSize: number, truth?: BenchTruth, prefix = 'evt'): Generator<object[]> {
  const rand = prng(42);
  const spanMs = shape.days * 86_400_000;
  let batch: object[] = [];
  // A "redelivery" of an index that was itself a redelivery is the first delivery of that id.
  const sent = truth ? new Uint8Array(shape.events) : undefined;
  for (let i = 0; i < shape.events; i++) {
    const redeliver = i > 0 && rand() < shape.duplicateRate;
    const n = redeliver ? Math.floor(rand() * i) : i;
    const r = prng(n + 1);
    // skewed: a few customers send most events
    const customer = Math.floor(shape.customers * r() ** 3);
    const metric = METRICS[Math.floor(r() * METRICS.length)]!;
    const timestamp = shape.endMs - Math.floor(r() * spanMs);
    const quantity = metric === 'api.calls' ? 1 : (r() * 100).toFixed(3);
    if (truth && sent && !sent[n]) {
      sent[n] = 1;
      truth.events++;
      truth.thousandths.set(metric, (truth.thousandths.get(metric) ?? 0n) + BigInt(Math.round(Number(quantity) * 1000)));
    }
    batch.push({
      eventId: idOf(prefix, n),
      customerId: `cust-${customer}`,
      metricName: metric,
      timestamp,
      quantity,
      dimensions: { region: REGIONS[Math.floor(r() * REGIONS.length)]! },
    });
    if (batch.length === batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
