import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';
import { ApiError } from '../errors.js';

const BEARER = /^Bearer\s+(\S{1,512})$/i;

/**
 * Prometheus text format. Without a key, like most scrape targets: the
 * process-wide totals (no tenant, customer or event data). With the operator
 * key (Authorization: Bearer), also the series labelled by tenant. A key that
 * is not the operator's is refused, so a misconfigured scraper shows as down
 * rather than silently missing the tenant series.
 */
export function metricsRoutes({ metrics, access }: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) => {
    const header = c.req.header('authorization');
    let operator = false;
    if (header !== undefined) {
      const secret = BEARER.exec(header)?.[1];
      operator = secret !== undefined && (await access.operator.authenticate(secret));
      if (!operator) throw new ApiError(401, 'unauthorized', '/metrics takes no key or the operator key', undefined, { 'WWW-Authenticate': 'Bearer' });
    }
    const totals = await metrics.registry.metrics();
    const body = operator ? `${totals}${await metrics.tenantRegistry.metrics()}` : totals;
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}
