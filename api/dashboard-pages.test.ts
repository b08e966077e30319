import { describe, expect, it } from 'vitest';
import { dashboardPages } from './dashboard-pages.js';

describe('dashboard pages', () => {
  const app = dashboardPages({ frameAncestors: [] });

  it('serves the portal page under a strict CSP, revalidated on every load, and every asset it references', async () => {
    const res = await app.request('/dashboards/portal/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    // No inline script or style: the CSP would block it.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style="/);
    const refs = [...html.matchAll(/(?:src|href)="(\/dashboards\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      const asset = await app.request(ref);
      expect(asset.status, ref).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-security-policy')).toBe(csp);
    }
  });

  it('lets only the configured origins frame the page', async () => {
    const framed = dashboardPages({ frameAncestors: ['https://app.example.com', "'self'"] });
    const csp = (await framed.request('/dashboards/portal/')).headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors https://app.example.com 'self'");
  });

  it('serves nothing but the built files', async () => {
    for (const path of ['/dashboards/assets/nope.js', '/dashboards/assets/..%2F..%2Fpackage.json', '/dashboards/nope/', '/dashboards/assets/']) {
      expect((await app.request(path)).status, path).toBe(404);
    }
    const redirect = await app.request('/dashboards/portal');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/dashboards/portal/');
  });
});
