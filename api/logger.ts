import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs, one JSON object per line. Authorization headers and key material are redacted by path.
 * Written to stdout unless a destination is given (tests capture lines with one).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'meterhouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['authorization', 'apiKey', 'key', '*.authorization', '*.apiKey', '*.key'], censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
