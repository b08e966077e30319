import { connect as tcp, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { start, stop, tempDir, type Server } from './server-process.js';
import { waitFor } from './wait.js';

const KEY = 'mh_server_limits_test_key_0001';

function open(s: Server): Promise<{ socket: Socket; closed: () => boolean; received: () => string }> {
  const { port } = new URL(s.url);
  return new Promise((resolve, reject) => {
    const socket = tcp(Number(port), '127.0.0.1', () => resolve({ socket, closed: () => closed, received: () => received }));
    let closed = false;
    let received = '';
    socket.on('data', (b) => (received += b));
    socket.on('close', () => (closed = true));
    socket.on('error', reject);
  });
}

/** Writes `chunks` one by one, `everyMs` apart, until the socket closes or they run out. */
function dribble(c: { socket: Socket; closed: () => boolean }, chunks: string[], everyMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    const next = chunks.shift();
    if (next === undefined || c.closed()) return clearInterval(timer);
    c.socket.write(next);
  }, everyMs);
  return timer;
}

describe('the HTTP server cuts off slow and idle clients', () => {
  it('closes a connection that dribbles its body, one that dribbles its headers, and an idle keep-alive one', async () => {
    const s = await start({
      DATA_DIR: await tempDir(),
      METERHOUSE_API_KEY: KEY,
      HTTP_HEADERS_TIMEOUT_MS: '500',
      HTTP_REQUEST_TIMEOUT_MS: '1500',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '500',
    });
    try {
      const body = await open(s);
      body.socket.write(
        `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[`,
      );
      const bodyTimer = dribble(
        body,
        Array.from({ length: 1000 }, () => ' '),
        100,
      );
      const headers = await open(s);
      const headersTimer = dribble(headers, ['GET /healthz HTTP/1.1\r\n', ...Array.from({ length: 1000 }, (_, i) => `X-Slow-${i}: 1\r\n`)], 100);
      const idle = await open(s);
      idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
      await waitFor('the idle keep-alive answer', () => idle.received().includes('\r\n\r\n'), 10_000);

      // Node's defaults (300 s for a request, 60 s for headers, 5 s idle) would keep all three open past these deadlines.
      await waitFor('the idle keep-alive connection to be closed', idle.closed, 3000);
      await waitFor('the header-dribbling connection to be closed', headers.closed, 4000);
      await waitFor('the body-dribbling connection to be closed', body.closed, 4000);
      clearInterval(bodyTimer);
      clearInterval(headersTimer);
      expect(body.received()).toMatch(/^HTTP\/1\.1 408|^$/);
      // The server still serves others.
      expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    } finally {
      await stop(s);
    }
  }, 60_000);
});

describe('a revoked METERHOUSE_API_KEY', () => {
  it('stays revoked across restarts while the variable is set; a new secret recovers admin access', async () => {
    const DATA_DIR = await tempDir();
    const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
    let s = await start({ DATA_DIR, METERHOUSE_API_KEY: KEY });
    let spare: string;
    try {
      const created = await fetch(`${s.url}/v1/api-keys`, { method: 'POST', headers: auth(KEY), body: JSON.stringify({ name: 'spare', role: 'admin' }) });
      expect(created.status).toBe(201);
      spare = ((await created.json()) as any).key;
      const revoked = await fetch(`${s.url}/v1/api-keys/env-admin`, { method: 'DELETE', headers: auth(spare) });
      expect(revoked.status).toBe(200);
      expect((await fetch(`${s.url}/v1/api-keys`, { headers: auth(KEY) })).status).toBe(401);
    } finally {
      await stop(s);
    }

    s = await start({ DATA_DIR, METERHOUSE_API_KEY: KEY });
    try {
      expect((await fetch(`${s.url}/v1/api-keys`, { headers: auth(KEY) })).status).toBe(401);
      expect((await fetch(`${s.url}/v1/api-keys`, { headers: auth(spare) })).status).toBe(200);
      expect(s.output()).toMatch(/METERHOUSE_API_KEY was revoked and stays revoked/);
    } finally {
      await stop(s);
    }

    const NEW_KEY = 'mh_server_limits_test_key_0002';
    s = await start({ DATA_DIR, METERHOUSE_API_KEY: NEW_KEY });
    try {
      expect((await fetch(`${s.url}/v1/api-keys`, { headers: auth(NEW_KEY) })).status).toBe(200);
      expect((await fetch(`${s.url}/v1/api-keys`, { headers: auth(KEY) })).status).toBe(401);
    } finally {
      await stop(s);
    }
  }, 120_000);
});
