import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMeterhouseClient, type MeterhouseClientOptions, type Rejection } from '../clients/js/src/index.js';
import { renderTypes, TYPES_FILE } from '../clients/js/scripts/generate-types.js';
import { now } from './clock.js';
import { flakyProxy } from './flaky-proxy.js';
import { start, stop, tempDir, type Server } from './server-process.js';
import { waitFor } from './wait.js';

/**
 * @meterhouse/client (clients/js) against the real server process: whatever
 * the network and the server do (a SIGKILL and restart mid-stream, answers
 * lost after the batch was stored, a 503 storm), the summary equals what was
 * recorded, each event once.
 */
const ROOT = join(import.meta.dirname, '..');
const KEY = 'client-js-admin-key-0123456789abcdef';
const at = now(); // every event of this file happens at this instant
let server: Server;

beforeAll(async () => {
  server = await start({ DATA_DIR: await tempDir(), METERHOUSE_API_KEY: KEY });
});
afterAll(() => stop(server));

/** Fast retries, so outages cost the test little time; still bounded. */
const fastRetry = { initialDelayMs: 20, maxDelayMs: 250, maxAttempts: 400 };
const client = (url: string, options: Partial<MeterhouseClientOptions> = {}) =>
  createMeterhouseClient({ url, apiKey: KEY, batchSize: 50, flushIntervalMs: 10, retry: fastRetry, ...options });

async function summary(s: Server, customerId: string): Promise<unknown> {
  const res = await fetch(`${s.url}/v1/usage/summary?from=${at}&to=${at + 1}&customerId=${customerId}`, { headers: { authorization: `Bearer ${KEY}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: unknown }).data;
}

/** Records n events of 0.25 each for one customer, yielding to the event loop now and then so batches go out while recording goes on. */
async function stream(meter: ReturnType<typeof client>, customerId: string, n: number, during?: (i: number) => void | Promise<void>) {
  for (let i = 0; i < n; i++) {
    await meter.record({ customerId, metricName: 'api.calls', quantity: '0.25', timestamp: at });
    await during?.(i);
    if (i % 20 === 0) await new Promise((r) => setImmediate(r));
  }
}

const expected = (customerId: string, n: number) => [{ customerId, metricName: 'api.calls', quantity: String(n / 4), events: n }];

describe('@meterhouse/client against the real server', () => {
  it('loses answers after the server stored the batch: the retries are answered duplicate, each event counts once', async () => {
    const proxy = await flakyProxy(server.url);
    proxy.act = (n) => (n % 3 === 1 ? 'lose-answer' : 'forward');
    const meter = client(proxy.url);
    await stream(meter, 'lost-answers', 400);
    await meter.close();
    const lost = proxy.log.filter((r) => r.action === 'lose-answer');
    expect(lost.length).toBeGreaterThanOrEqual(3);
    expect(lost.every((r) => r.upstreamStatus === 200)).toBe(true); // the server stored each of them
    expect(meter.stats()).toMatchObject({ accepted: 400 - sum(lost), duplicates: sum(lost), rejected: 0, dropped: 0, retries: lost.length });
    expect(await summary(server, 'lost-answers')).toEqual(expected('lost-answers', 400));
  });

  it('rides out a 503 storm, waiting as long as Retry-After says', async () => {
    const proxy = await flakyProxy(server.url);
    const storm = 6;
    proxy.act = (n) => (n > storm ? 'forward' : { status: n === 1 ? 429 : 503, retryAfter: n === 2 ? '1' : '0' });
    const meter = client(proxy.url);
    await stream(meter, 'storm', 200);
    await meter.close();
    expect(proxy.log[2]!.receivedAt - proxy.log[1]!.receivedAt).toBeGreaterThanOrEqual(1000);
    expect(meter.stats()).toMatchObject({ accepted: 200, duplicates: 0, retries: storm, dropped: 0 });
    expect(await summary(server, 'storm')).toEqual(expected('storm', 200));
  });

  it('gives each rejected event to onRejected with the server errors, once, and stores the rest', async () => {
    const proxy = await flakyProxy(server.url);
    const rejected: Rejection[] = [];
    const meter = client(proxy.url, { onRejected: (r) => rejected.push(...r) });
    await meter.record({ eventId: 'ok-1', customerId: 'rejections', metricName: 'api.calls', quantity: '1', timestamp: at });
    await meter.record({ eventId: 'bad-1', customerId: 'rejections', metricName: 'api.calls', quantity: '-1', timestamp: at });
    await meter.record({ eventId: 'bad-2', customerId: 'rejections', metricName: 'api.calls', quantity: '0.0000000001', timestamp: at });
    await meter.flush();
    expect(proxy.log.map((r) => r.upstreamStatus)).toEqual([207]);
    expect(rejected.map((r) => [r.eventId, r.status, r.errors.map((e) => e.path)])).toEqual([
      ['bad-1', 207, ['quantity']],
      ['bad-2', 207, ['quantity']],
    ]);
    expect(rejected[0]!.errors[0]!.message).toEqual(expect.any(String));
    // a request refused as a whole (an unknown key): reported, never retried
    const stranger = createMeterhouseClient({ url: proxy.url, apiKey: 'no-such-key', onRejected: (r) => rejected.push(...r) });
    await stranger.record({ eventId: 'ok-2', customerId: 'rejections', metricName: 'api.calls', timestamp: at });
    await stranger.close();
    expect(proxy.log.map((r) => r.upstreamStatus)).toEqual([207, 401]);
    expect(rejected[2]).toMatchObject({ eventId: 'ok-2', status: 401, code: 'unauthorized' });
    await meter.close();
    expect(await summary(server, 'rejections')).toEqual([{ customerId: 'rejections', metricName: 'api.calls', quantity: '1', events: 1 }]);
  });

  it('sends CloudEvents that the server stores as the same usage events', async () => {
    const meter = client(server.url, { format: 'cloudevents', source: 'svc/checkout' });
    await meter.record({ eventId: 'ce-1', customerId: 'cloud', metricName: 'api.calls', quantity: '1.50', timestamp: at, dimensions: { region: 'eu' } });
    await meter.close();
    expect(meter.stats()).toMatchObject({ accepted: 1, rejected: 0 });
    const res = await fetch(`${server.url}/v1/events?customerId=cloud&from=${at}&to=${at + 1}`, { headers: { authorization: `Bearer ${KEY}` } });
    const [stored] = ((await res.json()) as { data: any[] }).data;
    expect(stored).toMatchObject({
      eventId: 'ce-1',
      customerId: 'cloud',
      metricName: 'api.calls',
      quantity: '1.5',
      dimensions: { region: 'eu' },
      timestamp: new Date(at).toISOString(),
    });
  });

  it(
    'counts each event once when the server is killed (SIGKILL) mid-stream after storing a batch it never answered, and restarted',
    { timeout: 120_000 },
    async () => {
      const dataDir = await tempDir();
      let own = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY });
      const proxy = await flakyProxy(own.url);
      let restarted: Promise<void> | undefined;
      // The 5th batch is stored and answered, but the server dies before the answer reaches the client.
      proxy.act = (n) => (n === 5 ? 'lose-answer' : 'forward');
      proxy.onAnswered = async (n) => {
        if (n !== 5) return;
        own.proc.kill('SIGKILL');
        await own.exited;
        restarted = start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: KEY }).then((s) => {
          own = s;
          proxy.target = s.url;
        });
      };
      // 'wait': while the server is down, recording is held back at 200 buffered events instead of growing.
      let deepest = 0;
      const meter = client(proxy.url, {
        whenFull: 'wait',
        maxBufferEvents: 200,
        metrics: { bufferDepth: (events) => void (deepest = Math.max(deepest, events)) },
      });
      await stream(meter, 'killed', 600, async (i) => {
        if (i === 299) await waitFor('the kill', () => restarted !== undefined, 30_000); // the other half is recorded while it is down
      });
      await restarted;
      await meter.close();
      expect(proxy.log[4]).toMatchObject({ action: 'lose-answer', upstreamStatus: 200 });
      expect(proxy.log.filter((r) => r.upstreamStatus === undefined).length).toBeGreaterThan(0); // sent while it was down
      expect(deepest).toBe(200);
      expect(meter.stats()).toMatchObject({ accepted: 600 - proxy.log[4]!.events, duplicates: proxy.log[4]!.events, rejected: 0, dropped: 0 });
      expect(await summary(own, 'killed')).toEqual(expected('killed', 600));
      await stop(own);
    },
  );
});

describe('@meterhouse/client package', () => {
  it("runs its README's example as written against the server", async () => {
    const readme = await readFile(join(ROOT, 'clients/js/README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
    // the main README's quickstart shows the same example
    expect(await readFile(join(ROOT, 'README.md'), 'utf8')).toContain(example);
    const dir = await tempDir();
    const script = join(dir, 'example.mts'); // an ES module, as the package is
    await writeFile(
      script,
      example.replace("'@meterhouse/client'", JSON.stringify(join(ROOT, 'clients/js/src/index.ts'))).replaceAll('http://localhost:8080', server.url),
    );
    const before = now();
    await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', METERHOUSE_KEY: KEY } });
    const res = await fetch(`${server.url}/v1/usage/summary?from=${before}&to=${now() + 1}&customerId=acme`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(((await res.json()) as { data: unknown }).data).toEqual([
      { customerId: 'acme', metricName: 'api.calls', quantity: '1', events: 1 },
      { customerId: 'acme', metricName: 'compute.seconds', quantity: '12.5', events: 1 },
    ]);
  });

  it('has wire types equal to what openapi-typescript renders from the running server', async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(await renderTypes(doc), 'run npm run generate-types in clients/js').toBe(await readFile(TYPES_FILE, 'utf8'));
  });

  it('builds with tsc on the web platform lib alone (no Node types), to what package.json exports', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'clients/js/package.json'), 'utf8'));
    expect(pkg.dependencies).toBeUndefined();
    const outDir = join(await tempDir(), 'dist');
    await promisify(execFile)(process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(ROOT, 'clients/js/tsconfig.json'),
      '--outDir',
      outDir,
    ]);
    const built = (file: string) => join(outDir, file.replace(/^\.\/dist\//, ''));
    await expect(readFile(built(pkg.exports['.'].types), 'utf8')).resolves.toContain('createMeterhouseClient');
    const mod = await import(built(pkg.exports['.'].import));
    expect(Object.keys(mod)).toEqual(['createMeterhouseClient']);
  });
});

const sum = (requests: { events: number }[]) => requests.reduce((s, r) => s + r.events, 0);
