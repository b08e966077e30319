/**
 * Cache entries of keys and tenants are refreshed in the background once past
 * half their life, so a steady caller never waits for a lookup (which, on the
 * embedded engine, can queue behind a long read); at most one refresh per key.
 */
export class BackgroundRefresh<K> {
  private readonly running = new Set<K>();

  constructor(
    private readonly load: (key: K) => Promise<unknown>,
    private readonly lifeMs: number,
  ) {}

  /** Call on a cache hit that expires at `expiresAt`. */
  touch(key: K, expiresAt: number): void {
    if (expiresAt - Date.now() >= this.lifeMs / 2 || this.running.has(key)) return;
    this.running.add(key);
    this.load(key)
      .catch(() => undefined)
      .finally(() => this.running.delete(key));
  }
}
