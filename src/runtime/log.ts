/** Logging: pino JSON (for systemd/journald) or pretty lines in a terminal. The stream is passed in. */
import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type LogFormat = 'json' | 'pretty';

export function createLogger(opts: { level?: string; format?: LogFormat; stream?: NodeJS.WritableStream; isTTY?: boolean }): Logger {
  const format = opts.format ?? (opts.isTTY ? 'pretty' : 'json');
  const level = opts.level ?? 'info';
  const dest = opts.stream ?? process.stderr;
  if (format === 'pretty') {
    return pino({ level, base: undefined }, PinoPretty({ destination: dest, colorize: opts.isTTY ?? false, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
  }
  return pino({ level, base: { pid: process.pid } }, dest);
}
