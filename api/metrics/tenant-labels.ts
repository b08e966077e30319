/** The label value of every tenant past the bound. */
export const OTHER_TENANTS = '_other';

/**
 * Bounds the cardinality of `tenant` labels: the first `max` tenants this
 * process sees get their own label value; every later one shares
 * OTHER_TENANTS. A process restart re-learns the set, so the series of one
 * scrape target never exceed max + 1 per metric and outcome.
 */
export class TenantLabels {
  private readonly named = new Set<string>();

  constructor(private readonly max: number) {}

  of(tenantId: string): string {
    if (this.named.has(tenantId)) return tenantId;
    if (this.named.size >= this.max) return OTHER_TENANTS;
    this.named.add(tenantId);
    return tenantId;
  }
}
