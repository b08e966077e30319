/**
 * One read of a whole (small) table that many lookups share.
 *
 * Why: on the embedded engine chdb runs statements with bound parameters one at
 * a time per process, so a key or tenant looked up by `{hash:String}` waits
 * behind any long parameterized read (an API read, analyst SQL). A read of the
 * whole table needs no parameter and runs beside them; the lookup happens in JS.
 *
 * Every caller gets a read that started after it asked, so an answer is as
 * fresh as a lookup of its own would be (a key created or revoked elsewhere is
 * seen exactly as before). Callers who ask while a read runs share the next
 * one: at most one read runs and one waits, however many lookups arrive
 * (a flood of unknown keys included).
 */
export class FreshRead<T> {
  private running: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.next = after.then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<T> {
    const result = this.read();
    this.running = result;
    const done = () => {
      if (this.running === result) this.running = undefined;
    };
    result.then(done, done);
    return result;
  }
}
