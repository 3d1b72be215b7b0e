import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A parsed pino line. */
export type LogLine = Record<string, unknown> & { level: number; msg: string };

/** A pino logger whose lines tests read back, parsed. */
export function captureLogs(level = 'info'): { logger: Logger; lines: () => LogLine[] } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const lines = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
  return { logger: pino({ level }, sink), lines };
}
