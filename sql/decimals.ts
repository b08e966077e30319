/**
 * The decimal types of quantities and of everything computed from them.
 *
 * A stored quantity is Decimal(38, 9): at most 29 integer and 9 fraction
 * digits (the event contract: ingest/decimal.ts for the API, the SQL of the
 * Kafka views for the topic; both refuse a 30th integer digit). Decimal(38, 9)
 * cannot hold a sum of such values: the engine's sum of a Decimal128 stays a
 * Decimal128 and wraps silently past ~1.7e29 (three events of 29 nines gave a
 * negative bill). So every sum (and every value derived from one: AVG, rollup
 * states, billing lines and their totals) is computed and stored as
 * Decimal(76, 9), whose 67 integer digits hold any sum of fewer than 10^38
 * events at the per-event maximum; an event count is a UInt64 (< 1.9e19), so
 * no sum of stored events can reach the bound, and none can wrap.
 */
export const SUM_TYPE = 'Decimal(76, 9)';

/** The exact sum of a Decimal(38, 9) (or already Decimal(76, 9)) column or expression, as Decimal(76, 9). */
export const wideSum = (expression: string) => `sum(toDecimal256(${expression}, 9))`;
