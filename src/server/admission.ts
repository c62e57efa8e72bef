/**
 * Admission control for the control plane: a token bucket with a FIFO wait queue, after the
 * Kubernetes API server's priority-and-fairness queues. The HTTP server shares the controller's
 * event loop, so an API client that asks as fast as it is answered would otherwise take the loop
 * from reconciliation (measured: a failover twice as slow under 2,700 req/s). Requests over the
 * rate wait their turn rather than being refused, so a closed-loop client is slowed to the rate and
 * the API's share of the loop stays bounded; only when the queue is full is a request refused
 * (429 CF_API_RATE_LIMITED with Retry-After). Health probes are never queued.
 */
import { ApiError } from './errors.js';

export interface AdmissionOptions {
  /** Sustained requests per second. */
  ratePerSecond: number;
  /** Requests admitted at once after a quiet period (default: one second's worth, at least 1). */
  burst?: number;
  /** Requests that may wait; beyond that, 429 (default 256). */
  maxQueue?: number;
  now?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
}

export const DEFAULT_API_RATE = 50;

export interface AdmissionStats {
  admitted: number;
  queued: number;
  rejected: number;
  waiting: number;
}

export class Admission {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxQueue: number;
  readonly #now: () => number;
  readonly #setTimeout: (fn: () => void, ms: number) => unknown;
  #tokens: number;
  #last: number;
  #timer = false;
  readonly #queue: (() => void)[] = [];
  readonly stats: AdmissionStats = { admitted: 0, queued: 0, rejected: 0, waiting: 0 };

  constructor(opts: AdmissionOptions) {
    if (!(opts.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    this.#rate = opts.ratePerSecond;
    this.#burst = Math.max(1, opts.burst ?? Math.ceil(opts.ratePerSecond));
    this.#maxQueue = Math.max(0, opts.maxQueue ?? 256);
    this.#now = opts.now ?? Date.now;
    this.#setTimeout = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.#tokens = this.#burst;
    this.#last = this.#now();
  }

  /** Resolves when the request may run; undefined (no wait) when a token is free and nobody waits. */
  acquire(): Promise<void> | undefined {
    this.#refill();
    if (this.#queue.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.stats.admitted++;
      return undefined;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.stats.rejected++;
      throw new ApiError('CF_API_RATE_LIMITED', `the control plane admits ${this.#rate} requests per second and ${this.#maxQueue} are already waiting; retry shortly (see --api-rate)`);
    }
    this.stats.queued++;
    const p = new Promise<void>((resolve) => this.#queue.push(resolve));
    this.stats.waiting = this.#queue.length;
    this.#schedule();
    return p;
  }

  /** Seconds until a queued request would be admitted (for Retry-After). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((this.#queue.length + 1) / this.#rate));
  }

  #refill(): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#rate) / 1000);
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    this.#timer = true;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate));
    this.#setTimeout(() => {
      this.#timer = false;
      this.#drain();
    }, wait);
  }

  #drain(): void {
    this.#refill();
    while (this.#queue.length > 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.stats.admitted++;
      (this.#queue.shift() as () => void)();
    }
    this.stats.waiting = this.#queue.length;
    this.#schedule();
  }
}
