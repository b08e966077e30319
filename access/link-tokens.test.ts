import { describe, expect, it } from 'vitest';
import { LinkTokens, type LinkClaims } from './link-tokens.js';

const KEY = 'test-signing-key-0123456789abcdef';
const claims: LinkClaims = { kind: 'portal', linkId: 'lnk_1', tenantId: 't1', customerId: 'c1', meters: ['api-calls'], expiresAtMs: 2_000_000 };

describe('link tokens', () => {
  const tokens = new LinkTokens(KEY);

  it('verifies what it signed, until it expires', () => {
    const token = tokens.sign(claims);
    expect(token.startsWith('mhl_')).toBe(true);
    expect(tokens.verify(token, 1_999_999)).toEqual({ ok: true, claims });
    expect(tokens.verify(token, 2_000_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token signed with another key, or with any byte of its claims changed', () => {
    const token = tokens.sign(claims);
    expect(new LinkTokens('another-signing-key-0123456789ab').verify(token, 0)).toEqual({ ok: false, reason: 'invalid' });
    const [payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!.slice(4), 'base64url').toString()), c: 'c2' })).toString('base64url');
    expect(tokens.verify(`mhl_${forged}.${signature}`, 0)).toEqual({ ok: false, reason: 'invalid' });
    expect(tokens.verify(token.slice(0, -2), 0)).toEqual({ ok: false, reason: 'invalid' });
    expect(tokens.verify('mh_not-a-link', 0)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('carries the minting key, and lets only a console link be fixed to no customer', () => {
    const consoleLink = {
      kind: 'sql-console',
      linkId: 'lnk_2',
      tenantId: 't1',
      customerId: '',
      meters: null,
      expiresAtMs: 2_000_000,
      createdBy: 'key_1',
    } as const;
    expect(tokens.verify(tokens.sign(consoleLink), 0)).toEqual({ ok: true, claims: consoleLink });
    expect(tokens.verify(tokens.sign({ ...consoleLink, kind: 'portal' }), 0)).toEqual({ ok: false, reason: 'invalid' });
  });
});
