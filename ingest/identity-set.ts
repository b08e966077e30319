import type { Identity } from '../sql/queries/event-lookup.js';

/**
 * A set of (tenant, event id) identities: one set of ids per tenant. No string joins the two (a new
 * string per row and per look-up): an id's hash is computed once, kept with the string, and reused.
 */
export class IdentitySet {
  private readonly byTenant = new Map<string, Set<string>>();
  size = 0;

  add(row: Identity): void {
    let ids = this.byTenant.get(row.tenant_id);
    if (!ids) this.byTenant.set(row.tenant_id, (ids = new Set()));
    const before = ids.size;
    ids.add(row.event_id);
    this.size += ids.size - before;
  }

  has(row: Identity): boolean {
    return this.byTenant.get(row.tenant_id)?.has(row.event_id) === true;
  }
}
