import { expect, it } from 'vitest';
import { tempDir } from './server-process.js';
import { cli, cliJson } from './cli-process.js';
import { loadConfig } from '../api/config.js';
import { connectOptions } from '../api/runtime-settings.js';
import { connect } from '../sql/connect.js';
import { saveMeter } from '../sql/queries/meters.js';
import { ANY_TIME, auditPage } from '../sql/queries/audit.js';
import { alertRules } from '../sql/queries/alerts.js';

it("creates, lists and deletes alert rules with the API's validation, audit-logged as the cli", async () => {
  const dataDir = await tempDir();
  await cliJson(dataDir, 'migrate');
  await cliJson(dataDir, 'tenants', 'create', 'acme');
  const engine = () => connect(connectOptions(loadConfig({ DATA_DIR: dataDir, ENGINE_MAX_MEMORY_BYTES: String(2 * 1024 ** 3) })));
  let c = await engine();
  await saveMeter(c.db, 'acme', { key: 'calls', metricName: 'api.calls', aggregation: 'SUM', groupBy: [], filter: {}, billable: true });
  await c.close();

  const created = await cliJson(dataDir, 'alerts', 'rules', 'create', '-t', 'acme', '-m', 'calls', '--thresholds', '100', '1000', '--every', '500');
  expect(created).toMatchObject({
    meterKey: 'calls',
    customerId: null,
    thresholds: ['100', '1000'],
    every: '500',
    window: 'period',
    direction: 'rising',
    rearm: false,
  });
  expect((await cliJson(dataDir, 'alerts', 'rules', 'list', '-t', 'acme')).map((r: any) => r.id)).toEqual([created.id]);
  const refused = await cli(dataDir, '--json', 'alerts', 'rules', 'create', '-t', 'acme', '-m', 'calls', '--thresholds', '1e3');
  expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining('thresholds.0 must be a decimal number')]);
  expect(await cliJson(dataDir, 'alerts', 'rules', 'delete', created.id, '-t', 'acme')).toEqual({ deleted: created.id });

  c = await engine();
  expect(await alertRules(c.db, { tenantId: 'acme', limit: 10 })).toEqual([]);
  const audit = await auditPage(c.db, { tenantId: 'acme', afterSequence: 0, afterId: '', kind: '', ...ANY_TIME, limit: 100 });
  await c.close();
  expect(audit.filter((a) => a.target === created.id).map((a) => [a.kind, a.actor])).toEqual([
    ['alert_rule.created', 'cli'],
    ['alert_rule.deleted', 'cli'],
  ]);
}, 300_000);
