import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * The kinds of signed link. Each kind reaches only the routes that declare its
 * link scope (`link:<kind>`, access/scopes.ts). 'portal': a customer's usage
 * dashboard. 'sql-console': the analyst SQL console of a tenant (short-lived,
 * minted by a key with scope `sql`). Each kind gets the same signing,
 * verification and revocation.
 */
export const LINK_KINDS = ['portal', 'sql-console'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** What a link token says. Everything a request needs is in it; the stored row only says whether it was revoked. */
export interface LinkClaims {
  kind: LinkKind;
  linkId: string;
  tenantId: string;
  /** The customer of a dashboard link; '' for a console link (it is fixed to no customer). */
  customerId: string;
  /** Meter keys the link may read; null: every meter of the tenant. */
  meters: string[] | null;
  expiresAtMs: number;
  /** The key that minted the link (history and audit name it); absent in tokens signed before it was carried. */
  createdBy?: string | undefined;
}

/** Tokens start with this, so a bearer credential is told from an API key (mh_) and the operator's (mho_) without a lookup. */
export const LINK_PREFIX = 'mhl_';

const claimsSchema = z.strictObject({
  v: z.literal(1),
  k: z.enum(LINK_KINDS),
  i: z.string().min(1).max(64),
  t: z.string().min(1).max(256),
  c: z.string().max(256),
  m: z.array(z.string().min(1).max(64)).max(16).nullable(),
  x: z.number().int(),
  b: z.string().min(1).max(64).optional(),
});

export type VerifyResult = { ok: true; claims: LinkClaims } | { ok: false; reason: 'invalid' | 'expired' };

/**
 * Link tokens: `mhl_<payload>.<signature>`, the payload base64url JSON of the
 * claims, the signature HMAC-SHA256 over `mhl_<payload>` with the signing key
 * (compact, no header to negotiate: one algorithm, one version). Verifying
 * needs only the key, so every instance that shares the key accepts a link.
 */
export class LinkTokens {
  private readonly key: Buffer;

  constructor(signingKey: string) {
    if (signingKey.length < 24) throw new Error('the link signing key must be at least 24 characters');
    this.key = Buffer.from(signingKey, 'utf8');
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.key).update(data).digest();
  }

  sign(c: LinkClaims): string {
    const payload = Buffer.from(
      JSON.stringify({ v: 1, k: c.kind, i: c.linkId, t: c.tenantId, c: c.customerId, m: c.meters, x: c.expiresAtMs, b: c.createdBy }),
    ).toString('base64url');
    const signed = `${LINK_PREFIX}${payload}`;
    return `${signed}.${this.mac(signed).toString('base64url')}`;
  }

  /** The claims of a token this key signed, unless it has expired at `nowMs`. Revocation is the store's (access/links.ts). */
  verify(token: string, nowMs: number): VerifyResult {
    const dot = token.lastIndexOf('.');
    if (!token.startsWith(LINK_PREFIX) || dot < 0) return { ok: false, reason: 'invalid' };
    const signed = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), 'base64url');
    const expected = this.mac(signed);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(signed.slice(LINK_PREFIX.length), 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    const parsed = claimsSchema.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: 'invalid' };
    const p = parsed.data;
    // Only a console link is fixed to no customer.
    if (p.c === '' && p.k !== 'sql-console') return { ok: false, reason: 'invalid' };
    if (p.x <= nowMs) return { ok: false, reason: 'expired' };
    return { ok: true, claims: { kind: p.k, linkId: p.i, tenantId: p.t, customerId: p.c, meters: p.m, expiresAtMs: p.x, createdBy: p.b } };
  }
}
