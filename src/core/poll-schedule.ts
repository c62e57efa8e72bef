/**
 * Pure poller state for the usage endpoint, one per account.
 *
 * Rules (the operator's view: docs/operations.md, "Usage data unknown"; the endpoint throttles per
 * token, sometimes for an hour):
 * - at most one request per `pollIntervalMs` (measured from the last ATTEMPT, success or not);
 * - after a throttle (429), a server error (5xx) or a network error: exponential backoff,
 *   `min(maxBackoffMs, pollIntervalMs × 2^(n−1))` for the n-th consecutive failure, stretched by an
 *   upward jitter of up to `jitterRatio` (never shorter than the plain exponential, so a jittered
 *   schedule can never exceed one request per interval), and never earlier than `Retry-After`;
 *   the cap is a small multiple of the interval (default {@link DEFAULT_BACKOFF_CAP_INTERVALS} ×);
 * - while backing off after a server-side failure (5xx, timeout, network, unreadable body), a cheap
 *   PROBE (a request without the token, which the per-token throttle does not count) is due one
 *   interval after the last request; when it finds the server up, the poll is due at once. So a
 *   recovery is noticed within one interval, and the token is never used more than once per
 *   interval. A 429 is about the token itself: no probe, the backoff (and Retry-After) rule;
 * - after a credential rejection (401/403): one interval (the token in the file will not change
 *   until someone logs in; the caller resets the state when the credentials file changes);
 * - the last good value is kept with the time it was observed, so callers can show its age;
 *   a failure never clears it, and never turns it into "exhausted".
 *
 * All times are epoch milliseconds; the random source is injected (`() => number` in [0, 1)).
 */

import type { UsageFetch } from './ports.js';

export type PollOutcome =
  | { kind: 'ok'; at: number }
  /** 429. `retryAfterMs` is relative to `at`. */
  | { kind: 'rateLimited'; at: number; retryAfterMs?: number }
  /** 5xx, network error, timeout, unreadable body. */
  | { kind: 'unavailable'; at: number }
  /** 401/403: credentials rejected. */
  | { kind: 'rejected'; at: number };

/**
 * The poll schedule's outcome of one usage request (the QuotaPort's answer, or the adapter's
 * `fetchUsage` result): 401/403 → rejected, 429 → rateLimited (with Retry-After), everything else
 * that failed (5xx, network, timeout, unreadable body, no usable token) → unavailable.
 */
export function pollOutcomeOf(result: UsageFetch, at: number): PollOutcome {
  if (result.ok) return { kind: 'ok', at };
  switch (result.kind) {
    case 'CredentialsExpired':
    case 'Forbidden':
      return { kind: 'rejected', at };
    case 'RateLimited':
      return result.retryAfterMs !== undefined ? { kind: 'rateLimited', at, retryAfterMs: result.retryAfterMs } : { kind: 'rateLimited', at };
    case 'Unavailable':
    case 'NoCredentials':
      return { kind: 'unavailable', at };
  }
}

export interface PollConfig {
  pollIntervalMs: number;
  /** Upper bound of the exponential part (Retry-After may exceed it). Default 2 × pollIntervalMs. */
  maxBackoffMs?: number;
  /** Upward jitter ratio, 0–1. Default 0.2. */
  jitterRatio?: number;
  /** A good value older than this is stale. Default 2 × pollIntervalMs. */
  staleAfterMs?: number;
}

export interface PollState<T = unknown> {
  lastAttemptAt?: number;
  lastOutcome?: PollOutcome['kind'];
  /** Consecutive 429/5xx/network failures (reset by a success). */
  consecutiveFailures: number;
  /** Earliest time the next request may be sent; undefined = now. */
  nextAllowedAt?: number;
  /** The last successful value and when it was observed. */
  lastGood?: { value: T; at: number };
  /** When the last probe (a request without the token, while backing off) was sent. */
  lastProbeAt?: number;
}

/** The backoff cap, in poll intervals, unless `maxBackoffMs` is given. */
export const DEFAULT_BACKOFF_CAP_INTERVALS = 2;
export const DEFAULT_JITTER_RATIO = 0.2;

export function initialPollState<T = unknown>(): PollState<T> {
  return { consecutiveFailures: 0 };
}

/** The delay after the n-th (≥ 1) consecutive failure, before Retry-After. */
export function backoffDelayMs(failures: number, config: PollConfig, random: () => number): number {
  const cap = Math.max(config.maxBackoffMs ?? DEFAULT_BACKOFF_CAP_INTERVALS * config.pollIntervalMs, config.pollIntervalMs);
  const exp = Math.min(cap, config.pollIntervalMs * 2 ** Math.max(0, failures - 1));
  const jitter = Math.min(1, Math.max(0, config.jitterRatio ?? DEFAULT_JITTER_RATIO));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp * (1 + jitter * r));
}

/**
 * The state after an attempt ended with `outcome`. `value` is stored as the last good value on
 * success. Pure.
 */
export function recordPollOutcome<T>(
  state: PollState<T>,
  outcome: PollOutcome,
  config: PollConfig,
  random: () => number,
  value?: T,
): PollState<T> {
  const next: PollState<T> = { ...state, lastAttemptAt: outcome.at, lastOutcome: outcome.kind };
  switch (outcome.kind) {
    case 'ok':
      next.consecutiveFailures = 0;
      next.nextAllowedAt = outcome.at + config.pollIntervalMs;
      if (value !== undefined) next.lastGood = { value, at: outcome.at };
      return next;
    case 'rejected':
      next.consecutiveFailures = 0;
      next.nextAllowedAt = outcome.at + config.pollIntervalMs;
      return next;
    case 'rateLimited':
    case 'unavailable': {
      const failures = state.consecutiveFailures + 1;
      next.consecutiveFailures = failures;
      let delay = Math.max(config.pollIntervalMs, backoffDelayMs(failures, config, random));
      if (outcome.kind === 'rateLimited' && outcome.retryAfterMs !== undefined && outcome.retryAfterMs > delay) {
        delay = outcome.retryAfterMs;
      }
      next.nextAllowedAt = outcome.at + delay;
      return next;
    }
  }
}

/** Earliest time a request may be sent (epoch ms). */
export function nextPollAt(state: PollState<unknown>, now: number): number {
  return state.nextAllowedAt === undefined ? now : Math.max(now, state.nextAllowedAt);
}

/** Whether a request may be sent at `now`. */
export function mayPoll(state: PollState<unknown>, now: number): boolean {
  return state.nextAllowedAt === undefined || now >= state.nextAllowedAt;
}

/**
 * When the next probe is due (epoch ms), or undefined when none is: only while backing off after
 * a server-side failure, one interval after the last request (poll or probe), and only if that is
 * before the next poll.
 */
export function nextProbeAt(state: PollState<unknown>, config: PollConfig): number | undefined {
  if (state.consecutiveFailures === 0 || state.lastOutcome !== 'unavailable' || state.nextAllowedAt === undefined || state.lastAttemptAt === undefined) return undefined;
  const at = Math.max(state.lastAttemptAt, state.lastProbeAt ?? -Infinity) + config.pollIntervalMs;
  return at < state.nextAllowedAt ? at : undefined;
}

/** Whether a probe is due at `now` (and a poll is not). */
export function mayProbe(state: PollState<unknown>, now: number, config: PollConfig): boolean {
  const at = nextProbeAt(state, config);
  return at !== undefined && now >= at && !mayPoll(state, now);
}

/** The state after a probe at `at`: when the server is up again, the poll is due at once. Pure. */
export function recordProbe<T>(state: PollState<T>, probe: { at: number; reachable: boolean }): PollState<T> {
  return { ...state, lastProbeAt: probe.at, ...(probe.reachable ? { nextAllowedAt: probe.at } : {}) };
}

/** Earliest time a request (poll or probe) is due (epoch ms). */
export function nextRequestAt(state: PollState<unknown>, now: number, config: PollConfig): number {
  const probe = nextProbeAt(state, config);
  const poll = nextPollAt(state, now);
  return probe === undefined ? poll : Math.max(now, Math.min(poll, probe));
}

export interface PollFreshness<T> {
  /** `Fresh` (a good value within staleAfter), `Stale` (older), `Unknown` (never succeeded). */
  state: 'Fresh' | 'Stale' | 'Unknown';
  value?: T;
  ageMs?: number;
}

/** How fresh the last good value is at `now`. */
export function pollFreshness<T>(state: PollState<T>, now: number, config: PollConfig): PollFreshness<T> {
  if (!state.lastGood) return { state: 'Unknown' };
  const ageMs = Math.max(0, now - state.lastGood.at);
  const staleAfter = config.staleAfterMs ?? 2 * config.pollIntervalMs;
  return { state: ageMs > staleAfter ? 'Stale' : 'Fresh', value: state.lastGood.value, ageMs };
}

/**
 * Parses a `Retry-After` header: delta-seconds (`120`) or an HTTP date, relative to `nowMs`.
 * Returns milliseconds ≥ 0, or undefined when absent/invalid.
 */
export function parseRetryAfter(value: string | readonly string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string') return undefined;
  const v = raw.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - nowMs);
}
