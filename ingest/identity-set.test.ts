import { describe, expect, it } from 'vitest';
import { IdentitySet } from './identity-set.js';

describe('IdentitySet', () => {
  it('holds (tenant, event id) pairs: one id in two tenants is two identities, a repeat is one', () => {
    const set = new IdentitySet();
    set.add({ tenant_id: 't1', event_id: 'e1' });
    set.add({ tenant_id: 't2', event_id: 'e1' });
    set.add({ tenant_id: 't1', event_id: 'e1' });
    // Joined naively, ('t1', '2:x') and ('t1:2', 'x') would be one string: here they stay apart.
    set.add({ tenant_id: 't1', event_id: '2:x' });
    expect(set.size).toBe(3);
    expect(set.has({ tenant_id: 't1', event_id: 'e1' })).toBe(true);
    expect(set.has({ tenant_id: 't2', event_id: 'e1' })).toBe(true);
    expect(set.has({ tenant_id: 't3', event_id: 'e1' })).toBe(false);
    expect(set.has({ tenant_id: 't1:2', event_id: 'x' })).toBe(false);
    expect(set.has({ tenant_id: 't2', event_id: 'e2' })).toBe(false);
  });
});
