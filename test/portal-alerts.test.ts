import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engine, newTenant, type TestTenant } from './harness.js';
import { issueLink } from './portal-fixture.js';
import { SumOracle, createRule, crossings, sendEvents } from './alerts-fixture.js';
import { launchChromium, listen } from './browser.js';
import { now } from './clock.js';
import { periodOf } from '../jobs/billing/periods.js';

/**
 * Alert progress on the customer dashboard, against an oracle of the events
 * sent. c1 is billed daily (Europe/Berlin), so yesterday's period is still
 * open (within the 24 h grace) and the evaluator fires crossings there too:
 * none of them may show as crossed in today's window. Events sit relative to
 * the test clock's now(), so this holds at any instant (TIME_SENSITIVE).
 */
const C1 = { timezone: 'Europe/Berlin', interval: 'day' as const, anchorDay: 1 };
const C2 = { timezone: 'America/New_York', interval: 'month' as const, anchorDay: 1 };

let t: TestTenant;
let nowMs: number;
const oracle = new SumOracle();
const rules: Record<'A' | 'B' | 'C' | 'D' | 'E' | 'F', string> = {} as never;

beforeAll(async () => {
  // No jobs run: crossings come only from POST /v1/alerts/evaluate (the sweep), so the test decides when.
  await engine();
  t = await newTenant();
  nowMs = now();
  for (const [key, metricName] of [
    ['calls', 'api.calls'],
    ['tokens', 'llm.tokens'],
  ]) {
    expect((await t.json('POST', '/v1/meters', { body: { key, name: key === 'calls' ? 'API calls' : 'Tokens', metricName, aggregation: 'SUM' } })).status).toBe(
      201,
    );
  }
  expect(
    (await t.json('PUT', '/v1/customers/c1', { body: { name: 'One', timezone: C1.timezone, billingCycle: { interval: 'day' }, allowances: { calls: '200' } } }))
      .status,
  ).toBe(201);
  expect(
    (await t.json('PUT', '/v1/customers/c2', { body: { name: 'Two', timezone: C2.timezone, billingCycle: { interval: 'month', anchorDay: 1 } } })).status,
  ).toBe(201);
  rules.A = await createRule(t, { meterKey: 'calls', thresholds: ['10', '50'], every: '100', window: 'period' }); // every customer
  rules.B = await createRule(t, { meterKey: 'calls', customerId: 'c1', unit: 'percent', thresholds: ['10', '33.333333333', '80'], window: 'period' });
  rules.C = await createRule(t, { meterKey: 'calls', customerId: 'c2', thresholds: ['1'], window: 'period' });
  rules.D = await createRule(t, { meterKey: 'calls', customerId: 'c1', thresholds: ['1000'], window: 'lifetime' });
  rules.E = await createRule(t, { meterKey: 'calls', unit: 'percent', thresholds: ['50'], window: 'period' }); // every customer; c2 has no allowance
  rules.F = await createRule(t, { meterKey: 'tokens', customerId: 'c2', thresholds: ['1'], window: 'period' });
  const today = periodOf(nowMs, C1).startMs;
  const mid = today + Math.floor((nowMs - today) / 2);
  const c2Start = periodOf(nowMs, C2).startMs;
  const calls = [
    { eventId: 'c1-a', customerId: 'c1', timestamp: today, quantity: '20.000000001' },
    { eventId: 'c1-b', customerId: 'c1', timestamp: mid, quantity: '40' },
    { eventId: 'c1-a', customerId: 'c1', timestamp: today, quantity: '999' }, // a redelivery: the first payload wins
    { eventId: 'c1-y', customerId: 'c1', timestamp: today - 1, quantity: '500' }, // yesterday: lifetime only
    { eventId: 'c2-a', customerId: 'c2', timestamp: c2Start + Math.floor((nowMs - c2Start) / 2), quantity: '5' },
  ];
  oracle.send(calls);
  await sendEvents(
    t,
    calls.map((e) => ({ ...e, metricName: 'api.calls' })),
  );
  await sendEvents(t, [{ eventId: 'c2-t', customerId: 'c2', metricName: 'llm.tokens', timestamp: c2Start, quantity: '3' }]);
  expect((await t.json('POST', '/v1/alerts/evaluate')).status).toBe(200);
});

const progressOf = async (token: string) => {
  const res = await t.json('GET', '/v1/portal/alerts', { key: token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { data: { meterKey: string; rules: any[] }[]; refreshedAt: string };
};
const byRule = (body: { data: { meterKey: string; rules: any[] }[] }, meterKey: string) =>
  new Map(body.data.find((m) => m.meterKey === meterKey)!.rules.map((r) => [r.ruleId, r]));
const thresholdsCrossed = (r: { crossed: { threshold: string }[] }) => r.crossed.map((c) => c.threshold);

describe('alert progress on the dashboard API', () => {
  it('shows the customer its own and the tenant-wide rules with the exact value, the crossings of this window and the next threshold', async () => {
    const { token } = await issueLink(t, { customerId: 'c1' });
    const body = await progressOf(token);
    // tokens has no rule for c1: nothing shown for it.
    expect(body.data.map((m) => m.meterKey)).toEqual(['calls']);
    const calls = byRule(body, 'calls');
    expect([...calls.keys()].sort()).toEqual([rules.A, rules.B, rules.D, rules.E].sort());
    const today = periodOf(nowMs, C1);
    const value = oracle.value('c1', today.startMs, today.endMs);
    expect(value).toBe('60.000000001');
    const period = { start: new Date(today.startMs).toISOString(), end: new Date(today.endMs).toISOString() };
    // The dashboard's own period value is the same number.
    expect((await t.json('GET', '/v1/portal/meters/calls/periods?previous=0', { key: token })).body.current.value).toBe(value);

    expect(calls.get(rules.A)).toMatchObject({
      unit: 'absolute',
      window: 'period',
      allowance: null,
      period,
      value,
      next: { threshold: '100', thresholdValue: '100', progress: '0.6' },
    });
    expect(thresholdsCrossed(calls.get(rules.A))).toEqual(['10', '50']);
    // Percentages of the allowance 200: 10% = 20 crossed; 33.333333333% = 66.666666666 next; 60.000000001 / 66.666666666 = 0.90000000001...
    expect(calls.get(rules.B)).toMatchObject({
      unit: 'percent',
      allowance: '200',
      value,
      next: { threshold: '33.333333333', thresholdValue: '66.666666666', progress: '0.9' },
    });
    expect(calls.get(rules.B).crossed).toEqual([expect.objectContaining({ threshold: '10', thresholdValue: '20', value })]);
    expect(calls.get(rules.E)).toMatchObject({
      unit: 'percent',
      allowance: '200',
      crossed: [],
      next: { threshold: '50', thresholdValue: '100', progress: '0.6' },
    });
    // Lifetime: yesterday's 500 counts; 560.000000001 / 1000.
    expect(oracle.value('c1')).toBe('560.000000001');
    expect(calls.get(rules.D)).toMatchObject({
      window: 'lifetime',
      period: null,
      value: '560.000000001',
      crossed: [],
      next: { threshold: '1000', progress: '0.56' },
    });

    // Crossed = the crossings the evaluator fired in this window, as GET /v1/alerts/events lists them; yesterday's are left out.
    const fired = await crossings(t, `?customerId=c1&ruleId=${rules.A}`);
    expect(fired.some((c) => c.periodStart !== period.start)).toBe(true);
    const thisWindow = fired.filter((c) => c.periodStart === period.start).reverse();
    expect(calls.get(rules.A).crossed).toEqual(
      thisWindow.map((c) => ({ threshold: c.threshold, thresholdValue: c.thresholdValue, value: c.value, crossedAt: c.crossedAt })),
    );
  });

  it('moves the value and the next threshold with new events; crossed changes only when the evaluator fires', async () => {
    const { token } = await issueLink(t, { customerId: 'c2' });
    const before = byRule(await progressOf(token), 'calls').get(rules.A);
    expect(before).toMatchObject({ value: '5', crossed: [], next: { threshold: '10', progress: '0.5' } });
    const c2Start = periodOf(nowMs, C2).startMs;
    const more = [{ eventId: 'c2-b', customerId: 'c2', timestamp: c2Start, quantity: '7.000000001' }];
    oracle.send(more);
    await sendEvents(
      t,
      more.map((e) => ({ ...e, metricName: 'api.calls' })),
    );
    const value = oracle.value('c2', c2Start, periodOf(nowMs, C2).endMs);
    expect(value).toBe('12.000000001');
    const after = byRule(await progressOf(token), 'calls').get(rules.A);
    // 12.000000001 reached 10, but no evaluation ran yet: nothing fired, the next threshold is 50.
    expect(after).toMatchObject({ value, crossed: [], next: { threshold: '50', progress: '0.24' } });
    expect((await t.json('POST', '/v1/alerts/evaluate')).status).toBe(200);
    expect(thresholdsCrossed(byRule(await progressOf(token), 'calls').get(rules.A))).toEqual(['10']);
  });

  it("never shows another customer's rules, a percent rule without an allowance, or a meter the link does not show", async () => {
    const { token } = await issueLink(t, { customerId: 'c2' });
    const raw = await (await t.request('GET', '/v1/portal/alerts', { key: token })).text();
    for (const other of [rules.B, rules.D]) expect(raw).not.toContain(other);
    // E is a percent rule and c2 has no allowance: the evaluator skips it, the dashboard does not show it.
    expect(raw).not.toContain(rules.E);
    const body = JSON.parse(raw);
    expect(body.data.map((m: { meterKey: string }) => m.meterKey)).toEqual(['calls', 'tokens']);
    expect([...byRule(body, 'calls').keys()].sort()).toEqual([rules.A, rules.C].sort());
    // Every threshold of C and F is reached and fired: no next.
    expect(byRule(body, 'calls').get(rules.C)).toMatchObject({ next: null });
    expect(thresholdsCrossed(byRule(body, 'calls').get(rules.C))).toEqual(['1']);
    expect(byRule(body, 'tokens').get(rules.F)).toMatchObject({ value: '3', next: null });
    // Nothing of a webhook: no URL, no secret.
    expect(raw).not.toMatch(/webhook|secret|http:/i);
    // A link that shows only tokens: c1 has no rule there, so nothing at all.
    const onlyTokens = await issueLink(t, { customerId: 'c1', meters: ['tokens'] });
    expect((await progressOf(onlyTokens.token)).data).toEqual([]);
    // A customer no rule names, with no allowance: only the tenant-wide absolute rule.
    const c3 = await issueLink(t, { customerId: 'c3' });
    const c3Body = await progressOf(c3.token);
    expect([...byRule(c3Body, 'calls').keys()]).toEqual([rules.A]);
    expect(byRule(c3Body, 'calls').get(rules.A)).toMatchObject({ value: '0', crossed: [], next: { threshold: '10', progress: '0' } });
  });
});

describe('alert progress on the dashboard page', () => {
  let browser: Browser;
  let server: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => {
    server = await listen((await engine()).app);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const open = async (token: string, width = 1100): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = seen;
      document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(`${server.url}/dashboards/portal/#token=${token}`);
    await page.waitForSelector('#app[data-state="ready"]', { timeout: 15_000 });
    return page;
  };

  it("shows a progress bar per rule with the API's exact numbers, accessible, at phone width", async () => {
    const { token } = await issueLink(t, { customerId: 'c1' });
    const api = await progressOf(token);
    const page = await open(token, 375);
    for (const rule of api.data.find((m) => m.meterKey === 'calls')!.rules) {
      const bar = page.locator(`[data-rule="${rule.ruleId}"] [role="progressbar"]`);
      expect(await bar.getAttribute('aria-valuenow')).toBe(rule.value);
      expect(await bar.getAttribute('aria-valuemin')).toBe('0');
      expect(await bar.getAttribute('aria-valuemax')).toBe(rule.next.thresholdValue);
      expect(await bar.getAttribute('data-progress')).toBe(rule.next.progress);
      // Readable text: the accessible name and value text say what the bar shows.
      expect(await bar.getAttribute('aria-valuetext')).toBe(await page.locator(`[data-rule="${rule.ruleId}"] .alert-numbers`).textContent());
      expect((await bar.getAttribute('aria-valuetext'))!.replace(/,/g, '')).toContain(`${rule.value} of ${rule.next.thresholdValue}`);
      const label = await page.locator(`#${await bar.getAttribute('aria-labelledby')}`).textContent();
      expect(label).toContain('next alert at');
      const numbers = page.locator(`[data-rule="${rule.ruleId}"] .alert-numbers`);
      expect(await numbers.getAttribute('data-value')).toBe(rule.value);
      expect(await numbers.textContent()).toMatch(/^[\d,.]+ of [\d,.]+ \([\d.]+%\)$/);
    }
    // Exact: the text keeps the last digit a float would lose.
    expect(await page.locator(`[data-rule="${rules.A}"] .alert-numbers`).textContent()).toBe('60.000000001 of 100 (60%)');
    expect(await page.locator(`[data-rule="${rules.A}"] .crossed`).textContent()).toContain('10, 50');
    expect(await page.locator(`[data-rule="${rules.B}"] .alert-title`).textContent()).toContain('33.333333333% of your 200 allowance (66.666666666)');
    // The role is exposed to assistive technology with its value.
    const tree = await page.locator(`[data-rule="${rules.A}"] [role="progressbar"]`).ariaSnapshot();
    expect(tree).toContain('progressbar');
    // The tokens meter has no rule for c1: no alert section.
    expect(await page.locator('[data-rule]').count()).toBe(4);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
    await page.close();
  });

  it("never shows another customer's rules", async () => {
    const { token } = await issueLink(t, { customerId: 'c2' });
    const page = await open(token);
    for (const other of [rules.B, rules.D, rules.E]) expect(await page.locator(`[data-rule="${other}"]`).count()).toBe(0);
    expect(await page.locator(`[data-rule="${rules.C}"] [role="progressbar"]`).count()).toBe(0);
    expect(await page.locator(`[data-rule="${rules.C}"]`).textContent()).toContain('Every alert threshold reached');
    await page.close();
  });
});
