import { el } from '../portal/dom.js';

export interface SqlAnswer {
  columns: { name: string; type: string }[];
  data: Record<string, unknown>[];
  rows: number;
  truncated: boolean;
  statistics: { elapsedMs: number; rowsRead: number; bytesRead: number };
  queryId: string;
}

/** A cell as text: strings as they are (64-bit integers and decimals arrive as exact strings), other values as JSON. */
const cellText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** The answer as a table (text only, never markup from data), with a line of what the engine did. */
export function resultsView(answer: SqlAnswer): HTMLElement[] {
  const head = el('tr', {}, ...answer.columns.map((c) => el('th', { scope: 'col' }, c.name, el('small', {}, c.type))));
  const body = answer.data.map((row) =>
    el('tr', {}, ...answer.columns.map((c) => (row[c.name] === null ? el('td', { class: 'null' }, 'NULL') : el('td', {}, cellText(row[c.name]))))),
  );
  const s = answer.statistics;
  const stats = el(
    'p',
    { class: 'stats', 'data-rows': String(answer.rows) },
    `${answer.rows} row${answer.rows === 1 ? '' : 's'}${answer.truncated ? " (truncated: the tenant's result row limit was reached)" : ''} in ${s.elapsedMs} ms; ${s.rowsRead} rows, ${s.bytesRead} bytes read`,
  );
  return [stats, el('div', { class: 'results' }, el('table', { id: 'results' }, el('thead', {}, head), el('tbody', {}, ...body)))];
}
