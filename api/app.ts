import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import type { AppDeps, AppEnv } from './context.js';
import { ApiError, errorResponse } from './errors.js';
import { authenticate, authorize } from './auth.js';
import { RouteScopes } from './route-scopes.js';
import { operatorRoutes } from './routes/operator.js';
import { wellFormedInput } from './well-formed-input.js';
import { readGate } from './read-gate.js';
import { healthRoutes } from './routes/health.js';
import { eventRoutes } from './routes/events.js';
import { usageRoutes } from './routes/usage.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { meterRoutes } from './routes/meters.js';
import { deadLetterRoutes } from './routes/dead-letters.js';
import { metricsRoutes } from './routes/metrics.js';
import { customerRoutes } from './routes/customers.js';
import { billingRoutes } from './routes/billing.js';
import { correctionRoutes } from './routes/corrections.js';
import { storageRoutes } from './routes/storage.js';
import { auditRoutes } from './routes/audit.js';
import { referenceRoutes } from './routes/reference.js';
import { webhookRoutes } from './routes/webhooks.js';
import { sqlRoutes } from './routes/sql.js';
import { sqlConsoleRoutes } from './routes/sql-console.js';
import { alertRoutes } from './routes/alerts.js';
import { declareErrorResponses } from './openapi-errors.js';
import { measureRequests } from './metrics/http.js';
import { reconciliationRoutes } from './routes/reconciliation.js';
import { dashboardPages } from './dashboard-pages.js';
import { IngestRate } from '../access/limits.js';
import { portalTokenRoutes } from './routes/portal-tokens.js';
import { portalRoutes } from './routes/portal.js';
import { portalAlertRoutes } from './routes/portal-alerts.js';

/** Liveness and readiness probes: logged at debug while they pass. */
const PROBES = new Set(['/healthz', '/readyz']);

/** The HTTP API: middleware, routes, the OpenAPI document, one error handler. */
export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures of query, path and JSON bodies become the one error body.
    defaultHook: (result) => {
      if (!result.success) {
        const details = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
        throw new ApiError(400, 'invalid_request', 'the request is invalid', details);
      }
    },
  });

  app.use(requestId({ limitLength: 128 }));
  app.use(measureRequests(deps.metrics.http));
  app.use(async function accessLog(c, next) {
    const started = performance.now();
    await next();
    const principal = c.get('principal');
    // Orchestrators probe every few seconds: a passing probe is debug noise, a failing one stays visible.
    const level = PROBES.has(c.req.path) && c.res.status < 400 ? 'debug' : 'info';
    deps.logger[level](
      {
        requestId: c.get('requestId'),
        tenantId: principal?.tenantId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  });
  // The scope each route needs comes from its OpenAPI declaration, loaded once every route is registered.
  const routeScopes = new RouteScopes();
  app.use('/v1/*', authenticate(deps.access, deps.links));
  app.use('/v1/*', wellFormedInput());
  app.use('/v1/*', authorize(routeScopes, deps.access, { rate: new IngestRate(), perSecond: deps.config.PORTAL_REQUESTS_PER_SECOND }));
  // Every GET under /v1 reads through a leased, limited read connection (c.get('reader')).
  app.on(
    ['GET', 'HEAD'],
    '/v1/*',
    readGate(deps.readGate, (tenantId) => deps.access.tenants.limitsFor(tenantId)),
  );

  app.route('/', healthRoutes(deps));
  app.route('/', eventRoutes(deps));
  app.route('/', usageRoutes(deps));
  app.route('/', apiKeyRoutes(deps));
  app.route('/', meterRoutes(deps));
  app.route('/', deadLetterRoutes(deps));
  app.route('/', metricsRoutes(deps));
  app.route('/', customerRoutes(deps));
  app.route('/', billingRoutes(deps));
  app.route('/', correctionRoutes(deps));
  app.route('/', storageRoutes(deps));
  app.route('/', operatorRoutes(deps));
  app.route('/', auditRoutes(deps));
  app.route('/', webhookRoutes(deps));
  app.route('/', reconciliationRoutes(deps));
  app.route('/', portalTokenRoutes(deps));
  app.route('/', portalRoutes(deps));
  app.route('/', portalAlertRoutes(deps));
  app.route('/', sqlRoutes(deps));
  app.route('/', sqlConsoleRoutes(deps));
  app.route('/', alertRoutes(deps));
  // The web app's pages (no /v1 prefix: they are public files; their data comes from /v1/portal/... with the link).
  app.route('/', dashboardPages({ frameAncestors: deps.config.PORTAL_FRAME_ANCESTORS }));
  routeScopes.load(app);

  declareErrorResponses(app);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'meterhouse', version: '0.1.0', description: 'Usage analytics warehouse for usage-based billing' },
  });

  // The API reference page (Swagger UI over /openapi.json), outside /v1: no key needed to read the contract.
  app.route('/', referenceRoutes());

  app.notFound((c) => errorResponse(c, new ApiError(404, 'not_found', `no route ${c.req.method} ${c.req.path}`), deps.logger));
  app.onError((error, c) => errorResponse(c, error, deps.logger));
  return app;
}
