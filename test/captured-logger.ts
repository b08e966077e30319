import { createLogger, type Logger } from '../api/logger.js';

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface CapturedLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** meterhouse's own logger at debug, writing to an array instead of stdout (a pino destination stream). */
export function capturedLogger(): { logger: Logger; lines: CapturedLine[]; at(level: number): CapturedLine[] } {
  const lines: CapturedLine[] = [];
  const logger = createLogger('debug', { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, at: (level) => lines.filter((l) => l.level === level) };
}
