/** Crash-loop protection for sessions: quick failures back off exponentially. Pure. */

import type { FailureRecord } from '../core/status.js';

/** One failure of a session's process (declared with the Session status, src/core/status.ts). */
export type { FailureRecord };

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

/** Keeps the failure list bounded; only the latest few keep their pane output. */
export function recordFailure(failures: readonly FailureRecord[], f: FailureRecord, keep = 20, keepOutput = 3): FailureRecord[] {
  const all = [...failures, f].slice(-keep);
  return all.map((x, i) => {
    if (i >= all.length - keepOutput || x.lastOutput === undefined) return x;
    const { lastOutput: _drop, ...rest } = x;
    return rest;
  });
}

/** Lines kept from a dead pane, and the width each is cut to. */
export const EXIT_OUTPUT_LINES = 8;
const EXIT_OUTPUT_WIDTH = 300;

/**
 * The last non-empty lines of a dead pane's text (capture-pane), without tmux's own
 * "Pane is dead (status N, ...)" line, each cut to a readable width. Pure.
 */
export function exitOutput(pane: string, lines = EXIT_OUTPUT_LINES): string[] {
  return pane
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    // Blank lines, tmux's own dead-pane line, and rules (a TUI's frame, killed while it was up) say nothing.
    .filter((l) => l.trim() !== '' && !/^Pane is dead \(/.test(l) && !/^[\s─━═╌╍┄┅-]+$/.test(l))
    .slice(-lines)
    .map((l) => (l.length > EXIT_OUTPUT_WIDTH ? `${l.slice(0, EXIT_OUTPUT_WIDTH - 1)}…` : l));
}

/** One line for messages: the last lines of the output, joined (at most ~300 characters). */
export function exitSummary(lines: readonly string[] | undefined, max = 3): string | undefined {
  if (!lines || lines.length === 0) return undefined;
  const text = lines.slice(-max).map((l) => l.trim()).join(' ⏎ ');
  return text.length > EXIT_OUTPUT_WIDTH ? `…${text.slice(-(EXIT_OUTPUT_WIDTH - 1))}` : text;
}
