/** Crash-loop protection for sessions: quick failures back off exponentially. Pure. */

export interface FailureRecord {
  at: string;
  reason: 'Exited' | 'Vanished';
  exitStatus?: number | null;
  /** How long the process had run. */
  uptimeMs: number;
}

export interface CrashLoopPolicy {
  /** Quick failures within `windowMs` that make a crash loop. */
  threshold: number;
  windowMs: number;
  /** A process that ran less than this failed "quickly". */
  quickMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_CRASH_LOOP: CrashLoopPolicy = { threshold: 4, windowMs: 10 * 60_000, quickMs: 60_000, baseDelayMs: 10_000, maxDelayMs: 5 * 60_000 };

export interface CrashLoopVerdict {
  looping: boolean;
  /** Quick failures in the window. */
  quickFailures: number;
  /** When the next launch is allowed (epoch ms); undefined = now. */
  nextLaunchAt?: number;
}

export function crashLoopVerdict(failures: readonly FailureRecord[], now: number, p: CrashLoopPolicy = DEFAULT_CRASH_LOOP): CrashLoopVerdict {
  const recent = failures.filter((f) => now - Date.parse(f.at) <= p.windowMs && f.uptimeMs < p.quickMs);
  if (recent.length < p.threshold) return { looping: false, quickFailures: recent.length };
  const last = Math.max(...recent.map((f) => Date.parse(f.at)));
  const delay = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (recent.length - p.threshold));
  return { looping: true, quickFailures: recent.length, nextLaunchAt: last + delay };
}

/** Keeps the failure list bounded. */
export function recordFailure(failures: readonly FailureRecord[], f: FailureRecord, keep = 20): FailureRecord[] {
  return [...failures, f].slice(-keep);
}
