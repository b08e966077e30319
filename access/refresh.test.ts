import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RefreshingCache, type RefreshingCacheOptions } from './refresh.js';

/** Lets pending promise callbacks run (only Date is faked here). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A cache over a store whose lookups are counted and, when `held`, wait until released:
 * `store` holds the value each key would read now.
 */
function cacheOver(options: Partial<RefreshingCacheOptions<string, string | undefined>> = {}) {
  const store = new Map<string, string | undefined>();
  const loads: string[] = [];
  let gate: Promise<void> | undefined;
  let release = () => {};
  const cache = new RefreshingCache<string, string | undefined>({
    load: async (key) => {
      loads.push(key);
      const value = store.get(key);
      if (gate) await gate;
      if (value === 'fail') throw new Error('lookup failed');
      return value;
    },
    idOf: (key) => key,
    lifeSeconds: 10,
    maxEntries: 100,
    ...options,
  });
  return {
    cache,
    store,
    loads,
    hold: () => void (gate = new Promise((resolve) => (release = resolve))),
    release: () => (release(), (gate = undefined)),
  };
}

describe('RefreshingCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
  });
  afterEach(() => void vi.useRealTimers());

  it('answers from the cache within its life and looks the value up again once it expired', async () => {
    const { cache, store, loads } = cacheOver();
    store.set('a', 'one');
    expect(await cache.get('a')).toBe('one');
    store.set('a', 'two');
    vi.advanceTimersByTime(4_999);
    expect(await cache.get('a')).toBe('one');
    expect(loads).toEqual(['a']);
    vi.advanceTimersByTime(5_001); // exactly at its expiry
    expect(cache.hit('a')).toBeUndefined();
    expect(await cache.get('a')).toBe('two');
    expect(loads).toEqual(['a', 'a']);
  });

  it('past half its life, answers at once and refreshes in the background, one lookup however many hits', async () => {
    const { cache, store, loads, hold, release } = cacheOver();
    store.set('a', 'one');
    await cache.get('a');
    store.set('a', 'two');
    vi.advanceTimersByTime(6_000);
    hold();
    for (let i = 0; i < 5; i++) expect(await cache.get('a')).toBe('one');
    expect(loads).toEqual(['a', 'a']);
    release();
    await settle();
    expect(await cache.get('a')).toBe('two');
    // The refreshed value has a life of its own: still served after the first one's expiry (at 10 s), and not yet
    // past half its own (it expires at 16 s).
    vi.advanceTimersByTime(4_500);
    expect(cache.hit('a')).toEqual({ value: 'two' });
    expect(loads).toEqual(['a', 'a']);
  });

  it('a failed background refresh keeps the value until it expires, and a later hit tries again', async () => {
    const { cache, store, loads } = cacheOver();
    store.set('a', 'one');
    await cache.get('a');
    store.set('a', 'fail');
    vi.advanceTimersByTime(6_000);
    expect(await cache.get('a')).toBe('one');
    await settle();
    expect(await cache.get('a')).toBe('one');
    await settle();
    expect(loads).toEqual(['a', 'a', 'a']);
    vi.advanceTimersByTime(4_000);
    await expect(cache.get('a')).rejects.toThrow('lookup failed');
  });

  it('a lookup under way when this process forgets a value returns its answer without storing it', async () => {
    const { cache, store, loads, hold, release } = cacheOver();
    store.set('a', 'old');
    hold();
    const underWay = cache.get('a');
    await settle();
    store.set('a', 'new');
    cache.forget('a');
    release();
    expect(await underWay).toBe('old');
    expect(await cache.get('a')).toBe('new');
    expect(await cache.get('a')).toBe('new');
    expect(loads).toEqual(['a', 'a']);
  });

  it('a value set by this process is not replaced by a background refresh that read before the change', async () => {
    const { cache, store, hold, release } = cacheOver();
    store.set('a', 'live');
    await cache.get('a');
    vi.advanceTimersByTime(6_000);
    hold();
    expect(await cache.get('a')).toBe('live'); // starts a refresh, which reads 'live' and waits
    await settle();
    store.set('a', 'revoked');
    cache.set('a', 'revoked');
    release();
    await settle();
    expect(await cache.get('a')).toBe('revoked');
  });

  it('concurrent misses of a key share one lookup; other keys, and a get after the lookup ended, do not', async () => {
    const { cache, store, loads, hold, release } = cacheOver();
    store.set('a', 'A');
    store.set('b', 'B');
    hold();
    const gets = [...Array.from({ length: 10 }, () => cache.get('a')), cache.get('b')];
    await settle();
    expect(loads).toEqual(['a', 'b']);
    release();
    expect(await Promise.all(gets)).toEqual([...Array<string>(10).fill('A'), 'B']);
    vi.advanceTimersByTime(10_000); // expired: the next miss looks up again
    store.set('a', 'A2');
    expect(await cache.get('a')).toBe('A2');
    expect(loads).toEqual(['a', 'b', 'a']);
  });

  it('a get after a change does not share a lookup that began before it', async () => {
    const { cache, store, loads, hold, release } = cacheOver();
    store.set('a', 'old');
    hold();
    const before = cache.get('a');
    await settle();
    store.set('a', 'new');
    cache.forget('a');
    const after = [cache.get('a'), cache.get('a')]; // share the second lookup, not the first
    await settle();
    expect(loads).toEqual(['a', 'a']);
    release();
    expect(await before).toBe('old');
    expect(await Promise.all(after)).toEqual(['new', 'new']);
    expect(await cache.get('a')).toBe('new');
    expect(loads).toEqual(['a', 'a']);
  });

  it('a failed shared lookup fails each of its callers, and the next get looks up again', async () => {
    const { cache, store, loads, hold, release } = cacheOver();
    store.set('a', 'fail');
    hold();
    const gets = [cache.get('a'), cache.get('a'), cache.get('a')].map((p) =>
      p.then(
        () => 'ok',
        (e: Error) => e.message,
      ),
    );
    await settle();
    release();
    expect(await Promise.all(gets)).toEqual(['lookup failed', 'lookup failed', 'lookup failed']);
    store.set('a', 'back');
    expect(await cache.get('a')).toBe('back');
    expect(loads).toEqual(['a', 'a']);
  });

  it('with a life of 0 stores nothing: every get looks up, and set holds nothing', async () => {
    const { cache, store, loads } = cacheOver({ lifeSeconds: 0 });
    store.set('a', 'one');
    await cache.get('a');
    await cache.get('a');
    cache.set('a', 'two');
    expect(await cache.get('a')).toBe('one');
    expect(loads).toEqual(['a', 'a', 'a']);
    await Promise.all([cache.get('a'), cache.get('a')]); // nor do concurrent gets share a lookup
    expect(loads).toEqual(['a', 'a', 'a', 'a', 'a']);
  });

  it('a value refused by keep is not stored, and drops the one that was cached', async () => {
    const { cache, store, loads } = cacheOver({ keep: (value) => value !== undefined });
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.get('a')).toBeUndefined();
    expect(loads).toEqual(['a', 'a']);
    store.set('a', 'one');
    expect(await cache.get('a')).toBe('one');
    store.delete('a');
    vi.advanceTimersByTime(6_000);
    expect(await cache.get('a')).toBe('one'); // answered, and the background refresh finds it gone
    await settle();
    expect(cache.hit('a')).toBeUndefined();
  });

  it('holds at most maxEntries: a new key when full clears the map, a refreshed one does not', async () => {
    const { cache, store, loads } = cacheOver({ maxEntries: 2 });
    for (const key of ['a', 'b', 'c']) store.set(key, key.toUpperCase());
    await cache.get('a');
    await cache.get('b');
    await cache.load('b'); // full, but 'b' is already there
    expect(cache.hit('a')).toEqual({ value: 'A' });
    await cache.get('c'); // full: cleared, then 'c' stored
    expect(cache.hit('a')).toBeUndefined();
    expect(cache.hit('b')).toBeUndefined();
    expect(cache.hit('c')).toEqual({ value: 'C' });
    expect(loads).toEqual(['a', 'b', 'b', 'c']);
  });

  it('keys made of parts are stored under their id, and looked up with their parts', async () => {
    const seen: { tenantId: string; id: string }[] = [];
    const cache = new RefreshingCache<{ tenantId: string; id: string }, string>({
      load: async (key) => (seen.push(key), `${key.tenantId}:${key.id}`),
      idOf: ({ tenantId, id }) => `${tenantId}/${id}`,
      lifeSeconds: 10,
      maxEntries: 10,
    });
    expect(await cache.get({ tenantId: 't1', id: 'x/y' })).toBe('t1:x/y');
    expect(await cache.get({ tenantId: 't1', id: 'x/y' })).toBe('t1:x/y');
    expect(await cache.get({ tenantId: 't2', id: 'x/y' })).toBe('t2:x/y');
    expect(seen).toEqual([
      { tenantId: 't1', id: 'x/y' },
      { tenantId: 't2', id: 'x/y' },
    ]);
  });
});
