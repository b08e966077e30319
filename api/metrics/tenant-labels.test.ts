import { describe, expect, it } from 'vitest';
import { OTHER_TENANTS, TenantLabels } from './tenant-labels.js';

describe('tenant labels', () => {
  it('names the first max tenants and folds every later one into one value', () => {
    const labels = new TenantLabels(2);
    expect([labels.of('a'), labels.of('b'), labels.of('c'), labels.of('a'), labels.of('d')]).toEqual(['a', 'b', OTHER_TENANTS, 'a', OTHER_TENANTS]);
  });
});
