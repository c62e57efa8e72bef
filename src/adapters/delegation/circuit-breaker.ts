/**
 * Circuit breaker for the job API (docs/delegation-api.md, "Errors"): while the API is failing, requests stop (tasks stay
 * queued, not failed) and a condition says so.
 *
 * A pure state machine — `allow`, `onSuccess`, `onFailure` take a state and the time and return the
 * next state — plus a small mutable holder (`CircuitBreaker`) that the delegation service shares
 * between observation (polls) and effects (submits).
 *
 *   closed ──(failureThreshold consecutive failures)──▶ open ──(openMs elapsed)──▶ halfOpen
 *     ▲                                                   ▲                          │ one probe
 *     └──────────────────── probe succeeded ──────────────┼──────────────────────────┤
 *                                                         └──── probe failed ────────┘
 *
 * Each re-open doubles the open period (capped at `maxOpenMs`); a `Retry-After` longer than the
 * period extends it. A failure is a request that ended without a definitive answer (network error,
 * timeout, 408, 429, 5xx after the client's retries); a definitive answer — 2xx or another 4xx —
 * is a success for the breaker (the API is up; the request itself may have been wrong).
 */
import type { CircuitView } from '../../core/status.js';


/** The breaker's state: the shape the DelegationPolicy status shows (src/core/status.ts). */
export type CircuitState = CircuitView;
export type CircuitStateName = CircuitState['state'];

export interface CircuitConfig {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** First open period. */
  openMs: number;
  /** Cap of the (doubling) open period. */
  maxOpenMs: number;
}

export const DEFAULT_CIRCUIT_CONFIG: CircuitConfig = { failureThreshold: 5, openMs: 30_000, maxOpenMs: 5 * 60_000 };

export function initialCircuit(): CircuitState {
  return { state: 'closed', consecutiveFailures: 0, opens: 0 };
}

export interface AllowResult {
  allowed: boolean;
  /** The request is the half-open probe: its outcome closes or re-opens the breaker. */
  probe: boolean;
  next: CircuitState;
  /** When refused: epoch ms from which a probe will be allowed. */
  retryAt?: number;
}

/** May a request go out now? Moves open → halfOpen once the open period is over (one probe). */
export function allow(s: CircuitState, now: number): AllowResult {
  if (s.state === 'closed') return { allowed: true, probe: false, next: s };
  if (s.state === 'open') {
    const at = s.retryAt ?? now;
    if (now < at) return { allowed: false, probe: false, next: s, retryAt: at };
    return { allowed: true, probe: true, next: { ...s, state: 'halfOpen', probeInFlight: true, retryAt: now } };
  }
  // halfOpen
  if (s.probeInFlight) return { allowed: false, probe: false, next: s, retryAt: s.retryAt ?? now };
  return { allowed: true, probe: true, next: { ...s, probeInFlight: true, retryAt: now } };
}

/** A definitive answer: the breaker closes. */
export function onSuccess(s: CircuitState): CircuitState {
  if (s.state === 'closed' && s.consecutiveFailures === 0) return s;
  const next: CircuitState = { state: 'closed', consecutiveFailures: 0, opens: 0 };
  if (s.lastError !== undefined) next.lastError = s.lastError;
  if (s.lastFailureAt !== undefined) next.lastFailureAt = s.lastFailureAt;
  return next;
}

/** Open period after the n-th opening (1-based): openMs · 2^(n-1), capped. */
export function openPeriod(cfg: CircuitConfig, opens: number): number {
  return Math.min(cfg.maxOpenMs, cfg.openMs * 2 ** Math.max(0, Math.min(opens - 1, 30)));
}

/** A request ended without a definitive answer. `retryAfterMs` (from the server) can extend the open period. */
export function onFailure(s: CircuitState, now: number, cfg: CircuitConfig, error: string, retryAfterMs?: number): CircuitState {
  const failures = s.consecutiveFailures + 1;
  const base = { consecutiveFailures: failures, lastError: error, lastFailureAt: now };
  if (s.state === 'closed' && failures < cfg.failureThreshold) return { ...s, ...base };
  if (s.state === 'open') {
    // A request that was already in flight when the breaker opened: keep the period.
    return { ...s, ...base };
  }
  const opens = s.opens + 1;
  const period = Math.max(openPeriod(cfg, opens), retryAfterMs ?? 0);
  return { state: 'open', ...base, opens, openedAt: now, retryAt: now + period };
}

/** Human summary for conditions and notes. */
export function describeCircuit(s: CircuitState, now: number): string {
  switch (s.state) {
    case 'closed':
      return s.consecutiveFailures > 0 ? `closed (${s.consecutiveFailures} recent failure(s): ${s.lastError ?? 'unknown'})` : 'closed';
    case 'open': {
      const inS = Math.max(0, Math.ceil(((s.retryAt ?? now) - now) / 1000));
      return `open after ${s.consecutiveFailures} failure(s) (last: ${s.lastError ?? 'unknown'}); next probe in ${inS}s`;
    }
    case 'halfOpen':
      return `half-open: probing the API (last failure: ${s.lastError ?? 'unknown'})`;
  }
}

/** Outcome of one guarded request. */
export type CircuitOutcome = { ok: true } | { ok: false; error: string; retryAfterMs?: number };

/**
 * Holder of one breaker's state, shared by everything that talks to one API. Not thread-safe in
 * any deeper sense than JavaScript's: each method is synchronous.
 */
export class CircuitBreaker {
  #state: CircuitState;
  readonly config: CircuitConfig;
  readonly #listeners = new Set<(s: CircuitState, prev: CircuitState) => void>();

  constructor(config: Partial<CircuitConfig> = {}, state: CircuitState = initialCircuit()) {
    this.config = { ...DEFAULT_CIRCUIT_CONFIG, ...config };
    this.#state = state;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** Replaces the state (hydration from persisted status after a restart). */
  restore(s: CircuitState): void {
    // A probe that was in flight in another process is not in flight here.
    this.#set({ ...s, probeInFlight: false });
  }

  onChange(fn: (s: CircuitState, prev: CircuitState) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Asks to send a request; when allowed, the caller must report the outcome with `record`. */
  tryAcquire(now: number): AllowResult {
    const r = allow(this.#state, now);
    this.#set(r.next);
    return r;
  }

  record(outcome: CircuitOutcome, now: number): void {
    this.#set(outcome.ok ? onSuccess(this.#state) : onFailure(this.#state, now, this.config, outcome.error, outcome.retryAfterMs));
  }

  #set(next: CircuitState): void {
    const prev = this.#state;
    if (next === prev) return;
    this.#state = next;
    for (const fn of this.#listeners) {
      try {
        fn(next, prev);
      } catch (_err) {
        // listeners are observers; they never break the breaker
      }
    }
  }
}
