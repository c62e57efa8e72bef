/**
 * Quota health of one account (docs/operations.md, "Usage data unknown"): are its usage figures still worth believing?
 *
 * Pure. Usage is **Unknown** — never "exhausted", never "fine" — when either
 * - the usage endpoint failed `unknownAfterFailures` times in a row (5xx, 429, timeout, network, a
 *   body of the wrong shape) and no other source (a session's status line) has reported since the
 *   last good poll, or
 * - the newest figure of any source is older than `maxUsageAgeMs`.
 * The reason is `UsagePollsFailing` when polls are failing (whichever limit came first), else
 * `UsageStale` (no poll at all — e.g. credentials unreadable — or only an old session report).
 * Otherwise the figures are `UsageFresh`; with no figure at all yet (and fewer failures) it is
 * `NoUsageData` (the normal state before the first poll answers).
 *
 * The Account controller maps Unknown to `QuotaAvailable=Unknown` (reason `UsagePollsFailing` or
 * `UsageStale`) with a `QuotaUnknown` Warning event on the way in and `QuotaRecovered` on the way
 * out. The last known figures are kept and shown with their age; the active-account decision still
 * uses them (a backup's usage barely moves while no session runs on it), but no "headroom" is
 * claimed for an account whose usage is unknown.
 */
import type { PollState } from './poll-schedule.js';
import { formatAge, type UsageSnapshot, type UsageWindow } from './quota.js';

export const DEFAULT_UNKNOWN_AFTER_FAILURES = 3;
/** The default `maxUsageAge`, in poll intervals ... */
export const DEFAULT_MAX_USAGE_AGE_INTERVALS = 3;
/** ... and at least this: a figure younger than a minute is never stale for a 5-hour window. */
export const MIN_DEFAULT_MAX_USAGE_AGE_MS = 60_000;

/** `maxUsageAge` when the manifest does not set it: 3 × pollInterval, at least 1 minute. */
export function defaultMaxUsageAgeMs(pollIntervalMs: number): number {
  return Math.max(DEFAULT_MAX_USAGE_AGE_INTERVALS * pollIntervalMs, MIN_DEFAULT_MAX_USAGE_AGE_MS);
}

export interface QuotaHealthConfig {
  /** Consecutive failed polls after which usage is Unknown. */
  unknownAfterFailures: number;
  /** A newest figure older than this makes usage Unknown. */
  maxUsageAgeMs: number;
}

export type QuotaHealthReason = 'UsageFresh' | 'NoUsageData' | 'UsagePollsFailing' | 'UsageStale';

export interface QuotaHealth {
  /** False for `UsagePollsFailing` and `UsageStale` (and `NoUsageData`). */
  known: boolean;
  reason: QuotaHealthReason;
  /** Human: why, with counts and ages. */
  message: string;
  /** Consecutive failed polls. */
  failures: number;
  /** The newest figure (any source) and its age, when there is one. */
  newestAt?: number;
  ageMs?: number;
  /** When the figures turn stale if nothing new arrives (for requeueing). */
  staleAt?: number;
}

/** The reasons under which the account's usage is Unknown because its data went bad. */
export const QUOTA_UNKNOWN_REASONS: ReadonlySet<QuotaHealthReason> = new Set(['UsagePollsFailing', 'UsageStale']);

function observedMs(w: UsageWindow | undefined): number | undefined {
  if (!w) return undefined;
  const t = Date.parse(w.observedAt);
  return Number.isNaN(t) ? undefined : t;
}

/** The quota health of an account at `now`. `lastError` names the last failed poll, for the message. */
export function quotaHealth(input: { usage: Pick<UsageSnapshot, 'fiveHour' | 'sevenDay'>; poll: Pick<PollState<unknown>, 'consecutiveFailures' | 'lastGood'>; lastError?: string }, now: number, config: QuotaHealthConfig): QuotaHealth {
  const failures = input.poll.consecutiveFailures;
  const times = [observedMs(input.usage.fiveHour), observedMs(input.usage.sevenDay)].filter((t): t is number => t !== undefined);
  const newestAt = times.length > 0 ? Math.max(...times) : undefined;
  const ageMs = newestAt !== undefined ? Math.max(0, now - newestAt) : undefined;
  const base = { failures, ...(newestAt !== undefined ? { newestAt, ageMs, staleAt: newestAt + config.maxUsageAgeMs } : {}) };
  const last = input.lastError ? ` (last: ${input.lastError})` : '';
  // Failing polls matter only while no other source (a session's status line, a limit it hit) has
  // reported since the last good poll: the merged windows then carry that source.
  const sinceLastGood = input.poll.lastGood?.at ?? -Infinity;
  const otherSourceNewer = [input.usage.fiveHour, input.usage.sevenDay].some((w) => w !== undefined && w.source !== 'usage-api' && (observedMs(w) ?? -Infinity) > sinceLastGood);
  const stale = ageMs !== undefined && ageMs > config.maxUsageAgeMs;
  const failing = failures > 0 && !otherSourceNewer;
  // Stale because the polls fail: say so (the precise cause), whichever limit was reached first.
  if (failing && (failures >= config.unknownAfterFailures || stale)) {
    const figures = ageMs !== undefined ? `the last figures are ${formatAge(ageMs)} old${stale ? ` (maxUsageAge ${formatAge(config.maxUsageAgeMs)})` : ''}` : 'there is no figure yet';
    return { ...base, known: false, reason: 'UsagePollsFailing', message: `the usage endpoint failed ${failures} time${failures === 1 ? '' : 's'} in a row${last} and no session reported usage since; ${figures}: usage is unknown, not exhausted` };
  }
  if (stale) {
    return { ...base, known: false, reason: 'UsageStale', message: `the newest usage figure is ${formatAge(ageMs)} old (maxUsageAge ${formatAge(config.maxUsageAgeMs)})${failures > 0 ? `; ${failures} failed poll(s)${last}` : ''}: usage is unknown, not exhausted` };
  }
  if (newestAt === undefined) return { ...base, known: false, reason: 'NoUsageData', message: failures > 0 ? `no usage figure yet; ${failures} failed poll(s)${last}` : 'no usage figure yet' };
  return { ...base, known: true, reason: 'UsageFresh', message: `newest figure ${formatAge(ageMs ?? 0)} old` };
}
