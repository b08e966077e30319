import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import createClient from 'openapi-fetch';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_KEY, engine, newTenant, type TestTenant } from './harness.js';

/** /openapi.json as generated clients use it: valid, portable patterns, every error an operation can answer declared. */
const ROOT = join(import.meta.dirname, '..');
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
type Operation = { method: string; path: string; op: any };

let doc: any;
let operations: Operation[];
let admin: TestTenant;
let standardKey: string;

beforeAll(async () => {
  const r = await engine();
  doc = await (await r.app.request('/openapi.json')).json();
  operations = Object.entries(doc.paths).flatMap(([path, item]: [string, any]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method: method.toUpperCase(), path, op: item[method] })),
  );
  admin = await newTenant();
  const created = await admin.json('POST', '/v1/api-keys', { body: { name: 'reader', role: 'standard' } });
  standardKey = created.body.secret ?? created.body.key;
  expect(standardKey).toEqual(expect.any(String));
});

/** Every `pattern` in the document, with where it is. */
function patterns(node: unknown, at = '#'): [string, string][] {
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === 'pattern' && typeof v === 'string' ? [[`${at}/${k}`, v] as [string, string]] : patterns(v, `${at}/${k}`),
  );
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('has only ECMA-262 patterns that need no flag', () => {
    const all = patterns(doc);
    expect(all.length).toBeGreaterThan(10);
    for (const [where, pattern] of all) {
      expect(pattern, where).not.toMatch(/\/[dgimsuvy]*$/); // a JS flag glued to the end
      expect(() => new RegExp(pattern), where).not.toThrow();
      expect(() => new RegExp(pattern, 'u'), where).not.toThrow();
    }
  });

  it('declares 401 and the one scope it needs on every secured operation, and 401 is what a request without a key gets', async () => {
    for (const { method, path, op } of operations) {
      if (!path.startsWith('/v1/')) continue;
      expect(op.security, `${method} ${path}`).toEqual([{ bearer: [expect.any(String)] }]);
      expect(Object.keys(op.responses), `${method} ${path}`).toContain('401');
      const res = await admin.request(method, concrete(path), { key: null });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it('declares 403 wherever a standard key is refused', async () => {
    const refused: string[] = [];
    const undeclared: string[] = [];
    for (const { method, path, op } of operations) {
      if (!path.startsWith('/v1/')) continue;
      const body = method === 'GET' ? {} : { raw: '{}', headers: { 'content-type': 'application/json' } };
      const res = await admin.request(method, concrete(path), { key: standardKey, ...body });
      if (res.status === 403) {
        refused.push(`${method} ${path}`);
        if (!op.responses['403']) undeclared.push(`${method} ${path}`);
      }
    }
    expect(undeclared).toEqual([]);
    expect(refused.length).toBeGreaterThan(5);
  });

  it('declares 400 and 415 on every operation with a body, which is what a bad body gets', async () => {
    for (const { method, path, op } of operations.filter((o) => o.op.requestBody)) {
      const declared = Object.keys(op.responses);
      const scope = op.security?.[0]?.bearer?.[0];
      // A console link's routes are reached by such a link only (the admin key gets 403 there).
      const key =
        scope === 'operator'
          ? OPERATOR_KEY
          : scope === 'link:sql-console'
            ? (await admin.json('POST', '/v1/sql/console-links', { body: {} })).body.token
            : admin.adminKey;
      const wrongType = await admin.request(method, concrete(path), { key, raw: 'x', headers: { 'content-type': 'text/plain' } });
      expect(wrongType.status, `${method} ${path}`).toBe(415);
      expect(declared, `${method} ${path}`).toEqual(expect.arrayContaining(['400', '415']));
      const malformed = await admin.request(method, concrete(path), { key, raw: '{', headers: { 'content-type': 'application/json' } });
      expect(malformed.status, `${method} ${path}`).toBe(400);
    }
  });

  it('declares 400 on every operation that takes parameters', () => {
    for (const { method, path, op } of operations) {
      if (op.parameters?.length || op.requestBody) expect(Object.keys(op.responses), `${method} ${path}`).toContain('400');
    }
  });

  describe('a typed client generated from it (openapi-typescript + openapi-fetch)', () => {
    const dir = join(ROOT, '.tmp', `openapi-client-${process.pid}`);
    beforeAll(async () => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'api.d.ts'), astToString(await openapiTS(doc)));
      await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
      await writeFile(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: true, types: [] },
        }),
      );
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    const compile = async (source: string) => {
      await writeFile(join(dir, 'client.ts'), source);
      return promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir]).then(
        () => '',
        (e: { stdout: string }) => e.stdout,
      );
    };
    const client = `import createClient from 'openapi-fetch';
import type { paths } from './api.js';
const api = createClient<paths>({ baseUrl: 'http://localhost:8080', headers: { authorization: 'Bearer k' } });
export async function usage(): Promise<number> {
  const sent = await api.POST('/v1/events', { body: [{ eventId: 'e-1', customerId: 'acme', metricName: 'api.calls', quantity: '1.5' }] });
  // 422 (every event rejected) answers per event, like 207: the error type is that or the one error body
  if (sent.error) throw new Error('error' in sent.error ? sent.error.error.code : String(sent.error.rejected));
  const accepted: number = sent.data.accepted;
  const summary = await api.GET('/v1/usage/summary', { params: { query: { from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' } } });
  if (summary.error) throw new Error(summary.error.error.message);
  const events: number = summary.data.data[0]!.events;
  const quantity: string = summary.data.data[0]!.quantity;
  return accepted + events + quantity.length;
}
`;

    it('compiles with tsc, and the types mean something', async () => {
      expect(await compile(client)).toBe('');
      expect(await compile(client.replace('const events: number', 'const events: string'))).toMatch(/client\.ts.*error TS2322/);
      expect(await compile(client.replace("'/v1/usage/summary'", "'/v1/no-such-route'"))).toMatch(/error TS2345|error TS2769/);
    });

    it('talks to the app', async () => {
      const { app } = await engine();
      const api = createClient<any>({
        baseUrl: 'http://meterhouse.test',
        headers: { authorization: `Bearer ${admin.adminKey}` },
        fetch: (request: Request) => Promise.resolve(app.request(request)),
      });
      const now = Date.now();
      const sent = await api.POST('/v1/events', { body: [{ eventId: 'oc-1', customerId: 'typed', metricName: 'api.calls', quantity: '1.5', timestamp: now }] });
      expect(sent.data).toMatchObject({ accepted: 1 });
      const summary = await api.GET('/v1/usage/summary', { params: { query: { from: now, to: now + 1, customerId: 'typed' } } });
      expect(summary.data.data).toEqual([{ customerId: 'typed', metricName: 'api.calls', quantity: '1.5', events: 1 }]);
      const refused = await api.GET('/v1/usage/summary', { params: { query: { from: now } } });
      expect(refused.error).toMatchObject({ error: { code: 'invalid_request' } });
    });
  });
});

/** A path template with every {param} filled in. */
function concrete(path: string): string {
  return path.replace(/\{[^}]+\}/g, 'x');
}
