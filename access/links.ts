import { randomUUID } from 'node:crypto';
import type { Db } from '../sql/query.js';
import { linkById, liveLinks, writeLink, type LinkRow } from '../sql/queries/links.js';
import { RefreshingCache } from './refresh.js';
import { tenantScopedId } from './tenants.js';
import { LinkTokens, type LinkClaims, type LinkKind } from './link-tokens.js';

export interface LinkRecord {
  id: string;
  kind: LinkKind;
  customerId: string;
  meters: string[] | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export type LinkCheck = { ok: true; link: LinkClaims } | { ok: false; reason: 'invalid' | 'expired' | 'revoked' };

/** Stored as an empty array means every meter: a link to no meter at all is refused at issue. */
const recordOf = (r: LinkRow): LinkRecord => ({
  id: r.linkId,
  kind: r.kind as LinkKind,
  customerId: r.customerId,
  meters: r.meters.length === 0 ? null : r.meters,
  createdAt: r.createdAt,
  expiresAt: r.expiresAt,
  revokedAt: r.revokedAt,
});

/**
 * Signed, expiring, revocable links of every kind: issued, listed, revoked and
 * checked here. A token is verified by its signature and expiry alone; whether
 * it was revoked is read from access_links and cached for `cacheSeconds`
 * (refreshed in the background past half that), so a revocation made by any
 * instance is refused by every instance within `cacheSeconds`.
 */
export class LinkStore {
  /** Whether a link (by tenant and id) is issued and not revoked. */
  private readonly live: RefreshingCache<{ tenantId: string; linkId: string }, boolean>;

  constructor(
    private readonly db: Db,
    private readonly tokens: LinkTokens,
    private readonly now: () => number,
    cacheSeconds: number,
  ) {
    this.live = new RefreshingCache({
      load: (link) => this.isLive(link),
      idOf: ({ tenantId, linkId }) => tenantScopedId(tenantId, linkId),
      lifeSeconds: cacheSeconds,
    });
  }

  async issue(p: {
    tenantId: string;
    kind: LinkKind;
    customerId: string;
    meters: string[] | null;
    expiresInSeconds: number;
    createdBy: string;
  }): Promise<{ record: LinkRecord; token: string }> {
    const linkId = `lnk_${randomUUID().replaceAll('-', '')}`;
    const createdAtMs = this.now();
    const expiresAtMs = createdAtMs + p.expiresInSeconds * 1000;
    await writeLink(this.db, {
      tenantId: p.tenantId,
      linkId,
      kind: p.kind,
      customerId: p.customerId,
      meters: p.meters ?? [],
      createdAtMs,
      expiresAtMs,
      revokedAtMs: null,
      createdBy: p.createdBy,
    });
    const token = this.tokens.sign({
      kind: p.kind,
      linkId,
      tenantId: p.tenantId,
      customerId: p.customerId,
      meters: p.meters,
      expiresAtMs,
      createdBy: p.createdBy,
    });
    const iso = (ms: number) => new Date(ms).toISOString();
    return {
      token,
      record: {
        id: linkId,
        kind: p.kind,
        customerId: p.customerId,
        meters: p.meters,
        createdAt: iso(createdAtMs),
        expiresAt: iso(expiresAtMs),
        revokedAt: null,
      },
    };
  }

  async list(db: Db, p: { tenantId: string; kind: LinkKind; customerId?: string | undefined; limit: number }): Promise<LinkRecord[]> {
    const rows = await liveLinks(
      db,
      { tenantId: p.tenantId, kind: p.kind, customerId: p.customerId ?? null, nowMs: this.now(), limit: p.limit },
      { tenantId: p.tenantId },
    );
    return rows.map(recordOf);
  }

  async get(db: Db, tenantId: string, linkId: string): Promise<LinkRecord | undefined> {
    const [row] = await linkById(db, { tenantId, linkId }, { tenantId });
    return row && recordOf(row);
  }

  /** Revoke a link of this tenant; refused by this instance at once, by others within cacheSeconds. */
  async revoke(tenantId: string, linkId: string): Promise<LinkRecord | undefined> {
    const [row] = await linkById(this.db, { tenantId, linkId }, { tenantId });
    if (!row) return undefined;
    if (row.revokedAt !== null) return recordOf(row);
    const revokedAtMs = this.now();
    await writeLink(this.db, { ...row, createdAtMs: Date.parse(row.createdAt), expiresAtMs: Date.parse(row.expiresAt), revokedAtMs });
    this.live.set({ tenantId, linkId }, false);
    return { ...recordOf(row), revokedAt: new Date(revokedAtMs).toISOString() };
  }

  /** A bearer token: its claims when it is signed by our key, not expired, and issued and not revoked. */
  async check(token: string): Promise<LinkCheck> {
    const verified = this.tokens.verify(token, this.now());
    if (!verified.ok) return verified;
    const { tenantId, linkId } = verified.claims;
    return (await this.live.get({ tenantId, linkId })) ? { ok: true, link: verified.claims } : { ok: false, reason: 'revoked' };
  }

  private async isLive({ tenantId, linkId }: { tenantId: string; linkId: string }): Promise<boolean> {
    const [row] = await linkById(this.db, { tenantId, linkId }, { tenantId });
    // A signed token without a row (its row lost, or signed elsewhere with a leaked key) is refused like a revoked one.
    return row !== undefined && row.revokedAt === null;
  }
}
