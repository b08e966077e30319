import { describe, expect, it } from 'vitest';
import { OPERATOR_SCOPE, ROLE_SCOPES, SCOPES, grants, normaliseScopes, roleOf } from './scopes.js';

describe('scopes', () => {
  it('admin grants every tenant scope and not the operator scope', () => {
    for (const s of SCOPES) expect(grants(['admin'], s), s).toBe(true);
    expect(grants(['admin'], OPERATOR_SCOPE)).toBe(false);
    expect(grants([OPERATOR_SCOPE], 'usage:read')).toBe(false);
    expect(grants([OPERATOR_SCOPE], OPERATOR_SCOPE)).toBe(true);
  });

  it('a scope grants itself only', () => {
    for (const held of SCOPES.filter((s) => s !== 'admin')) {
      for (const needed of SCOPES) expect(grants([held], needed), `${held} -> ${needed}`).toBe(held === needed);
    }
  });

  it('the old standard role is exactly what it could do: send events, read usage, read exports', () => {
    expect(ROLE_SCOPES.standard).toEqual(['events:write', 'usage:read', 'billing:read']);
    expect(roleOf(['billing:read', 'usage:read', 'events:write', 'usage:read'])).toBe('standard');
    expect(roleOf(['admin'])).toBe('admin');
    expect(roleOf(['usage:read'])).toBeNull();
    expect(normaliseScopes(['admin', 'sql', 'sql', 'events:write'])).toEqual(['events:write', 'sql', 'admin']);
  });
});
