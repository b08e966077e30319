import { stringify } from 'csv-stringify/sync';

/** Rows written between two turns of the event loop. */
const ROWS_PER_CHUNK = 500;

/**
 * A response body made chunk by chunk from lazily produced rows, giving the
 * event loop a turn before each chunk: a large answer never holds up the
 * requests (ingest among them) that arrive while it is written, and the
 * rows never exist all at once as objects or as one string.
 */
export function chunkedBody<R>(rows: Iterable<R>, format: { head: string; row: (r: R, index: number) => string; tail: string }): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const it = rows[Symbol.iterator]();
  let index = 0;
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(format.head));
    },
    async pull(controller) {
      if (done) return;
      await new Promise((resolve) => setImmediate(resolve));
      let text = '';
      for (let n = 0; n < ROWS_PER_CHUNK; n++) {
        const next = it.next();
        if (next.done) {
          done = true;
          text += format.tail;
          break;
        }
        text += format.row(next.value, index++);
      }
      controller.enqueue(encoder.encode(text));
      if (done) controller.close();
    },
  });
}

/**
 * A body of byte chunks that are all in hand, sent one after another as they are, and their total length (the
 * Content-Length). Joining them first would copy them: a whole tenant's month summary is about 1 MB of the engine's
 * own bytes, and every copy is external memory that the garbage collector reclaims (about one full collection every 7
 * such answers with the copy, every 17 without) while other requests wait.
 */
export function bytesBody(chunks: readonly Uint8Array[]): { body: ReadableStream<Uint8Array>; length: number } {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) if (chunk.byteLength > 0) controller.enqueue(chunk);
      controller.close();
    },
  });
  return { body, length: chunks.reduce((n, chunk) => n + chunk.byteLength, 0) };
}

/** `{ "data": [rows...], ...rest }` as JSON, streamed. */
export function jsonDataBody<R>(rows: Iterable<R>, rest: Record<string, unknown>): ReadableStream<Uint8Array> {
  const tail = Object.entries(rest)
    .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join('');
  return chunkedBody(rows, { head: '{"data":[', row: (r, i) => (i === 0 ? '' : ',') + JSON.stringify(r), tail: `]${tail}}` });
}

/** CSV with a header line, streamed (RFC 4180 quoting by csv-stringify). */
export function csvBody(header: string[], rows: Iterable<unknown[]>): ReadableStream<Uint8Array> {
  return chunkedBody(rows, { head: stringify([header]), row: (r) => stringify([r]), tail: '' });
}
