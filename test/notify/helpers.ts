/** Shared fixtures of the notification tests: notifier objects, events, a captured pino logger, test timers. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { notifierSpecSchema } from '../../src/api/schemas.js';
import type { NotifierObjectLike, NotifyEvent } from '../../src/adapters/notify/dispatcher.js';
import type { Timers } from '../../src/core/ports.js';

export const T0 = Date.parse('2026-03-10T12:00:00Z');

/** A Notifier object whose spec went through the real schema (defaults applied). */
export function notifier(name: string, spec: unknown): NotifierObjectLike {
  return { metadata: { name }, spec: notifierSpecSchema.parse(spec) };
}

export function ev(reason: string, key: string, message: string, extra: Partial<NotifyEvent> = {}): NotifyEvent {
  return { time: new Date(T0).toISOString(), key, type: 'Warning', reason, message, ...extra };
}

/** A pino logger at debug level writing JSON lines into `lines`. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(l);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), lines };
}

export interface TestTimers extends Timers {
  /** Delays asked of setTimeout, in order. */
  readonly delays: number[];
  advance(ms: number): void;
}

/**
 * A clock the test moves by hand, and timers that record the delay asked for and fire after
 * `realDelay(ms)` of real time (default: at once), so backoff and Retry-After are observable
 * without waiting for them.
 */
export function testTimers(realDelay: (ms: number) => number = () => 0): TestTimers {
  let now = T0;
  const delays: number[] = [];
  return {
    delays,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, realDelay(ms));
    },
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  };
}

/** Polls `cond` every 5 ms until true; rejects after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits until no notifier has anything queued or in flight (for tests whose timers fire at once, where drain()'s own timeout would too). */
export async function settle(d: { stats(): Record<string, { queued: number; inFlight: boolean }> }, timeoutMs = 5000): Promise<void> {
  await until(() => Object.values(d.stats()).every((s) => s.queued === 0 && !s.inFlight), timeoutMs, 'the dispatcher to settle');
}
