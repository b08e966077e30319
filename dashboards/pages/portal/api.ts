/** The portal API as the page uses it: the link's token as Bearer, errors sorted into what the page shows. */
export class LinkError extends Error {
  constructor(readonly state: 'link-expired' | 'link-revoked' | 'link-invalid') {
    super(state);
  }
}

export class ApiFailure extends Error {}

const LINK_STATES: Record<string, LinkError['state']> = { link_expired: 'link-expired', link_revoked: 'link-revoked', unauthorized: 'link-invalid' };

export interface Customer {
  customer: { customerId: string; name: string; timezone: string; billingCycle: { interval: string; anchorDay: number } };
  currentPeriod: { start: string; end: string };
  meters: { key: string; name: string; aggregation: string; groupBy: string[] }[];
  expiresAt: string;
  refreshedAt: string;
}

export type Value = string | number | null;

export interface Periods {
  meter: string;
  current: { start: string; end: string; value: Value };
  previous: { start: string; end: string; value: Value; source: 'export' | 'computed' }[];
  refreshedAt: string;
}

/** GET /v1/portal/alerts: per meter, the alert rules that apply to the customer and where it stands. */
export interface AlertProgress {
  ruleId: string;
  unit: 'absolute' | 'percent';
  window: 'period' | 'lifetime';
  direction: 'rising' | 'falling';
  allowance: string | null;
  period: { start: string; end: string } | null;
  value: string;
  crossed: { threshold: string; thresholdValue: string; value: string; crossedAt: string }[];
  next: { threshold: string; thresholdValue: string; progress: string | null } | null;
}

export interface Alerts {
  data: { meterKey: string; rules: AlertProgress[] }[];
  refreshedAt: string;
}

export interface UsageRow {
  windowStart: string;
  windowEnd: string;
  value: Value;
  groupBy?: Record<string, string>;
}

/**
 * A request with a link's token as Bearer (the SQL console's too): the answer
 * when it is 2xx; otherwise a LinkError for a link the server refused, or an
 * ApiFailure with the server's own message and request id.
 */
export async function linkRequest(
  token: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` }, cache: 'no-store' });
  } catch {
    throw new ApiFailure('meterhouse could not be reached; it retries on its own');
  }
  if (res.ok) return res;
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string; requestId?: string } };
  const state = res.status === 401 ? (LINK_STATES[body.error?.code ?? ''] ?? 'link-invalid') : undefined;
  if (state) throw new LinkError(state);
  throw new ApiFailure(`${body.error?.message ?? `the server answered ${res.status}`}${body.error?.requestId ? ` (request ${body.error.requestId})` : ''}`);
}

export class PortalApi {
  constructor(private readonly token: string) {}

  private get(path: string, accept = 'application/json'): Promise<Response> {
    return linkRequest(this.token, path, { headers: { accept } });
  }

  async customer(): Promise<Customer> {
    return (await this.get('/v1/portal/customer')).json();
  }

  async periods(meter: string): Promise<Periods> {
    return (await this.get(`/v1/portal/meters/${encodeURIComponent(meter)}/periods?previous=6`)).json();
  }

  async alerts(): Promise<Alerts> {
    return (await this.get('/v1/portal/alerts')).json();
  }

  async usage(
    meter: string,
    q: { from: string; to: string; granularity: 'hour' | 'day'; tz: string; groupBy?: string | undefined },
  ): Promise<{ data: UsageRow[]; refreshedAt: string }> {
    return (await this.get(`/v1/portal/meters/${encodeURIComponent(meter)}/usage?${usageQuery(q)}`)).json();
  }

  /** A CSV answer as a file the browser saves (the token cannot ride in a plain link). */
  async csv(path: string): Promise<Blob> {
    return (await this.get(path, 'text/csv')).blob();
  }
}

export function usageQuery(q: { from: string; to: string; granularity: string; tz: string; groupBy?: string | undefined }): string {
  const p = new URLSearchParams({ from: q.from, to: q.to, granularity: q.granularity, tz: q.tz });
  if (q.groupBy) p.set('groupBy', q.groupBy);
  return p.toString();
}
