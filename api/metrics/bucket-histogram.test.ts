import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from './bucket-histogram.js';

describe('bucket histogram', () => {
  it('renders counts per bucket as a cumulative Prometheus histogram', async () => {
    const registry = new Registry();
    let refreshed = 0;
    const h = new BucketHistogram('t_seconds', 'test', [1, 5], registry, async () => {
      refreshed++;
    });
    h.add(h.indexOf(0.5), 3, 1.5);
    h.add(h.indexOf(5), 2, 10);
    h.add(h.indexOf(60), 1, 60);
    const text = await registry.metrics();
    expect(refreshed).toBe(1);
    expect(text).toContain('# TYPE t_seconds histogram');
    expect(text).toContain('t_seconds_bucket{le="1"} 3\nt_seconds_bucket{le="5"} 5\nt_seconds_bucket{le="+Inf"} 6\nt_seconds_sum 71.5\nt_seconds_count 6');
  });
});
