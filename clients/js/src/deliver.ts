import { isRetryableStatus, parseRetryAfter, retryDelayMs } from './backoff.js';
import type { ResolvedOptions } from './options.js';
import type { EventResult } from './types.js';
import { CONTENT_TYPES } from './wire.js';

/** How one batch ended: the server's per-event answer, a refusal of the whole request, or no answer at all. */
export type Delivery =
  | { kind: 'answered'; status: number; results: EventResult[] }
  | { kind: 'refused'; status: number; code?: string; message: string }
  | { kind: 'exhausted'; reason: string };

type Attempt = Delivery | { kind: 'retry'; reason: string; retryAfterMs: number | null };

export interface DeliveryDeps {
  options: ResolvedOptions;
  sleep(ms: number): Promise<void>;
  random(): number;
  onRequest(): void;
  onRetry(detail: { events: number; attempt: number; delayMs: number; reason: string }): void;
}

/**
 * POSTs one batch until the server gives a verdict. The body is the same bytes
 * on every attempt (the events were serialized once, with their eventIds), so
 * a retry of a batch the server already stored is answered 'duplicate'.
 */
export async function deliver(body: string, events: number, deps: DeliveryDeps): Promise<Delivery> {
  const { retry } = deps.options;
  for (let attempt = 1; ; attempt++) {
    deps.onRequest();
    const outcome = await attemptOnce(body, events, deps.options);
    if (outcome.kind !== 'retry') return outcome;
    if (attempt >= retry.maxAttempts) return { kind: 'exhausted', reason: outcome.reason };
    const delayMs = retryDelayMs(attempt, retry, outcome.retryAfterMs, deps.random);
    deps.onRetry({ events, attempt, delayMs, reason: outcome.reason });
    await deps.sleep(delayMs);
  }
}

async function attemptOnce(body: string, events: number, o: ResolvedOptions): Promise<Attempt> {
  let status: number;
  let text: string;
  let retryAfter: string | null;
  try {
    const res = await o.fetch(`${o.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': CONTENT_TYPES[o.format] },
      body,
      signal: AbortSignal.timeout(o.requestTimeoutMs),
    });
    status = res.status;
    retryAfter = res.headers.get('retry-after');
    text = await res.text(); // a connection lost mid-answer is a network error too
  } catch (error) {
    return { kind: 'retry', reason: `network: ${describe(error)}`, retryAfterMs: null };
  }
  if (status === 200 || status === 207 || status === 422) {
    const results = readResults(text, events);
    // Something answered but not with meterhouse's verdict: not knowing is a reason to ask again (safe: eventIds).
    if (!results) return { kind: 'retry', reason: `unreadable ${status} answer`, retryAfterMs: null };
    return { kind: 'answered', status, results };
  }
  // Retry-After is a wall-clock matter (an HTTP-date), not the events' clock.
  if (isRetryableStatus(status)) return { kind: 'retry', reason: `HTTP ${status}`, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) };
  const error = readError(text);
  return { kind: 'refused', status, ...(error?.code ? { code: error.code } : {}), message: error?.message ?? `HTTP ${status}` };
}

/** The per-event results, one per event of the batch in order, or null when the body is not that. */
function readResults(text: string, events: number): EventResult[] | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  const results = (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results) || results.length !== events) return null;
  const ordered: EventResult[] = [];
  for (const r of results as EventResult[]) {
    if (typeof r?.index !== 'number' || ordered[r.index] || r.index < 0 || r.index >= events) return null;
    if (r.status !== 'accepted' && r.status !== 'duplicate' && r.status !== 'rejected') return null;
    ordered[r.index] = r;
  }
  return ordered;
}

function readError(text: string): { code?: string; message?: string } | null {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (!error) return null;
    return {
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
      ...(typeof error.message === 'string' ? { message: error.message } : {}),
    };
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
