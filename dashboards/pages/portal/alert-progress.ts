import type { AlertProgress } from './api.js';
import { el } from './dom.js';
import { formatDecimal, ratioAsPercent } from './format.js';

/** What a threshold is, in words: an absolute value, or a percentage of the allowance with its value. */
function thresholdText(rule: AlertProgress, threshold: string, thresholdValue: string): string {
  return rule.unit === 'percent'
    ? `${formatDecimal(threshold)}% of your ${formatDecimal(rule.allowance ?? '')} allowance (${formatDecimal(thresholdValue)})`
    : formatDecimal(thresholdValue);
}

/**
 * One rule: a progress bar toward its next threshold with the exact numbers
 * as text (the bar's width is only a picture; its aria values are the API's
 * exact decimals), and the thresholds already crossed in the window.
 */
function ruleProgress(rule: AlertProgress, meterName: string): HTMLElement {
  const id = `alert-${rule.ruleId}`;
  const window = rule.window === 'lifetime' ? 'all time' : 'this period';
  const root = el('div', { class: 'alert', 'data-rule': rule.ruleId });
  const crossed =
    rule.crossed.length === 0
      ? []
      : [
          el(
            'p',
            { class: 'crossed' },
            `Alerts already sent (${window}): ${rule.crossed.map((c) => thresholdText(rule, c.threshold, c.thresholdValue)).join(', ')}`,
          ),
        ];
  const next = rule.next;
  if (!next) {
    root.append(el('p', { class: 'alert-title' }, `Every alert threshold reached (${window})`), ...crossed);
    return root;
  }
  const percent = next.progress === null ? null : ratioAsPercent(next.progress);
  const summary = `${formatDecimal(rule.value)} of ${formatDecimal(next.thresholdValue)}${percent === null ? '' : ` (${percent}%)`}`;
  const bar = el(
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      'aria-labelledby': `${id}-title`,
      'aria-valuemin': '0',
      'aria-valuemax': next.thresholdValue,
      'aria-valuenow': rule.value,
      'aria-valuetext': summary,
      'data-progress': next.progress ?? '',
    },
    el('div', { class: 'fill' }),
  );
  // CSSOM, not a style attribute: allowed by the page's CSP (style-src 'self').
  const width = next.progress === null ? 0 : Math.min(1, Math.max(0, Number(next.progress)));
  (bar.firstChild as HTMLElement).style.width = `${width * 100}%`;
  root.append(
    el('p', { class: 'alert-title', id: `${id}-title` }, `${meterName}: next alert at ${thresholdText(rule, next.threshold, next.thresholdValue)} (${window})`),
    bar,
    el('p', { class: 'alert-numbers', 'data-value': rule.value, 'data-threshold': next.thresholdValue }, summary),
    ...crossed,
  );
  return root;
}

/** A meter's alert section: shown only when rules apply to this customer. */
export function renderAlertProgress(slot: HTMLElement, rules: AlertProgress[], meterName: string): void {
  slot.hidden = rules.length === 0;
  slot.replaceChildren(...(rules.length === 0 ? [] : [el('h3', {}, 'Usage alerts'), ...rules.map((r) => ruleProgress(r, meterName))]));
}
