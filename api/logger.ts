import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured logs, one JSON object per line. Authorization headers and key material are redacted by path. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'meterhouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['authorization', 'apiKey', 'key', '*.authorization', '*.apiKey', '*.key'], censor: '[redacted]' },
  });
}
