import { describe, expect, it } from 'vitest';
import { bytesBody } from './body-stream.js';

async function read(body: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (const reader = body.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

describe('bytesBody', () => {
  it('sends each chunk as it is, in order, and says their total length', async () => {
    const head = Buffer.from('{"data":[');
    const rows = Buffer.from('{"a":"ø"},{"a":"b"}');
    const tail = Buffer.from(']}');
    const { body, length } = bytesBody([head, rows, tail]);
    expect(length).toBe(head.byteLength + rows.byteLength + tail.byteLength);
    const chunks = await read(body);
    // The same buffers, not copies of them.
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toBe(head);
    expect(chunks[1]).toBe(rows);
    expect(chunks[2]).toBe(tail);
    expect(Buffer.concat(chunks).toString()).toBe('{"data":[{"a":"ø"},{"a":"b"}]}');
  });

  it('leaves out empty chunks (an empty page of rows) and ends', async () => {
    const { body, length } = bytesBody([Buffer.from('['), Buffer.alloc(0), Buffer.from(']')]);
    expect(length).toBe(2);
    expect((await read(body)).map((c) => Buffer.from(c).toString())).toEqual(['[', ']']);
    expect(await read(bytesBody([]).body)).toEqual([]);
  });
});
