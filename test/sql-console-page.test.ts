import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine } from './harness.js';
import { analystTenant, type AnalystTenant } from './analyst-fixture.js';
import { ARTIFACTS, launchChromium, listen, watchCsp } from './browser.js';
import { LinkTokens } from '../access/link-tokens.js';
import { SIGNING_KEY_FILE } from '../access/link-key.js';
import { now } from './clock.js';

let t: AnalystTenant;
let browser: Browser;
let server: Awaited<ReturnType<typeof listen>>;

const QUERY = 'SELECT customer_id, count() AS n, sum(quantity) AS q FROM events GROUP BY customer_id ORDER BY customer_id';

beforeAll(async () => {
  const r = await engine();
  t = await analystTenant();
  const events = ['acme', 'acme', 'globex'].map((customerId, i) => ({
    eventId: `e${i}`,
    customerId,
    metricName: 'api.calls',
    quantity: `${i}.25`,
    timestamp: now() - 60_000,
  }));
  expect((await t.json('POST', '/v1/events', { body: events })).body.accepted).toBe(3);
  server = await listen(r.app);
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const mint = async () => (await t.json('POST', '/v1/sql/console-links', { key: t.sqlKey, body: {} })).body as { id: string; token: string };

/** Open a console link on this server, recording every CSP violation the page causes. */
async function open(token: string): Promise<{ page: Page; violations: () => Promise<string[]> }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  const violations = await watchCsp(page);
  await page.goto(`${server.url}/dashboards/sql/#token=${token}`);
  await page.waitForSelector('#app[data-state="ready"], #app[data-state^="link-"]', { timeout: 15_000 });
  return { page, violations };
}

/** Replace the editor's text (inserted as typed text, so the editor sees it as input). */
async function setQuery(page: Page, text: string): Promise<void> {
  await page.click('.cm-content');
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

const completions = (page: Page) => page.$$eval('.cm-tooltip-autocomplete li .cm-completionLabel', (labels) => labels.map((l) => l.textContent));

/** Run with Ctrl+Enter and wait for the answer or the error. */
async function run(page: Page, text: string): Promise<string> {
  await setQuery(page, text);
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('#output[data-state="done"], #output[data-state="error"]', { timeout: 15_000 });
  return (await page.getAttribute('#output', 'data-state'))!;
}

async function download(page: Page, format: 'csv' | 'parquet'): Promise<Buffer> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(`button[data-format="${format}"]`)]);
  expect(file.suggestedFilename()).toBe(`query.${format}`);
  return readFile((await file.path())!);
}

describe('the SQL console page', () => {
  it("opens with a minted link, completes the virtual schema, runs a query whose answer is POST /v1/sql's, and downloads CSV and Parquet", async () => {
    const { token } = await mint();
    const { page, violations } = await open(token);
    expect(await page.getAttribute('#app', 'data-state')).toBe('ready');
    // The token left the address bar once read.
    expect(page.url()).not.toContain('token=');

    await setQuery(page, 'SELECT * FROM ev');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.cm-tooltip-autocomplete');
    expect(await completions(page)).toEqual(expect.arrayContaining(['events', 'event_versions']));
    await setQuery(page, 'SELECT events.');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.cm-tooltip-autocomplete');
    expect(await completions(page)).toEqual(expect.arrayContaining(['customer_id', 'metric_name', 'quantity']));
    await page.keyboard.press('Escape');

    expect(await run(page, QUERY)).toBe('done');
    const api = await t.sql({ query: QUERY });
    const header = await page.$$eval('#results thead th', (ths) => ths.map((th) => th.firstChild!.textContent));
    const cells = await page.$$eval('#results tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    expect(header).toEqual(api.body.columns.map((c: { name: string }) => c.name));
    expect(cells).toEqual(api.body.data.map((row: Record<string, unknown>) => header.map((h) => String(row[h!]))));
    expect(cells).toEqual([
      ['acme', '2', '1.5'],
      ['globex', '1', '2.25'],
    ]);

    const csv = await download(page, 'csv');
    const apiCsv = await t.request('POST', '/v1/sql', { key: t.sqlKey, body: { query: QUERY, format: 'csv' } });
    expect(csv.toString('utf8')).toBe(await apiCsv.text());
    expect(csv.toString('utf8').split('\n')[0]).toBe('"customer_id","n","q"');
    const parquet = await download(page, 'parquet');
    expect([parquet.subarray(0, 4).toString(), parquet.subarray(-4).toString()]).toEqual(['PAR1', 'PAR1']);
    const apiParquet = Buffer.from(await (await t.request('POST', '/v1/sql', { key: t.sqlKey, body: { query: QUERY, format: 'parquet' } })).arrayBuffer());
    expect(parquet.equals(apiParquet)).toBe(true);

    expect(await violations()).toEqual([]);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'sql-console-page.png'), fullPage: true });
    await page.close();
  });

  it('shows the 400 message of an escape attempt, and the revoked state once the link is revoked', async () => {
    const { id, token } = await mint();
    const { page, violations } = await open(token);
    const escape = "SELECT * FROM file('/etc/passwd')";
    expect(await run(page, escape)).toBe('error');
    const refused = await t.sql({ query: escape });
    expect(refused.status).toBe(400);
    expect(await page.textContent('#error')).toContain(refused.body.error.message);
    expect(await page.$('#results')).toBeNull();

    expect((await t.json('DELETE', `/v1/sql/console-links/${id}`, { key: t.sqlKey })).status).toBe(200);
    await setQuery(page, 'SELECT 1');
    await page.click('#run');
    await page.waitForSelector('#app[data-state="link-revoked"]', { timeout: 15_000 });
    expect(await page.textContent('#app')).toContain('This SQL console link was revoked.');
    expect(await violations()).toEqual([]);
    await page.close();
  });

  it('says when the link has expired', async () => {
    const r = await engine();
    const key = (await readFile(join(r.deps.config.DATA_DIR, SIGNING_KEY_FILE), 'utf8')).trim();
    const { id } = await mint();
    const expired = new LinkTokens(key).sign({
      kind: 'sql-console',
      linkId: id,
      tenantId: t.tenantId,
      customerId: '',
      meters: null,
      expiresAtMs: now() - 1,
      createdBy: 'key_x',
    });
    const { page } = await open(expired);
    expect(await page.getAttribute('#app', 'data-state')).toBe('link-expired');
    expect(await page.textContent('#app')).toContain('This SQL console link has expired.');
    await page.close();
  });

  it('is explained on the landing page, whose link opens the minting operation in the API reference', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    expect(await page.textContent('[data-link="sql-console"]')).toContain('scope sql mints');
    await page.click('[data-link="sql-console"] a');
    await page.waitForSelector('.opblock.is-open', { timeout: 20_000 });
    expect(await page.textContent('.opblock.is-open .opblock-summary-path')).toBe('/v1/sql/console-links');
    await page.close();
  });
});
