import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';

/**
 * An HTTP proxy in front of a real meterhouse that misbehaves on request:
 * 'forward' passes the request on and the answer back; 'lose-answer' passes
 * the request on, lets the server store it, and then cuts the connection
 * instead of answering; { status, retryAfter } answers itself without
 * forwarding (a 503 storm). When the server is down, the client's connection
 * is cut too, as a dead upstream looks to a client.
 */
export type ProxyAction = 'forward' | 'lose-answer' | { status: number; retryAfter?: string };

export interface ProxyRequest {
  n: number;
  action: ProxyAction;
  events: number;
  receivedAt: number;
  upstreamStatus?: number;
}

export interface FlakyProxy {
  url: string;
  /** Where requests go; change it when the server restarts on another port. */
  target: string;
  act: (n: number) => ProxyAction;
  /** Called once the server answered a request, before the answer goes on (or is lost). */
  onAnswered: (n: number) => void | Promise<void>;
  log: ProxyRequest[];
}

const proxies: { close(): void; closeAllConnections(): void }[] = [];
afterAll(() => {
  for (const p of proxies) {
    p.closeAllConnections();
    p.close();
  }
});

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function eventsIn(body: Buffer): number {
  try {
    const value = JSON.parse(body.toString()) as unknown;
    return Array.isArray(value) ? value.length : 1;
  } catch {
    return 0;
  }
}

export async function flakyProxy(target: string): Promise<FlakyProxy> {
  const proxy: FlakyProxy = { url: '', target, act: () => 'forward', onAnswered: () => {}, log: [] };
  const server = createServer(async (req, res) => {
    const body = await bodyOf(req);
    const n = proxy.log.length + 1;
    const action = proxy.act(n);
    const entry: ProxyRequest = { n, action, events: eventsIn(body), receivedAt: performance.now() };
    proxy.log.push(entry);
    if (typeof action === 'object') {
      res.writeHead(action.status, { 'content-type': 'application/json', ...(action.retryAfter ? { 'retry-after': action.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { code: 'proxy_storm', message: `the proxy answers ${action.status}`, requestId: `proxy-${n}` } }));
      return;
    }
    try {
      const headers: Record<string, string> = {};
      for (const h of ['authorization', 'content-type']) if (req.headers[h]) headers[h] = String(req.headers[h]);
      const upstream = await fetch(`${proxy.target}${req.url}`, {
        method: req.method,
        headers,
        ...(req.method === 'POST' ? { body: new Uint8Array(body) } : {}),
      });
      const text = await upstream.text();
      entry.upstreamStatus = upstream.status;
      await proxy.onAnswered(n);
      if (action === 'lose-answer') return void req.socket.destroy();
      const retryAfter = upstream.headers.get('retry-after');
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      res.end(text);
    } catch {
      req.socket.destroy(); // the server is unreachable (killed, restarting)
    }
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
