import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { defineConfig } from 'vite';
import { PAGES } from './pages.js';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The web app's build: every page of PAGES is an entry; the output (committed
 * under dashboards/dist, kept in sync by test/dashboards-build.test.ts) is what
 * meterhouse serves under /dashboards/. No inline script or style anywhere, so
 * the pages run under a CSP without 'unsafe-inline'.
 */
export default defineConfig({
  root: here,
  base: '/dashboards/',
  logLevel: 'warn',
  build: {
    outDir: join(here, 'dist'),
    emptyOutDir: true,
    // The preload polyfill would be an inline snippet; every supported browser has modulepreload.
    modulePreload: { polyfill: false },
    // Small assets as data: URIs would need img-src data:; keep them files.
    assetsInlineLimit: 0,
    rollupOptions: { input: Object.fromEntries(Object.entries(PAGES).map(([name, html]) => [name, join(here, html)])) },
  },
});
