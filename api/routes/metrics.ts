import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../context.js';

/**
 * Prometheus text format. Unauthenticated, like most scrape targets: it holds
 * process-wide totals only (no tenant, customer or event data).
 */
export function metricsRoutes({ metrics }: AppDeps) {
  const app = new Hono<AppEnv>();
  app.get('/metrics', async (c) => {
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}
