import { describe, expect, it } from 'vitest';
import { engine } from './harness.js';

describe('health and the OpenAPI document', () => {
  it('answers /healthz and /readyz without a key', async () => {
    const { app } = await engine();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('serves an OpenAPI 3.1 document generated from the zod schemas', async () => {
    const { app } = await engine();
    const doc: any = await (await app.request('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/healthz',
      '/readyz',
      '/v1/alerts/evaluate',
      '/v1/alerts/events',
      '/v1/alerts/rules',
      '/v1/alerts/rules/{id}',
      '/v1/api-keys',
      '/v1/api-keys/{id}',
      '/v1/audit',
      '/v1/audit/verify',
      '/v1/billing/close',
      '/v1/billing/exports',
      '/v1/billing/exports/verify',
      '/v1/billing/exports/{id}',
      '/v1/billing/exports/{id}/lines',
      '/v1/customers',
      '/v1/customers/{customerId}',
      '/v1/dead-letters',
      '/v1/dead-letters/replay',
      '/v1/events',
      '/v1/events/{eventId}/amend',
      '/v1/events/{eventId}/history',
      '/v1/events/{eventId}/void',
      '/v1/meters',
      '/v1/meters/{key}',
      '/v1/meters/{key}/usage',
      '/v1/operator/storage',
      '/v1/operator/tenants',
      '/v1/operator/tenants/{id}',
      '/v1/portal/alerts',
      '/v1/portal/customer',
      '/v1/portal/meters/{key}/events',
      '/v1/portal/meters/{key}/periods',
      '/v1/portal/meters/{key}/usage',
      '/v1/portal/tokens',
      '/v1/portal/tokens/{id}',
      '/v1/reconciliation',
      '/v1/sql',
      '/v1/sql/console-links',
      '/v1/sql/console-links/{id}',
      '/v1/sql/console/query',
      '/v1/sql/console/schema',
      '/v1/sql/history',
      '/v1/sql/schema',
      '/v1/usage/summary',
      '/v1/webhooks',
    ]);
    expect(Object.keys(doc.paths['/v1/events']).sort()).toEqual(['get', 'post']);
    expect(doc.components.schemas.UsageEvent.required.sort()).toEqual(['customerId', 'eventId', 'metricName']);
    expect(Object.keys(doc.paths['/v1/events'].post.requestBody.content)).toEqual([
      'application/json',
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
    ]);
    expect(doc.paths['/v1/events'].post.responses['207']).toBeDefined();
  });

  it('answers unknown routes with the one error body', async () => {
    const { app } = await engine();
    const res = await app.request('/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});
