import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';
import { ApiError } from './errors.js';
import { illFormedPaths, NOT_WELL_FORMED } from '../ingest/text.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether a raw URL part decodes to UTF-8 (Hono keeps an undecodable %ED%A0%80 as the literal text "%ED%A0%80"). */
export function isUtf8PercentEncoded(raw: string): boolean {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(raw[i]!, 'utf8'));
  }
  try {
    utf8.decode(new Uint8Array(bytes));
    return true;
  } catch {
    return false;
  }
}

const isJson = (contentType: string | undefined) => /^application\/([\w.+-]*\+)?json\b/i.test(contentType ?? '');

/**
 * Every text a request carries (path, query, JSON body) is Unicode the engine
 * stores exactly: a lone surrogate or invalid UTF-8 is a 400 naming where, not
 * a silently replaced character nor an engine error (503) later. POST
 * /v1/events is exempt: it checks the same per event (ingest/normalise.ts).
 */
export function wellFormedInput(): MiddlewareHandler<AppEnv> {
  return async function wellFormedInput(c, next) {
    const url = new URL(c.req.url);
    if (!isUtf8PercentEncoded(url.pathname) || !isUtf8PercentEncoded(url.search)) {
      throw new ApiError(400, 'invalid_request', 'the URL is not valid UTF-8 once percent-decoded');
    }
    const ingest = c.req.method === 'POST' && c.req.path === '/v1/events';
    if (!ingest && ['POST', 'PUT', 'PATCH'].includes(c.req.method) && isJson(c.req.header('content-type'))) {
      let text: string;
      try {
        text = utf8.decode(new Uint8Array(await c.req.arrayBuffer()));
      } catch {
        throw new ApiError(400, 'invalid_utf8', 'the body is not valid UTF-8');
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined; // not JSON: the route's validator says so
      }
      const paths = illFormedPaths(body);
      if (paths.length > 0)
        throw new ApiError(
          400,
          'invalid_request',
          'the request is invalid',
          paths.map((path) => ({ path, message: NOT_WELL_FORMED })),
        );
    }
    await next();
  };
}
