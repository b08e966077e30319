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

type Method = (...args: unknown[]) => unknown;

/** The statements of a chdb connection (chdb/connection) and of its extension (`connection.chdb`) that run to their end. */
const CHAINED = new Set(['query', 'exec', 'command', 'insert', 'ping', 'close']);
const CHAINED_EXTENSION = new Set(['queryAsync', 'rawInsert', 'streamInsert']);

/** `target` with its methods named in `chained` run through `chain`, `refused` refused, and the rest its own. */
function chainMethods<T extends object>(target: T, chain: StatementChain, chained: Set<string>, refused?: string, nested?: (value: object) => object): T {
  return new Proxy(target, {
    get(inner, prop) {
      const value: unknown = Reflect.get(inner, prop, inner);
      if (nested && prop === 'chdb' && typeof value === 'object' && value !== null) return nested(value);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string') return (value as Method).bind(inner);
      if (prop === refused) return () => Promise.reject(new Error(`${prop} is not available on a chained connection (sql/statement-chain.ts)`));
      const method = value as Method;
      if (!chained.has(prop)) return method.bind(inner);
      return (...args: unknown[]) => chain.run(async () => method.apply(inner, args));
    },
  });
}

/**
 * A chdb connection (chdb/connection, possibly already wrapped) whose every
 * statement, its extension's included, runs through one StatementChain.
 * `connection.chdb.queryStream` is refused: its answer is read after the call
 * returns, so the chain could not tell when it ends.
 */
export function chainedConnection<C extends object>(connection: C): C {
  const chain = new StatementChain(async () => {
    const { stream } = await (connection as unknown as { query(p: { query: string }): Promise<{ stream: AsyncIterable<unknown> }> }).query({
      query: 'SELECT 1',
    });
    // The leftover and the drain's own answer, read and dropped.
    for await (const _ of stream);
  });
  return chainMethods(connection, chain, CHAINED, undefined, (extension) => chainMethods(extension, chain, CHAINED_EXTENSION, 'queryStream'));
}
