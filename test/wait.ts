/** Polls `ready` until it is true or the deadline passes (then fails, saying what it waited for); resolves with the time it took. */
export async function waitFor(what: string, ready: () => boolean | Promise<boolean>, timeoutMs: number, detail?: () => unknown): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await ready()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${JSON.stringify(detail())}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
