import type { Registry } from 'prom-client';

/**
 * A Prometheus histogram fed with counts per bucket rather than single
 * observations: the engine counts a scrape's worth of rows per bucket in SQL
 * (a million rows is one query, not a million observe() calls). Buckets are
 * fixed upper bounds in seconds; +Inf is added.
 */
export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: number[];
  private sum = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
    registry: Registry,
    private readonly refresh: () => Promise<void>,
  ) {
    this.counts = buckets.map(() => 0).concat(0);
    registry.registerMetric(this as never);
  }

  /** Add `count` observations whose value is at most buckets[index] (index = buckets.length: above every bound), `sum` in seconds. */
  add(index: number, count: number, sum: number): void {
    this.counts[Math.min(index, this.buckets.length)]! += count;
    this.sum += sum;
  }

  /** The bucket a value falls in: the first bound at or above it. */
  indexOf(seconds: number): number {
    const i = this.buckets.findIndex((b) => seconds <= b);
    return i === -1 ? this.buckets.length : i;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
  }

  async get() {
    await this.refresh();
    let cumulative = 0;
    const bounds = [...this.buckets.map(String), '+Inf'];
    const values = bounds.map((le, i) => {
      cumulative += this.counts[i]!;
      return { labels: { le }, value: cumulative, metricName: `${this.name}_bucket` };
    });
    values.push({ labels: {} as { le: string }, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {} as { le: string }, value: cumulative, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
