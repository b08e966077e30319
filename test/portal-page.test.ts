import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { CUSTOMERS, issueLink, portalFixture, type CustomerId, type PortalFixture } from './portal-fixture.js';
import { periodOf } from '../jobs/billing/periods.js';
import { LinkTokens } from '../access/link-tokens.js';
import { SIGNING_KEY_FILE } from '../access/link-key.js';
import { ARTIFACTS, launchChromium, listen, watchCsp } from './browser.js';
import { now } from './clock.js';
import { Hono } from 'hono';
import { createApp } from '../api/app.js';

let t: TestTenant;
let fx: PortalFixture;
let browser: Browser;
let server: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  const r = await engine();
  t = await newTenant();
  fx = await portalFixture(t);
  server = await listen(r.app);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Open a dashboard link (the URL the API gave, pointed at this server) and record any CSP violation. */
async function open(token: string, options: { refresh?: number; width?: number } = {}): Promise<{ page: Page; violations: () => Promise<string[]> }> {
  const page = await browser.newPage({ viewport: { width: options.width ?? 1100, height: 900 }, acceptDownloads: true });
  const violations = await watchCsp(page);
  await page.goto(`${server.url}/dashboards/portal/#token=${token}${options.refresh ? `&refresh=${options.refresh}` : ''}`);
  return { page, violations };
}

const ready = (page: Page) => page.waitForSelector('#app[data-state="ready"]', { timeout: 15_000 });
const valueOf = (page: Page, meter: string) => page.getAttribute(`[data-meter="${meter}"]`, 'data-value');

describe('the customer dashboard page', () => {
  it("shows each customer the numbers of the API and of the oracle, its previous period, and nobody else's", async () => {
    for (const customerId of Object.keys(CUSTOMERS) as CustomerId[]) {
      const { token } = await issueLink(t, { customerId });
      const { page, violations } = await open(token);
      await ready(page);
      const current = periodOf(fx.nowMs, CUSTOMERS[customerId]);
      const previous = periodOf(current.startMs - 1, CUSTOMERS[customerId]);
      for (const meter of ['gpu-seconds', 'api-calls']) {
        const expected = fx.oracle(customerId, meter, current.startMs, current.endMs);
        expect(await valueOf(page, meter), `${customerId} ${meter}`).toBe(String(expected));
        const api = await t.json('GET', `/v1/portal/meters/${meter}/periods?previous=1`, { key: token });
        expect(await valueOf(page, meter)).toBe(String(api.body.current.value));
        const earlier = await page.getAttribute(
          `#m-${meter}-title ~ table.previous tr[data-start="${new Date(previous.startMs).toISOString()}"] td.num`,
          'data-value',
        );
        expect(earlier).toBe(String(fx.oracle(customerId, meter, previous.startMs, previous.endMs)));
      }
      const other: CustomerId = customerId === 'acme' ? 'globex' : 'acme';
      expect(await valueOf(page, 'gpu-seconds')).not.toBe(String(fx.oracle(other, 'gpu-seconds', current.startMs, current.endMs)));
      // The token left the address bar once read.
      expect(page.url()).not.toContain('token=');
      expect(await violations()).toEqual([]);
      if (customerId === 'acme') {
        await mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'portal-page.png'), fullPage: true });
      }
      await page.close();
    }
  });

  it('charts the period per local day, and breaks it down by a dimension', async () => {
    const { token } = await issueLink(t, { customerId: 'acme' });
    const { page } = await open(token);
    await ready(page);
    const current = periodOf(fx.nowMs, CUSTOMERS.acme);
    const points = () =>
      page.$$eval('#m-gpu-seconds-title ~ details table.points tbody tr', (rows) =>
        rows.map((r) => ({
          start: r.getAttribute('data-start'),
          group: r.getAttribute('data-group'),
          value: r.querySelector('td.num')!.getAttribute('data-value'),
        })),
      );
    const day = (
      await t.json('GET', `/v1/meters/gpu-seconds/usage?from=${current.startMs}&to=${current.endMs}&granularity=day&tz=Europe/Berlin&customerId=acme`)
    ).body.data;
    expect(await points()).toEqual(day.map((r: { windowStart: string; value: string }) => ({ start: r.windowStart, group: null, value: r.value })));
    // Each day's point against the oracle, day by local day.
    for (const r of day as { windowStart: string; windowEnd: string; value: string }[])
      expect(r.value).toBe(fx.oracle('acme', 'gpu-seconds', Date.parse(r.windowStart), Date.parse(r.windowEnd)));
    await page.selectOption('#m-gpu-seconds-by', 'region');
    await page.waitForSelector('#m-gpu-seconds-title ~ details table.points tbody tr[data-group]', { state: 'attached' });
    const byRegion = (
      await t.json(
        'GET',
        `/v1/meters/gpu-seconds/usage?from=${current.startMs}&to=${current.endMs}&granularity=day&tz=Europe/Berlin&customerId=acme&groupBy=region`,
      )
    ).body.data;
    expect(await points()).toEqual(
      byRegion.map((r: { windowStart: string; value: string; groupBy: { region: string } }) => ({
        start: r.windowStart,
        group: r.groupBy.region,
        value: r.value,
      })),
    );
    // The chart drew one series per region.
    expect(await page.$$eval('#m-gpu-seconds-title ~ .chart .u-legend .u-series', (s) => s.length)).toBe(
      1 + new Set(byRegion.map((r: { groupBy: { region: string } }) => r.groupBy.region)).size,
    );
    // Hourly over the last days of the period, in the customer's zone.
    await page.selectOption('#m-gpu-seconds-by', '');
    await page.selectOption('#m-gpu-seconds-res', 'hour');
    await page.waitForFunction(() => document.querySelector('#m-gpu-seconds-title ~ details table.points thead th')?.textContent === 'Hour');
    const hourly = await points();
    expect(hourly.length).toBeGreaterThan(0);
    const to = Date.parse(hourly.at(-1)!.start!) + 3_600_000;
    const hours = (
      await t.json(
        'GET',
        `/v1/meters/gpu-seconds/usage?from=${hourly[0]!.start}&to=${new Date(to).toISOString()}&granularity=hour&tz=Europe/Berlin&customerId=acme`,
      )
    ).body.data;
    expect(hourly).toEqual(hours.map((r: { windowStart: string; value: string }) => ({ start: r.windowStart, group: null, value: r.value })));
    expect(hourly.length).toBeLessThanOrEqual(72);
    await page.close();
  });

  it('downloads CSV, refreshes on its own, and says when the link is revoked', async () => {
    const { id, token } = await issueLink(t, { customerId: 'globex' });
    const { page } = await open(token, { refresh: 2 });
    await ready(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#m-api-calls-title ~ .downloads button:has-text("events")')]);
    const csv = await readFile((await download.path())!, 'utf8');
    expect(csv.split('\n')[0]).toBe('eventId,timestamp,metricName,quantity,dimensions');
    // A new event shows without a reload.
    const before = Number(await valueOf(page, 'api-calls'));
    expect(
      (
        await t.json('POST', '/v1/events', {
          body: { eventId: 'late-1', customerId: 'globex', metricName: 'api.calls', timestamp: now() - 1000, dimensions: { endpoint: '/a' } },
        })
      ).body.accepted,
    ).toBe(1);
    await page.waitForFunction((v) => document.querySelector('[data-meter="api-calls"]')?.getAttribute('data-value') === v, String(before + 1), {
      timeout: 15_000,
    });
    expect(await page.textContent('.updated')).toMatch(/^Updated \d+ s ago$/);
    expect((await t.json('DELETE', `/v1/portal/tokens/${id}`)).status).toBe(200);
    await page.waitForSelector('#app[data-state="link-revoked"]', { timeout: 15_000 });
    expect(await page.textContent('#app')).toContain('Ask for a new link');
    await page.close();
  });

  it('says when there is no usage yet', async () => {
    const { token } = await issueLink(t, { customerId: 'initech' });
    const { page } = await open(token);
    await ready(page);
    expect(await valueOf(page, 'gpu-seconds')).toBe('0');
    expect(await page.isVisible('#m-gpu-seconds-title ~ .empty')).toBe(true);
    expect(await page.textContent('#m-gpu-seconds-title ~ .empty')).toBe('No usage yet this period.');
    await page.close();
  });

  it('says when the link has expired', async () => {
    const r = await engine();
    const key = (await readFile(join(r.deps.config.DATA_DIR, SIGNING_KEY_FILE), 'utf8')).trim();
    const { id } = await issueLink(t, { customerId: 'acme' });
    const expired = new LinkTokens(key).sign({ kind: 'portal', linkId: id, tenantId: t.tenantId, customerId: 'acme', meters: null, expiresAtMs: now() - 1 });
    const { page } = await open(expired);
    await page.waitForSelector('#app[data-state="link-expired"]', { timeout: 15_000 });
    expect(await page.textContent('#app')).toContain('This dashboard link has expired.');
    await page.close();
  });

  it('fits a phone screen and is usable by keyboard', async () => {
    const { token } = await issueLink(t, { customerId: 'acme' });
    const { page } = await open(token, { width: 375 });
    await ready(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    // Tab reaches the breakdown; the keyboard changes it.
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'm-gpu-seconds-by'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    expect(focused).toBe('m-gpu-seconds-by');
    await page.keyboard.press('ArrowDown');
    await page.waitForSelector('#m-gpu-seconds-title ~ details table.points tbody tr[data-group]', { state: 'attached' });
    await page.close();
  });

  it('is framed only by the origins PORTAL_FRAME_ANCESTORS names', async () => {
    const r = await engine();
    const { token } = await issueLink(t, { customerId: 'acme' });
    // The platform's own app, on another origin, embedding the dashboard.
    let dashboard = '';
    const platform = await listen(
      new Hono().get('/', (c) => c.html(`<iframe id="usage" src="${dashboard}/dashboards/portal/#token=${token}" width="900" height="700"></iframe>`)),
    );
    const allowed = await listen(createApp({ ...r.deps, config: { ...r.deps.config, PORTAL_FRAME_ANCESTORS: [platform.url] } }));
    try {
      for (const [origin, framed] of [
        [allowed.url, true],
        [server.url, false],
      ] as const) {
        dashboard = origin;
        const page = await browser.newPage();
        await page.goto(platform.url);
        const frame = await (await page.waitForSelector('#usage')).contentFrame();
        if (framed) {
          await frame!.waitForSelector('#app[data-state="ready"]', { timeout: 15_000 });
          expect(await frame!.getAttribute('[data-meter="api-calls"]', 'data-value')).toBe(
            String(fx.oracle('acme', 'api-calls', periodOf(fx.nowMs, CUSTOMERS.acme).startMs, periodOf(fx.nowMs, CUSTOMERS.acme).endMs)),
          );
        } else {
          // Refused by the browser: the frame holds an error page, never the dashboard.
          await page.waitForLoadState('load');
          expect(await frame!.$('#app')).toBeNull();
        }
        await page.close();
      }
    } finally {
      await allowed.close();
      await platform.close();
    }
  });
});
