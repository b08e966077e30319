import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import type { AppEnv } from '../context.js';

/**
 * The API reference page: Swagger UI (swagger-ui-dist, served from our own
 * origin: no CDN) rendering /openapi.json. Only the files the page needs
 * are served, by name; nothing else of node_modules is reachable.
 */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#reference', deepLinking: true, validatorUrl: null, tryItOutEnabled: false });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meterhouse API reference</title>
<link rel="icon" type="image/png" href="/docs/api/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/api/assets/swagger-ui.css">
</head>
<body>
<p style="margin:1rem 1.5rem"><a href="/">meterhouse</a> &middot; API reference rendered from <a href="/openapi.json">/openapi.json</a></p>
<div id="reference"></div>
<script src="/docs/api/assets/swagger-ui-bundle.js"></script>
<script src="/docs/api/assets/init.js"></script>
</body>
</html>
`;

/** Swagger UI sets inline styles; scripts come only from this origin; it may fetch only /openapi.json here. */
export const REFERENCE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const assetDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export function referenceRoutes() {
  const app = new Hono<AppEnv>();
  const cache = new Map<string, Buffer>();
  app.use('/docs/api*', async (c, next) => {
    await next();
    c.header('Content-Security-Policy', REFERENCE_CSP);
    c.header('X-Content-Type-Options', 'nosniff');
  });
  app.get('/docs/api', (c) => {
    c.header('Cache-Control', 'no-cache');
    return c.html(PAGE);
  });
  app.get('/docs/api/assets/init.js', (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.body(INIT_SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  app.get('/docs/api/assets/:file', async (c) => {
    const file = c.req.param('file');
    const type = ASSETS[file];
    if (type === undefined) return c.notFound();
    let body = cache.get(file);
    if (body === undefined) {
      body = await readFile(join(assetDir, file));
      cache.set(file, body);
    }
    c.header('Cache-Control', 'public, max-age=86400');
    return c.body(new Uint8Array(body), 200, { 'Content-Type': type });
  });
  return app;
}
