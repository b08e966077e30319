import type { AlertProgress, Customer, PortalApi, Periods, UsageRow } from './api.js';
import { renderAlertProgress } from './alert-progress.js';
import { usageQuery } from './api.js';
import { drawChart, toSeries } from './chart.js';
import { el, saveFile } from './dom.js';
import { formatDecimal, formatPeriod } from './format.js';

type Meter = Customer['meters'][number];

/** The last days of the period are also shown hourly. */
const HOURLY_DAYS = 3;
const HOUR_MS = 3_600_000;

const shown = (v: Periods['current']['value']) => (v === null ? '—' : formatDecimal(v));

/** One meter's section: period-to-date value, chart with breakdown, previous periods, CSV downloads. */
export class MeterCard {
  readonly root: HTMLElement;
  private readonly value = el('p', { class: 'value' });
  private readonly dates = el('p', { class: 'dates' });
  private readonly empty = el('p', { class: 'empty', hidden: '' }, 'No usage yet this period.');
  private readonly alerts = el('div', { class: 'alerts', hidden: '' });
  private readonly chart = el('div', { class: 'chart', role: 'img' });
  private readonly table = el('table', { class: 'points' });
  private readonly previous = el('tbody');
  private readonly breakdown: HTMLSelectElement;
  private readonly resolution: HTMLSelectElement;
  private customer: Customer | undefined;

  constructor(
    private readonly api: PortalApi,
    private readonly meter: Meter,
    private readonly onError: (e: unknown) => void,
  ) {
    const id = `m-${meter.key}`;
    this.breakdown = el('select', { id: `${id}-by` }, el('option', { value: '' }, 'Total'), ...meter.groupBy.map((d) => el('option', { value: d }, `By ${d}`)));
    this.resolution = el(
      'select',
      { id: `${id}-res` },
      el('option', { value: 'day' }, 'Daily, whole period'),
      el('option', { value: 'hour' }, `Hourly, last ${HOURLY_DAYS} days`),
    );
    this.value.dataset.meter = meter.key;
    for (const s of [this.breakdown, this.resolution]) s.addEventListener('change', () => void this.refresh().catch(onError));
    const csv = (label: string, what: 'usage' | 'events' | 'periods') => {
      const b = el('button', { type: 'button' }, label);
      b.addEventListener('click', () => void this.download(what).catch(onError));
      return b;
    };
    this.root = el(
      'section',
      { class: 'meter', 'aria-labelledby': `${id}-title` },
      el('h2', { id: `${id}-title` }, meter.name),
      el('div', { class: 'headline' }, this.value, this.dates),
      this.empty,
      this.alerts,
      el(
        'div',
        { class: 'controls' },
        el('label', { for: `${id}-res` }, 'Chart'),
        this.resolution,
        ...(meter.groupBy.length > 0 ? [el('label', { for: `${id}-by` }, 'Breakdown'), this.breakdown] : []),
      ),
      this.chart,
      el('details', {}, el('summary', {}, 'Chart data'), this.table),
      el('h3', {}, 'Previous periods'),
      el(
        'table',
        { class: 'previous' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Period'), el('th', { scope: 'col' }, 'Usage'), el('th', { scope: 'col' }, 'Source'))),
        this.previous,
      ),
      el('div', { class: 'downloads' }, csv('Download usage CSV', 'usage'), csv('Download events CSV', 'events'), csv('Download periods CSV', 'periods')),
    );
  }

  get key(): string {
    return this.meter.key;
  }

  showAlerts(rules: AlertProgress[]): void {
    renderAlertProgress(this.alerts, rules, this.meter.name);
  }

  setCustomer(customer: Customer): void {
    this.customer = customer;
  }

  private usageWindow() {
    const c = this.customer!;
    const hourly = this.resolution.value === 'hour';
    const end = Date.parse(c.currentPeriod.end);
    const start = Date.parse(c.currentPeriod.start);
    // Hourly: the last days up to the current hour (whole hours, so the hour rollups serve it).
    const to = hourly ? Math.min(end, Math.ceil(Date.parse(c.refreshedAt) / HOUR_MS) * HOUR_MS) : end;
    const from = hourly ? Math.max(start, to - HOURLY_DAYS * 24 * HOUR_MS) : start;
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      granularity: hourly ? ('hour' as const) : ('day' as const),
      tz: c.customer.timezone,
      groupBy: this.breakdown.value || undefined,
    };
  }

  async refresh(): Promise<void> {
    const c = this.customer!;
    const q = this.usageWindow();
    const [periods, usage] = await Promise.all([this.api.periods(this.meter.key), this.api.usage(this.meter.key, q)]);
    const value = periods.current.value;
    this.value.dataset.value = value === null ? '' : String(value);
    this.value.textContent = shown(value);
    this.dates.textContent = `${formatPeriod(periods.current.start, periods.current.end, c.customer.timezone)} (${c.customer.timezone})`;
    this.empty.hidden = usage.data.some((r) => r.value !== null && Number(r.value) !== 0) || (value !== null && Number(value) !== 0);
    this.renderPoints(usage.data, q.groupBy, q.granularity === 'hour');
    this.previous.replaceChildren(
      ...periods.previous.map((p) =>
        el(
          'tr',
          { 'data-start': p.start },
          el('td', {}, formatPeriod(p.start, p.end, c.customer.timezone)),
          el('td', { class: 'num', 'data-value': p.value === null ? '' : String(p.value) }, shown(p.value)),
          el('td', {}, p.source === 'export' ? 'billed' : 'computed'),
        ),
      ),
    );
  }

  private renderPoints(rows: UsageRow[], dimension: string | undefined, hourly: boolean): void {
    const tz = this.customer!.customer.timezone;
    const when = new Intl.DateTimeFormat(undefined, {
      timeZone: tz,
      month: 'short',
      day: 'numeric',
      ...(hourly ? { hour: '2-digit', minute: '2-digit' } : {}),
    });
    this.chart.setAttribute(
      'aria-label',
      `${this.meter.name} per ${hourly ? 'hour' : 'day'}${dimension ? ` by ${dimension}` : ''}; the values are in the chart data table`,
    );
    this.table.replaceChildren(
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col' }, hourly ? 'Hour' : 'Day'),
          ...(dimension ? [el('th', { scope: 'col' }, dimension)] : []),
          el('th', { scope: 'col' }, 'Usage'),
        ),
      ),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            { 'data-start': r.windowStart, ...(dimension ? { 'data-group': r.groupBy?.[dimension] ?? '' } : {}) },
            el('td', {}, when.format(new Date(r.windowStart))),
            ...(dimension ? [el('td', {}, r.groupBy?.[dimension] ?? '')] : []),
            el('td', { class: 'num', 'data-value': r.value === null ? '' : String(r.value) }, shown(r.value)),
          ),
        ),
      ),
    );
    drawChart(this.chart, toSeries(rows, dimension), tz, hourly);
  }

  private async download(what: 'usage' | 'events' | 'periods'): Promise<void> {
    const base = `/v1/portal/meters/${encodeURIComponent(this.meter.key)}`;
    const c = this.customer!;
    const path =
      what === 'usage'
        ? `${base}/usage?${usageQuery(this.usageWindow())}`
        : what === 'events'
          ? `${base}/events?limit=1000&from=${encodeURIComponent(c.currentPeriod.start)}&to=${encodeURIComponent(c.currentPeriod.end)}`
          : `${base}/periods?previous=24`;
    saveFile(await this.api.csv(path), `${this.meter.key}-${what}.csv`);
  }
}
