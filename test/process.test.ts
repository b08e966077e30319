import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launch, post, start, stop, tempDir, total } from './server-process.js';

const keyIn = (output: string) => /^\s+(mh_[A-Za-z0-9_-]+)\s*$/m.exec(output)?.[1];

describe('running meterhouse', () => {
  it('creates tenant default and prints an admin key once; a restart keeps data and keys', async () => {
    const dataDir = await tempDir();
    const first = await start({ DATA_DIR: dataDir });
    const key = keyIn(first.output());
    expect(key).toBeDefined();
    expect(first.output().match(/mh_/g)).toHaveLength(1); // printed once, not logged again
    expect((await post(first, key!, [{ eventId: 'r1', customerId: 'c', metricName: 'm', quantity: '1.5' }])).status).toBe(200);
    expect(await stop(first)).toBe(0);

    const second = await start({ DATA_DIR: dataDir });
    expect(keyIn(second.output())).toBeUndefined();
    expect(await total(second, key!)).toEqual([{ customerId: 'c', metricName: 'm', quantity: '1.5', events: 1 }]);
    const again = await post(second, key!, [{ eventId: 'r1', customerId: 'c', metricName: 'm', quantity: '1.5' }]);
    expect(((await again.json()) as any).results[0].status).toBe('duplicate');
    await stop(second);
  });

  it('loses nothing acknowledged when killed without warning', async () => {
    const dataDir = await tempDir();
    const key = 'test-admin-key-0123456789abcdef';
    const s = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: key, ENGINE_FSYNC: 'true' });
    const batch = Array.from({ length: 500 }, (_, i) => ({ eventId: `k${i}`, customerId: 'c', metricName: 'm', quantity: '0.01' }));
    const res = await post(s, key, batch);
    expect(res.status).toBe(200);
    expect(await stop(s, 'SIGKILL')).toBeNull();

    const after = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: key });
    expect(await total(after, key)).toEqual([{ customerId: 'c', metricName: 'm', quantity: '5', events: 500 }]);
    await stop(after);
  });

  it('flushes buffered events on SIGTERM before exiting', async () => {
    const dataDir = await tempDir();
    const key = 'test-admin-key-0123456789abcdef';
    // a long flush interval: only the shutdown flush can write these in time
    const s = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: key, WRITER_FLUSH_INTERVAL_MS: '30000' });
    const pending = post(s, key, [{ eventId: 'late', customerId: 'c', metricName: 'm' }]);
    await new Promise((r) => setTimeout(r, 300));
    s.proc.kill('SIGTERM');
    expect((await pending).status).toBe(200);
    expect(await s.exited).toBe(0);
    const after = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: key });
    expect(await total(after, key)).toEqual([{ customerId: 'c', metricName: 'm', quantity: '1', events: 1 }]);
    await stop(after);
  });

  it("uses METERHOUSE_API_KEY as the default tenant's admin key and prints none", async () => {
    const dataDir = await tempDir();
    const key = 'my-chosen-admin-key-abcdefghijkl';
    const s = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: key });
    expect(s.output()).not.toContain('mh_');
    expect(s.output()).not.toContain(key);
    const created = await fetch(`${s.url}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'svc' }),
    });
    expect(created.status).toBe(201);
    await stop(s);
  });

  it('refuses a second process on the same DATA_DIR with a clear message', async () => {
    const dataDir = await tempDir();
    const s = await start({ DATA_DIR: dataDir, METERHOUSE_API_KEY: 'test-admin-key-0123456789abcdef' });
    const second = launch({ DATA_DIR: dataDir });
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(new RegExp(`Cannot open DATA_DIR .*in use by another process \\(PID ${s.proc.pid}\\)`));
    // the first one is unaffected
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    await stop(s);
  });

  it('loads meters from METERS_FILE at start, and refuses an invalid file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'meters.json');
    await writeFile(file, JSON.stringify({ default: [{ key: 'gpu', metricName: 'gpu.seconds', aggregation: 'SUM', groupBy: ['model'] }] }));
    const key = 'test-admin-key-0123456789abcdef';
    const s = await start({ DATA_DIR: join(dir, 'data'), METERS_FILE: file, METERHOUSE_API_KEY: key });
    const res = await fetch(`${s.url}/v1/meters/gpu`, { headers: { authorization: `Bearer ${key}` } });
    expect(await res.json()).toMatchObject({ key: 'gpu', aggregation: 'SUM', groupBy: ['model'] });
    await stop(s);

    await writeFile(file, JSON.stringify({ default: [{ key: 'gpu', metricName: 'gpu.seconds', aggregation: 'AVERAGE' }] }));
    const bad = launch({ DATA_DIR: join(dir, 'data'), METERS_FILE: file });
    expect(await bad.exited).toBe(1);
    expect(bad.output()).toMatch(/METERS_FILE .* is invalid: default\.0\.aggregation/);
  });

  it('stops on invalid configuration, naming the variable', async () => {
    const bad = launch({ PORT: 'http', MAX_EVENTS_PER_REQUEST: '0' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/PORT/);
    expect(bad.output()).toMatch(/MAX_EVENTS_PER_REQUEST/);
  });

  it('refuses a bad cron pattern before creating anything', async () => {
    const dataDir = join(await tempDir(), 'must-not-exist');
    const bad = launch({ DATA_DIR: dataDir, ROLLUP_RECONCILE_CRON: '*/61 * * * *' });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toMatch(/ROLLUP_RECONCILE_CRON: is not a valid cron pattern/);
    expect(bad.output()).not.toContain('mh_'); // no admin key was created
    expect(bad.output()).not.toMatch(/at .*croner/); // a message, not a stack trace
    await expect(access(dataDir)).rejects.toThrow();
  });

  it('in server mode talks to CLICKHOUSE_URL and never opens the embedded engine', async () => {
    const dataDir = join(await tempDir(), 'must-not-exist');
    // nothing listens on port 9 of loopback: the server is unreachable
    const s = launch({ DATA_DIR: dataDir, CLICKHOUSE_URL: 'http://user:hunter2@127.0.0.1:9', CLICKHOUSE_REQUEST_TIMEOUT_MS: '2000' });
    expect(await s.exited).toBe(1);
    expect(s.output()).toMatch(/ClickHouse server at http:\/\/127\.0\.0\.1:9\/ is not reachable/);
    expect(s.output()).not.toContain('hunter2');
    await expect(access(dataDir)).rejects.toThrow();
  });
});
