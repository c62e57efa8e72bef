/**
 * A keyed, level-triggered work queue in the manner of client-go's workqueue:
 * - a key queued several times is processed once (dirty set);
 * - a key is never processed concurrently with itself (processing set); a key added while it
 *   is processed runs once more afterwards;
 * - `addAfter` keeps the earliest due time per key;
 * - failures requeue with per-key exponential backoff (base, cap, jitter); success forgets it;
 * - a periodic resync enqueues every known key;
 * - at most `concurrency` handlers run at once; `shutdown` stops intake and drains.
 */
import type { Timers } from '../core/ports.js';
import { systemTimers } from '../core/ports.js';
import { RetryableError } from '../core/errors.js';

export interface HandlerResult {
  /** Run the key again after this delay (a level-triggered "check back later"). */
  requeueAfterMs?: number;
}

export type KeyHandler = (key: string, reason: string) => Promise<HandlerResult | void>;

export interface WorkQueueOptions {
  handler: KeyHandler;
  concurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** 0 disables resync. */
  resyncMs?: number;
  /** Every key the resync enqueues. */
  keys?: () => readonly string[];
  timers?: Timers;
  /** Fraction of the backoff added as random jitter (0 disables). */
  jitter?: number;
  random?: () => number;
  onError?: (key: string, err: unknown, attempt: number, delayMs: number) => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #dirty = new Map<string, string>(); // key -> reason
  readonly #processing = new Set<string>();
  readonly #waiting = new Map<string, { due: number; handle: unknown; reason: string }>();
  readonly #failures = new Map<string, number>();
  readonly #opts: Required<Omit<WorkQueueOptions, 'onError' | 'keys'>> & Pick<WorkQueueOptions, 'onError' | 'keys'>;
  readonly #idleWaiters: (() => void)[] = [];
  #shuttingDown = false;
  #started = false;
  #resyncHandle: unknown;
  #inFlight = 0;

  constructor(opts: WorkQueueOptions) {
    this.#opts = {
      concurrency: 4,
      baseBackoffMs: 1_000,
      maxBackoffMs: 300_000,
      resyncMs: 15_000,
      timers: systemTimers,
      jitter: 0.1,
      random: Math.random,
      ...opts,
    };
  }

  get length(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Keys currently waiting for a delayed add. */
  pendingDelays(): Map<string, number> {
    return new Map([...this.#waiting].map(([k, v]) => [k, v.due]));
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#scheduleResync();
    this.#pump();
  }

  add(key: string, reason = 'event'): void {
    if (this.#shuttingDown) return;
    if (this.#dirty.has(key)) return;
    this.#dirty.set(key, reason);
    if (this.#processing.has(key)) return;
    this.#queue.push(key);
    this.#pump();
  }

  /** Adds the key after `delayMs`; a pending earlier due time wins. */
  addAfter(key: string, delayMs: number, reason = 'requeue'): void {
    if (this.#shuttingDown) return;
    if (delayMs <= 0) {
      this.add(key, reason);
      return;
    }
    const t = this.#opts.timers;
    const due = t.now() + delayMs;
    const existing = this.#waiting.get(key);
    if (existing && existing.due <= due) return;
    if (existing) t.clearTimeout(existing.handle);
    const handle = t.setTimeout(() => {
      const w = this.#waiting.get(key);
      if (w && w.handle === handle) {
        this.#waiting.delete(key);
        this.add(key, w.reason);
      }
    }, delayMs);
    this.#waiting.set(key, { due, handle, reason });
  }

  /** Backoff for the key's next failure: base * 2^(failures-1), capped, with jitter. */
  backoffFor(failures: number): number {
    const { baseBackoffMs, maxBackoffMs, jitter, random } = this.#opts;
    const exp = Math.min(maxBackoffMs, baseBackoffMs * 2 ** Math.max(0, failures - 1));
    return Math.min(maxBackoffMs, Math.round(exp * (1 + jitter * random())));
  }

  /** Resets the failure count of a key. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Resolves when nothing is queued or running (delayed adds do not count). */
  whenIdle(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops intake (adds are ignored, delayed adds and resync cancelled) and waits for in-flight
   * handlers, at most `timeoutMs`. Returns true when everything drained in time.
   */
  async shutdown(timeoutMs: number): Promise<boolean> {
    this.#shuttingDown = true;
    const t = this.#opts.timers;
    if (this.#resyncHandle !== undefined) t.clearTimeout(this.#resyncHandle);
    for (const w of this.#waiting.values()) t.clearTimeout(w.handle);
    this.#waiting.clear();
    this.#queue.length = 0;
    this.#dirty.clear();
    if (this.#inFlight === 0) return true;
    let timer: unknown;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = t.setTimeout(() => resolve(false), timeoutMs);
    });
    const drained = this.whenIdle().then(() => true);
    const result = await Promise.race([drained, timedOut]);
    t.clearTimeout(timer);
    return result;
  }

  #scheduleResync(): void {
    const { resyncMs, timers, keys } = this.#opts;
    if (!resyncMs || !keys || this.#shuttingDown) return;
    this.#resyncHandle = timers.setTimeout(() => {
      for (const k of keys()) this.add(k, 'resync');
      this.#scheduleResync();
    }, resyncMs);
  }

  #pump(): void {
    if (!this.#started) return;
    while (this.#inFlight < this.#opts.concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift() as string;
      const reason = this.#dirty.get(key) ?? 'event';
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#inFlight += 1;
      void this.#run(key, reason);
    }
    if (this.#queue.length === 0 && this.#inFlight === 0) {
      for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  async #run(key: string, reason: string): Promise<void> {
    let requeueAfter: number | undefined;
    try {
      const r = await this.#opts.handler(key, reason);
      this.forget(key);
      requeueAfter = r?.requeueAfterMs;
    } catch (err) {
      const attempt = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, attempt);
      const delay = err instanceof RetryableError && err.retryAfterMs !== undefined ? err.retryAfterMs : this.backoffFor(attempt);
      this.#opts.onError?.(key, err, attempt, delay);
      requeueAfter = delay;
    } finally {
      this.#processing.delete(key);
      this.#inFlight -= 1;
      if (this.#dirty.has(key) && !this.#shuttingDown) this.#queue.push(key);
    }
    if (requeueAfter !== undefined && requeueAfter >= 0) this.addAfter(key, requeueAfter, 'requeue');
    this.#pump();
  }
}
