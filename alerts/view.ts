import type { AlertEventRow, ListedAlertEvent } from '../sql/queries/alerts.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** A crossing as the API lists it and the webhook carries it; periodStart is null for a lifetime rule. */
export function alertEventView(e: AlertEventRow & { deliveredAtMs?: number | null }) {
  return {
    id: e.id,
    ruleId: e.ruleId,
    customerId: e.customerId,
    meterKey: e.meterKey,
    threshold: e.threshold,
    thresholdValue: e.thresholdValue,
    direction: e.direction,
    value: e.value,
    periodStart: e.periodStartMs === 0 ? null : iso(e.periodStartMs),
    crossedAt: iso(e.crossedAtMs),
    ...('deliveredAtMs' in e ? { deliveredAt: e.deliveredAtMs == null ? null : iso(e.deliveredAtMs) } : {}),
  };
}

export type AlertEventView = ReturnType<typeof alertEventView>;
export type { ListedAlertEvent };
