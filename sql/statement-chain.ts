/**
 * One embedded connection's statements, one after another, never reading what
 * a failed statement left behind.
 *
 * chdb (3.4.0, the latest) keeps the output a statement had written before it
 * failed (rows already formatted when a time limit, a throwIf or a memory limit
 * stopped it) in the connection's buffer, and hands it to the next statement on
 * that connection as the start of its own answer. A statement that succeeds
 * takes it with it (an insert drops it). The connection is the engine's
 * session, shared by every caller a reader or the analyst connection serves, so
 * the next answer can be another tenant's request: its rows parsed after
 * the failed statement's rows, or the analyst guard's one-row answer
 * unreadable (503). test/statement-chain.test.ts shows it on the engine.
 *
 * So each connection runs its statements through a chain: a statement starts
 * after the one before it has settled (the native connection runs one at a
 * time anyway: two `SELECT sleep(1)` sent at once on one connection took 2.0 s), and after a failure a drain
 * (`SELECT 1`) takes the leftover before anything else runs. A drain that
 * fails is tried again before the next statement, which fails with its error
 * rather than read the leftover.
 *
 * Server mode needs none of this: each HTTP request is its own session.
 */
export class StatementChain {
  private tail: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(private readonly drain: () => Promise<unknown>) {}

  private async clean(): Promise<void> {
    if (!this.dirty) return;
    await this.drain();
    this.dirty = false;
  }

  /** Run `statement` after every earlier one has settled (and been drained, if it failed). */
  run<T>(statement: () => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      await this.clean();
      try {
        return await statement();
      } catch (error) {
        this.dirty = true;
        throw error;
      }
    });
    // Drain at once after a failure, so the next statement normally finds the connection clean; a failed
    // drain leaves it dirty for the next statement's own attempt.
    this.tail = result.then(
      () => undefined,
      () => this.clean().catch(() => undefined),
    );
    return result;
  }
}

const CHAINED = new Set(['query', 'exec', 'command', 'insert', 'ping', 'close']);

/** The calls of chdb's extension (`connection.chdb`) that run a statement to its end. */
const CHAINED_EXTENSION = new Set(['queryAsync', 'rawInsert', 'streamInsert']);

/**
 * A chdb connection (chdb/connection, possibly already wrapped) whose every
 * statement, its extension's included, runs through one StatementChain.
 * `connection.chdb.queryStream` is refused: its answer is read after the call
 * returns, so the chain could not tell when it ends.
 */
export function chainedConnection<C extends object>(connection: C): C & { statementChain: StatementChain } {
  const call = (target: object, name: string) => Reflect.get(target, name, target) as (...args: unknown[]) => Promise<unknown>;
  const chain = new StatementChain(async () => {
    const result = (await call(connection, 'query').call(connection, { query: 'SELECT 1' })) as { stream: AsyncIterable<unknown> };
    // The leftover and the drain's own answer, read and dropped.
    for await (const _ of result.stream);
  });
  const extension = (target: object) =>
    new Proxy(target, {
      get(inner, prop) {
        const value: unknown = Reflect.get(inner, prop, inner);
        if (typeof value !== 'function' || typeof prop !== 'string') return value;
        if (prop === 'queryStream') return () => Promise.reject(new Error('queryStream is not available on a chained connection (sql/statement-chain.ts)'));
        if (!CHAINED_EXTENSION.has(prop)) return (value as (...args: unknown[]) => unknown).bind(inner);
        return (...args: unknown[]) => chain.run(() => call(inner, prop).apply(inner, args));
      },
    });
  return new Proxy(connection, {
    get(target, prop) {
      if (prop === 'statementChain') return chain;
      const value: unknown = Reflect.get(target, prop, target);
      if (prop === 'chdb' && typeof value === 'object' && value !== null) return extension(value);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || !CHAINED.has(prop)) return (value as (...args: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => chain.run(() => call(target, prop).apply(target, args));
    },
  }) as C & { statementChain: StatementChain };
}
