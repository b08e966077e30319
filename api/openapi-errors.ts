import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import { errorSchema } from './errors.js';
import { jsonOf } from './params.js';

const error = (description: string) => ({ description, content: jsonOf(errorSchema) });

/**
 * Declares, on every operation of the document, the error responses that the
 * app's shared machinery can give it, so generated clients know them: 401 from
 * the API key check and 403 from the scope check (secured operations: a key
 * without the scope, a disabled tenant, the operator on a tenant route), 429
 * from the per-tenant concurrent-read limit (secured GETs), 400 from request validation
 * (operations with parameters or a body), 415 and 400 from the JSON body
 * parser (operations with a body), and a default Error for the rest (404,
 * 413, 503...: every error has the one body). A route's own description of a
 * status wins.
 */
export function declareErrorResponses(app: OpenAPIHono<any>): void {
  for (const definition of app.openAPIRegistry.definitions) {
    if (definition.type !== 'route') continue;
    const route: RouteConfig = definition.route;
    const r = route.request;
    const hasBody = r?.body !== undefined;
    const generic: RouteConfig['responses'] = {
      ...(route.security?.length
        ? {
            401: error('Missing, unknown or revoked API key (Authorization: Bearer <key>)'),
            403: error(
              `The key lacks the scope this operation needs (${route.security.flatMap((s) => s.bearer ?? []).join(', ')}), the tenant is disabled (tenant_disabled), or the credential is of the other kind (operator or tenant)`,
            ),
          }
        : {}),
      ...(route.security?.length && route.method === 'get' ? { 429: error('The tenant has as many reads in progress as its limit allows (Retry-After)') } : {}),
      ...(hasBody || r?.query || r?.params || r?.headers ? { 400: error('The request is invalid (details name each problem)') } : {}),
      ...(hasBody ? { 415: error('The body is not of a media type this operation takes') } : {}),
      default: error('Any other error'),
    };
    // A new object: sub-apps share their route configs with this registry's copies.
    definition.route = { ...route, responses: { ...generic, ...route.responses } };
  }
}
