import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeEngine, OPERATOR_KEY } from './harness.js';
import { doOpsWork, startOpsEngine, type OpsWork } from './ops-fixture.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';
import { waitFor } from './wait.js';

/**
 * A real Prometheus scrapes a meterhouse that has done an operator's day of
 * work (both ingest paths, duplicates, a dead letter, a reconciliation, a
 * close) and evaluates every query of the Grafana dashboards and the alert
 * rules that docker-compose provisions.
 */
const ROOT = join(import.meta.dirname, '..');
const DASHBOARDS = join(ROOT, 'dashboards', 'grafana');
const RULES = join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const run = promisify(execFile);

let base: Awaited<ReturnType<typeof startOpsEngine>>;
let w: OpsWork;
let server: ServerType;
let target: string;
let prometheus: PrometheusServer;
let exposed: Set<string>;

interface Panel {
  title: string;
  datasource: { uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
}
const dashboards = async () =>
  Promise.all(
    (await readdir(DASHBOARDS))
      .filter((f) => f.endsWith('.json'))
      .map(async (file) => ({ file, ...(JSON.parse(await readFile(join(DASHBOARDS, file), 'utf8')) as { title: string; panels: Panel[] }) })),
  );

/** Grafana's interval variables, as Grafana would fill them at a 1 s scrape interval. */
const concrete = (expr: string) => expr.replaceAll('$__rate_interval', '1m');
/** The series names a query reads (every meterhouse metric and the process metrics of prom-client). */
const metricsIn = (expr: string) => [...new Set(expr.match(/\b(?:meterhouse|process|nodejs)_[a-z0-9_]+/g) ?? [])];

/** What is wrong with a dashboard's queries against the metrics a target exposes: [] when nothing. */
function panelProblems(d: { file: string; panels: Panel[] }, names: ReadonlySet<string>): string[] {
  return d.panels.flatMap((p) => {
    if (p.targets.length === 0) return [`${d.file} "${p.title}" has no query`];
    return p.targets.flatMap((t) =>
      metricsIn(t.expr)
        .filter((m) => !names.has(m))
        .map((m) => `${d.file} "${p.title}" queries ${m}, which meterhouse does not expose`),
    );
  });
}

async function hasData(expr: string): Promise<boolean> {
  const answer = await prometheus.query(expr);
  if (answer.status !== 'success') throw new Error(`${expr}: ${answer.error}`);
  return answer.data!.result.length > 0;
}

async function value(expr: string): Promise<number> {
  const answer = await prometheus.query(expr);
  const [first] = (answer.data?.result ?? []) as { value: [number, string] }[];
  return first ? Number(first.value[1]) : NaN;
}

beforeAll(async () => {
  base = await startOpsEngine();
  w = await doOpsWork(base);
  await w.runJob('rollups.reconcile');
  await w.runJob('rollups.compact');
  await w.runJob('billing.close');
  await new Promise<void>((resolve) => {
    server = serve({ fetch: base.runtime.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      target = `127.0.0.1:${info.port}`;
      resolve();
    });
  });
  prometheus = await startPrometheus({ host: target, credentials: OPERATOR_KEY, ruleFiles: [RULES] });
  // Three scrapes after the work: enough samples for every rate over 1m.
  await waitFor('three successful scrapes', async () => (await value('sum_over_time(up{job="meterhouse"}[1m])')) >= 3, 30_000);
  exposed = new Set((await prometheus.get<{ data: string[] }>('/api/v1/label/__name__/values')).data);
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  await base?.stop();
  await closeEngine(); // the consumers stop before their broker does
  await base?.broker.stop();
}, 60_000);

describe('Prometheus scraping meterhouse', () => {
  it('sees what the work did: ingest by outcome and tenant, freshness, the dead letter, lag, the jobs', async () => {
    const t = w.tenant.tenantId;
    expect(await value(`meterhouse_ingest_tenant_events_total{tenant="${t}", outcome="accepted"}`)).toBe(19);
    expect(await value(`meterhouse_ingest_tenant_events_total{tenant="${t}", outcome="duplicate"}`)).toBe(1);
    expect(await value(`meterhouse_ingest_tenant_events_total{tenant="${t}", outcome="rejected"}`)).toBe(1);
    // Every stored row since the process started (a merge may already have collapsed a redelivery), each stored within a minute.
    expect(await value('meterhouse_freshness_stored_seconds_count')).toBeGreaterThanOrEqual(19);
    expect(await value('meterhouse_freshness_stored_seconds_bucket{le="60"}')).toBe(await value('meterhouse_freshness_stored_seconds_count'));
    expect(await value('meterhouse_dead_letters{state="pending"}')).toBe(1);
    expect(await value('meterhouse_kafka_consumer_lag_known')).toBe(1);
    expect(await value('meterhouse_reconcile_windows_total{result="rewritten"}')).toBeGreaterThanOrEqual(1);
    expect(await value('meterhouse_reconcile_events_difference_total')).toBeGreaterThanOrEqual(2);
    expect(await value('meterhouse_close_exports_written_total')).toBeGreaterThanOrEqual(1);
    expect(await value(`meterhouse_close_last_success_timestamp_seconds{tenant="${t}"}`)).toBeGreaterThan(0);
    expect(await value('meterhouse_job_runs_total{name="billing.close", outcome="ok"}')).toBe(1);
    expect(await value('meterhouse_usage_events_rows')).toBeGreaterThanOrEqual(19);
    expect(await hasData('meterhouse_http_request_duration_seconds_count{route="/v1/events", method="POST", status="2xx"}')).toBe(true);
  });

  it('evaluates every panel of every dashboard: each query returns data and names only metrics meterhouse exposes', async () => {
    const all = await dashboards();
    expect(all.map((d) => d.file).sort()).toEqual(['billing.json', 'freshness.json', 'ingest.json', 'storage.json']);
    const provisioned = await readFile(join(ROOT, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8');
    for (const d of all) {
      expect(panelProblems(d, exposed)).toEqual([]);
      for (const p of d.panels) {
        // Grafana finds the data source by the uid the provisioning gives it.
        for (const t of p.targets) expect(provisioned).toContain(`uid: ${t.datasource.uid}`);
        for (const t of p.targets) await waitFor(`data for ${d.file} "${p.title}": ${t.expr}`, () => hasData(concrete(t.expr)), 15_000);
      }
    }
  });

  it('fails a panel that queries a metric meterhouse does not expose', () => {
    const panel: Panel = {
      title: 'typo',
      datasource: { uid: 'prometheus' },
      targets: [{ expr: 'rate(meterhouse_ingest_event_total[5m])', datasource: { uid: 'prometheus' } }],
    };
    expect(panelProblems({ file: 'x.json', panels: [panel] }, exposed)).toEqual([
      'x.json "typo" queries meterhouse_ingest_event_total, which meterhouse does not expose',
    ]);
  });

  it('loads every alert rule, evaluates each without error, and each query without its threshold returns data', async () => {
    await run('promtool', ['check', 'rules', RULES]);
    await run('promtool', ['test', 'rules', join(ROOT, 'deploy', 'prometheus', 'alerts.test.yml')]);
    type Rule = { name: string; query: string; health: string; lastError?: string };
    let rules: Rule[] = [];
    await waitFor(
      'every rule evaluated',
      async () => {
        rules = (await prometheus.get('/api/v1/rules')).data.groups.flatMap((g: { rules: Rule[] }) => g.rules);
        return rules.length > 0 && rules.every((r) => r.health === 'ok');
      },
      15_000,
      () => rules,
    );
    expect(rules.map((r) => r.name).sort()).toEqual([
      'MeterhouseCloseFailed',
      'MeterhouseIngestNotFresh',
      'MeterhouseKafkaLag',
      'MeterhouseKafkaLagUnknown',
      'MeterhouseReconciliationDifferences',
      'MeterhouseReconciliationStale',
      'MeterhouseRollupTierNotFilled',
      'MeterhouseRollupsNotCompacted',
      'MeterhouseWebhookBacklog',
    ]);
    for (const r of rules) {
      for (const m of metricsIn(r.query)) expect(exposed, `${r.name} queries ${m}`).toContain(m);
      const measured = r.query.replace(/\s*(>|<|==|!=|>=|<=)\s*[\d.e+]+\s*$/, '');
      expect(measured).not.toBe(r.query);
      await waitFor(`data for ${r.name}: ${measured}`, () => hasData(measured), 15_000);
    }
  });

  it('serves the tenant series only to the operator key, and refuses any other key', async () => {
    const anonymous = await (await fetch(`http://${target}/metrics`)).text();
    expect(anonymous).toContain('meterhouse_ingest_events_total');
    expect(anonymous).not.toContain(w.tenant.tenantId);
    const operator = await (await fetch(`http://${target}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_KEY}` } })).text();
    expect(operator).toContain(`meterhouse_ingest_tenant_events_total{tenant="${w.tenant.tenantId}",outcome="accepted"} 19`);
    expect((await fetch(`http://${target}/metrics`, { headers: { authorization: `Bearer ${w.tenant.adminKey}` } })).status).toBe(401);
  });

  it('labels HTTP latency by route template, never by the raw path', async () => {
    expect((await w.tenant.request('GET', '/v1/meters/calls')).status).toBe(200);
    expect((await w.tenant.request('GET', '/v1/no-such-route-4711')).status).toBe(404);
    const text = await (await fetch(`http://${target}/metrics`)).text();
    const routes = new Set([...text.matchAll(/^meterhouse_http_request_duration_seconds_count\{[^}]*route="([^"]*)"/gm)].map((m) => m[1]));
    expect(routes).toContain('/v1/meters/:key');
    expect(routes).toContain('unmatched');
    expect([...routes].filter((r) => r!.includes('calls') || r!.includes('4711'))).toEqual([]);
  });

  it('has docker-compose mount the Prometheus config, the rules, Grafana provisioning and these dashboards, from files that exist', async () => {
    const compose = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
    const mounts = [...compose.matchAll(/^\s*- \.\/([^:]+):(\S+?)(?::ro)?$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const into = new Map(mounts.map(([from, to]) => [to, from]));
    expect(into.get('/etc/prometheus/prometheus.yml')).toBe('deploy/prometheus/prometheus.yml');
    expect(into.get('/etc/prometheus/alerts.yml')).toBe('deploy/prometheus/alerts.yml');
    expect(into.get('/etc/grafana/provisioning')).toBe('deploy/grafana/provisioning');
    expect(into.get('/var/lib/grafana/dashboards/meterhouse')).toBe('dashboards/grafana');
    for (const [from] of mounts) await readdir(join(ROOT, from)).catch(() => readFile(join(ROOT, from)));
    expect(await readFile(join(ROOT, 'deploy', 'grafana', 'provisioning', 'dashboards', 'meterhouse.yml'), 'utf8')).toContain(
      'path: /var/lib/grafana/dashboards/meterhouse',
    );
    expect(await readFile(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')).toContain('- /etc/prometheus/alerts.yml');
  });
});
