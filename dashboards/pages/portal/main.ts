import '../base.css';
import './style.css';
import { ApiFailure, LinkError, PortalApi, type Customer } from './api.js';
import { el } from './dom.js';
import { formatAge } from './format.js';
import { MeterCard } from './meter-card.js';

const app = document.getElementById('app')!;
const DEFAULT_REFRESH_SECONDS = 30;
const TOKEN_KEY = 'meterhouse.portal.token';

/**
 * The link's token comes in the URL fragment (never sent to a server). It is
 * kept for this tab only and taken out of the address bar, so a copied URL or
 * a screenshot does not carry it. `refresh=<seconds>` (at least 2) sets the
 * auto-refresh interval.
 */
function readLink(): { token: string | null; refreshSeconds: number } {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get('token');
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  const refresh = Number(fragment.get('refresh') ?? sessionStorage.getItem(`${TOKEN_KEY}.refresh`) ?? DEFAULT_REFRESH_SECONDS);
  const refreshSeconds = Number.isFinite(refresh) ? Math.max(2, refresh) : DEFAULT_REFRESH_SECONDS;
  sessionStorage.setItem(`${TOKEN_KEY}.refresh`, String(refreshSeconds));
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return { token: token ?? sessionStorage.getItem(TOKEN_KEY), refreshSeconds };
}

const LINK_MESSAGES = {
  'link-expired': ['This dashboard link has expired.', 'Ask for a new link where you got this one.'],
  'link-revoked': ['This dashboard link was revoked.', 'Ask for a new link where you got this one.'],
  'link-invalid': ['This dashboard link is not valid.', 'Check that the whole link was copied, or ask for a new one.'],
} as const;

function showState(state: keyof typeof LINK_MESSAGES | 'error', detail?: string): void {
  app.dataset.state = state;
  if (state === 'error') {
    const retry = el('button', { type: 'button' }, 'Try again');
    retry.addEventListener('click', () => location.reload());
    app.replaceChildren(
      el('div', { class: 'state', role: 'alert', 'data-state': state }, el('h1', {}, 'Your usage could not be loaded.'), el('p', {}, detail ?? ''), retry),
    );
    return;
  }
  const [title, advice] = LINK_MESSAGES[state];
  app.replaceChildren(el('div', { class: 'state', role: 'alert', 'data-state': state }, el('h1', {}, title), el('p', {}, advice)));
}

async function start(): Promise<void> {
  const { token, refreshSeconds } = readLink();
  if (!token) return showState('link-invalid');
  const api = new PortalApi(token);
  let customer: Customer;
  try {
    customer = await api.customer();
  } catch (error) {
    return fail(error);
  }
  const updated = el('p', { class: 'updated', 'aria-live': 'off' });
  const problem = el('p', { class: 'problem', role: 'status', hidden: '' });
  const cards = customer.meters.map((m) => new MeterCard(api, m, fail));
  app.replaceChildren(
    el(
      'header',
      {},
      el('h1', {}, customer.customer.name || customer.customer.customerId),
      el('p', { class: 'who' }, `Usage this billing period · ${customer.customer.timezone}`),
      updated,
      problem,
    ),
    ...(cards.length > 0 ? cards.map((c) => c.root) : [el('p', { class: 'empty' }, 'No meters are shown on this dashboard.')]),
  );
  let refreshedAt = Date.parse(customer.refreshedAt);
  let clockSkew = Date.now() - refreshedAt;
  const tick = () => {
    updated.textContent = `Updated ${formatAge(Date.now() - clockSkew - refreshedAt)}`;
    updated.dataset.refreshedAt = new Date(refreshedAt).toISOString();
  };
  const load = async () => {
    for (const c of cards) c.setCustomer(customer);
    const [alerts] = await Promise.all([api.alerts(), ...cards.map((c) => c.refresh())]);
    for (const c of cards) c.showAlerts(alerts.data.find((m) => m.meterKey === c.key)?.rules ?? []);
    refreshedAt = Date.parse(customer.refreshedAt);
    problem.hidden = true;
    app.dataset.state = 'ready';
    tick();
  };
  try {
    await load();
  } catch (error) {
    return fail(error);
  }
  setInterval(tick, 1000);
  const again = async () => {
    try {
      customer = await api.customer();
      clockSkew = Date.now() - Date.parse(customer.refreshedAt);
      await load();
    } catch (error) {
      // A link that stops working replaces the page; a passing failure leaves the last numbers up, marked.
      if (error instanceof LinkError) return fail(error);
      problem.hidden = false;
      problem.textContent = `Could not refresh: ${error instanceof Error ? error.message : String(error)}. Showing the last numbers.`;
    }
    setTimeout(again, refreshSeconds * 1000);
  };
  setTimeout(again, refreshSeconds * 1000);
}

function fail(error: unknown): void {
  if (error instanceof LinkError) return showState(error.state);
  showState('error', error instanceof ApiFailure ? error.message : 'Something went wrong while showing your usage.');
}

void start();
