/** The cap of every cache of lookups unless one sets its own. */
export const CACHE_ENTRIES = 10_000;

export interface RefreshingCacheOptions<K, V> {
  /** Looks the value up where it is stored (the engine). */
  load: (key: K) => Promise<V>;
  /** The map key of a key made of parts (for example `${tenantId}/${id}`); it is never split again. */
  idOf: (key: K) => string;
  /** How long a value is trusted without asking again; 0 stores nothing (every get loads). */
  lifeSeconds: number;
  /** At most this many values are kept (default CACHE_ENTRIES): when full, the map is cleared (a burst of new keys cannot grow it). */
  maxEntries?: number;
  /** Whether a loaded value is kept (default: always); a value not kept also drops what was there. */
  keep?: (value: V) => boolean;
}

/**
 * Per-process caches of lookups that every request makes (key resolutions,
 * tenants, link revocations, meter definitions), all by one rule:
 * - a value is trusted for `lifeSeconds`;
 * - once past half its life, a hit answers at once and refreshes it in the
 *   background (at most one refresh per key), so a steady caller never waits
 *   for a lookup, which on the embedded engine can queue behind a long read;
 * - what this process changes (`forget`, `set`) holds here at once: a lookup
 *   that was under way when any change was made returns its answer but does
 *   not store it, so an answer read before the change cannot come back after it;
 * - concurrent misses of one key share one lookup (a burst of requests for a
 *   key not cached, as after a start or an expiry, sends one statement, not one
 *   each), unless a change was made after that lookup began: a get after a
 *   change never takes an answer read before it. With a life of 0, and in
 *   `load`, every call looks up anew.
 * Other processes see a change within `lifeSeconds`.
 */
export class RefreshingCache<K, V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly refreshing = new Set<string>();
  /** The lookup under way for a missed key, and the count of changes when it began (see `get`). */
  private readonly pending = new Map<string, { value: Promise<V>; changes: number }>();
  /** Changes made through this cache so far (see the class comment). */
  private changes = 0;
  private readonly lifeMs: number;

  constructor(private readonly options: RefreshingCacheOptions<K, V>) {
    this.lifeMs = options.lifeSeconds * 1000;
  }

  /** The cached value, or the stored one when none is cached or it expired. */
  async get(key: K): Promise<V> {
    const hit = this.hit(key);
    if (hit) return hit.value;
    if (this.lifeMs <= 0) return this.load(key); // nothing is cached: no caller takes another's answer either
    const id = this.options.idOf(key);
    const shared = this.pending.get(id);
    if (shared && shared.changes === this.changes) return shared.value;
    const value = this.load(key);
    const entry = { value, changes: this.changes };
    this.pending.set(id, entry);
    const done = () => {
      if (this.pending.get(id) === entry) this.pending.delete(id);
    };
    value.then(done, done);
    return value;
  }

  /** The cached value if there is one that has not expired (refreshed in the background past half its life). */
  hit(key: K): { value: V } | undefined {
    const id = this.options.idOf(key);
    const entry = this.entries.get(id);
    if (!entry || entry.expiresAt <= Date.now()) return undefined;
    if (entry.expiresAt - Date.now() < this.lifeMs / 2 && !this.refreshing.has(id)) {
      this.refreshing.add(id);
      this.load(key)
        .catch(() => undefined)
        .finally(() => this.refreshing.delete(id));
    }
    return { value: entry.value };
  }

  /** The stored value, looked up now; cached unless a change was made meanwhile. */
  async load(key: K): Promise<V> {
    const changes = this.changes;
    const value = await this.options.load(key);
    if (this.changes === changes) this.store(this.options.idOf(key), value);
    return value;
  }

  /** This process changed the value: it holds here at once. */
  set(key: K, value: V): void {
    this.changes++;
    this.store(this.options.idOf(key), value);
  }

  /** This process changed or removed the value: the next get looks it up. */
  forget(key: K): void {
    this.changes++;
    this.entries.delete(this.options.idOf(key));
  }

  private store(id: string, value: V): void {
    if (this.lifeMs <= 0 || (this.options.keep && !this.options.keep(value))) {
      this.entries.delete(id);
      return;
    }
    if (this.entries.size >= (this.options.maxEntries ?? CACHE_ENTRIES) && !this.entries.has(id)) this.entries.clear();
    this.entries.set(id, { value, expiresAt: Date.now() + this.lifeMs });
  }
}
