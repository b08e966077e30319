import { readdirSync, readFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { Hono } from 'hono';
import type { AppEnv } from './context.js';
import { PAGES } from '../dashboards/pages.js';

/** The committed build of the web app (dashboards/vite.config.ts; test/dashboards-build.test.ts keeps it in sync). */
export const DIST = join(import.meta.dirname, '..', 'dashboards', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * The pages' policy: only this origin's own scripts, styles and API, no inline
 * code, no plugins, no forms, no base changes; framed only by the origins the
 * platform names (PORTAL_FRAME_ANCESTORS), otherwise by nobody.
 */
export function contentSecurityPolicy(frameAncestors: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'"}`,
  ].join('; ');
}

interface Asset {
  body: Uint8Array;
  type: string;
}

/** Every built file, read once: only these paths are ever served (no file system lookups per request, no traversal). */
function loadAssets(): Map<string, Asset> {
  const files = new Map<string, Asset>();
  for (const entry of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(DIST, path).split('\\').join('/'), { body: readFileSync(path), type: TYPES[extname(path)] ?? 'application/octet-stream' });
  }
  return files;
}

/**
 * /dashboards/<page>/ serves a page's HTML (revalidated on every load, so a new
 * release shows at once); /dashboards/assets/<file> the hashed bundles it
 * references (a new build has new names, so they are cached for a year).
 */
export function dashboardPages(options: { frameAncestors: readonly string[] }) {
  const assets = loadAssets();
  const csp = contentSecurityPolicy(options.frameAncestors);
  const app = new Hono<AppEnv>();
  const common = {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };

  for (const page of Object.keys(PAGES)) {
    const html = assets.get(`pages/${page}/index.html`);
    if (!html) throw new Error(`dashboards/dist has no build of page "${page}": run npm run build:dashboards`);
    app.get(`/dashboards/${page}`, (c) => c.redirect(`/dashboards/${page}/`, 301));
    app.get(`/dashboards/${page}/`, (c) =>
      c.body(html.body as Uint8Array<ArrayBuffer>, 200, { ...common, 'content-type': html.type, 'cache-control': 'no-cache' }),
    );
  }
  const home = assets.get('pages/home/index.html');
  if (home) app.get('/', (c) => c.body(home.body as Uint8Array<ArrayBuffer>, 200, { ...common, 'content-type': home.type, 'cache-control': 'no-cache' }));
  app.get('/dashboards/assets/:file', (c) => {
    const asset = assets.get(`assets/${c.req.param('file')}`);
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      ...common,
      'content-type': asset.type,
      'cache-control': 'public, max-age=31536000, immutable',
    });
  });
  return app;
}
