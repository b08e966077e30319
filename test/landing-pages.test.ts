import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.js';
import { start, stop, tempDir, type Server } from './server-process.js';

/** The landing page and the API reference in a real browser, under their CSPs. */
let server: Server;
let browser: Browser;

beforeAll(async () => {
  server = await start({ DATA_DIR: await tempDir(), METERHOUSE_OPERATOR_KEY: 'mho_reference-page-operator-0123456789' });
  browser = await launchChromium();
}, 60_000);

/** Everything that went wrong on a page: console errors (CSP violations among them), script errors, failed requests. */
function problemsOf(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
  });
  return problems;
}

afterAll(async () => {
  await browser?.close();
  if (server) await stop(server);
});

describe('GET /docs/api', () => {
  it('renders every operation of the OpenAPI document, with no CSP violation or script error', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).flatMap((item) => Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)));
    expect(operations.length).toBeGreaterThan(20);

    const page = await browser.newPage();
    const problems = problemsOf(page);
    const response = await page.goto(`${server.url}/docs/api`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    await expect.poll(() => page.locator('.opblock').count(), { timeout: 10_000 }).toBe(operations.length);
    await expect(page.locator('.opblock-summary-path').allTextContents()).resolves.toContain('/v1/events');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('serves only the files the page needs', async () => {
    for (const path of ['/docs/api/assets/package.json', '/docs/api/assets/..%2Fpackage.json', '/docs/api/assets/index.html']) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(404);
    }
  });
});

describe('GET /', () => {
  it('is the landing page: it links the API reference, which opens, and OpenAPI and metrics, which answer', async () => {
    const page = await browser.newPage();
    const problems = problemsOf(page);
    const response = await page.goto(`${server.url}/`);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
    await expect(page.locator('h1').textContent()).resolves.toBe('meterhouse');
    for (const href of ['/openapi.json', '/metrics', '/healthz']) {
      await expect(page.locator(`a[href="${href}"]`).count()).resolves.toBe(1);
      expect((await fetch(`${server.url}${href}`)).status, href).toBe(200);
    }
    await page.locator('a[href="/docs/api"]').click();
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    expect(problems).toEqual([]);
    await page.close();
  });
});
