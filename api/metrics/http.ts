import { Histogram, type Registry } from 'prom-client';
import { createMiddleware } from 'hono/factory';
import { matchedRoutes } from 'hono/route';

export type HttpLatency = Histogram<'method' | 'route' | 'status'>;

/** One per process (Metrics); every app built over it (tests build several) shares it. */
export function httpLatency(registry: Registry): HttpLatency {
  return new Histogram({
    name: 'meterhouse_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
}

/**
 * HTTP latency per route. The route label is the matched route's template
 * (`/v1/meters/:key`), never the raw path, so its values are the app's
 * routes (a fixed set); a request no route matched is `unmatched`.
 * Middleware (method ALL, or a wildcard path like the read gate's GET
 * /v1/*) is not a route. Status is a class (2xx..5xx), method one of HTTP's.
 */
export function measureRequests(latency: HttpLatency) {
  return createMiddleware(async function measureRequest(c, next) {
    const end = latency.startTimer();
    try {
      await next();
    } finally {
      const route =
        matchedRoutes(c)
          .filter((r) => r.method !== 'ALL' && !r.path.endsWith('*'))
          .at(-1)?.path ?? 'unmatched';
      end({ method: route === 'unmatched' ? 'other' : c.req.method, route, status: `${String(c.res.status)[0]}xx` });
    }
  });
}
