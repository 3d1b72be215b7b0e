import pino, { type Logger } from 'pino';

/**
 * The controller's logger: JSON lines on stdout with ISO-8601 times (`"time":
 * "2026-12-01T09:30:00.000Z"`), the program in `name`, and each part's `component`
 * (`http`, `gateway`, `pipeline`, `mail`) set once, by its child logger: no key twice.
 */
export function createLogger(level: string, name = 'syncguard-controller'): Logger {
  return pino({ level, name, timestamp: pino.stdTimeFunctions.isoTime });
}
