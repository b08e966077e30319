import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

describe('dashboard configuration', () => {
  it('takes frame ancestors as a list of origins and refuses anything else', () => {
    expect(loadConfig({}).PORTAL_FRAME_ANCESTORS).toEqual([]);
    expect(loadConfig({ PORTAL_FRAME_ANCESTORS: "'self'  https://app.example.com https://*.example.com:8443" }).PORTAL_FRAME_ANCESTORS).toEqual([
      "'self'",
      'https://app.example.com',
      'https://*.example.com:8443',
    ]);
    for (const bad of ['*', 'https://app.example.com/path', "'unsafe-inline'", 'javascript:x', 'https://a.example.com;script-src']) {
      expect(() => loadConfig({ PORTAL_FRAME_ANCESTORS: bad }), bad).toThrow(/PORTAL_FRAME_ANCESTORS/);
    }
  });

  it('takes PUBLIC_URL as an origin only, and a signing key long enough', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://usage.example.com' }).PUBLIC_URL).toBe('https://usage.example.com');
    expect(() => loadConfig({ PUBLIC_URL: 'https://usage.example.com/portal' })).toThrow(/PUBLIC_URL/);
    expect(() => loadConfig({ PORTAL_SIGNING_KEY: 'short' })).toThrow(/PORTAL_SIGNING_KEY/);
  });
});
