import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../context.js';
import { pendingMigrations } from '../../sql/migrations.js';

const status = z.object({ status: z.string(), reason: z.string().optional() });

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process is up',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: status } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the engine answers and every migration is applied',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: status } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: status } } },
  },
});

export function healthRoutes({ db, logger }: AppDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(healthRoute, (c) => c.json({ status: 'ok' }, 200));
  app.openapi(readyRoute, async (c) => {
    try {
      const pending = await pendingMigrations(db);
      if (pending.length > 0) return c.json({ status: 'not_ready', reason: `migrations pending: ${pending.join(', ')}` }, 503);
      return c.json({ status: 'ready' }, 200);
    } catch (error) {
      logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'readiness check failed');
      return c.json({ status: 'not_ready', reason: 'the ClickHouse engine does not answer' }, 503);
    }
  });
  return app;
}
