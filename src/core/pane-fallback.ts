/**
 * The pane-capture fallback, for sessions whose Claude Code sends no hook events (an old
 * release, a foreign command). It is never the primary signal: hook events always win, and a
 * limit message seen on screen counts only when it sits in the TUI's bottom (status) region and
 * the same text is seen on two consecutive observations. Pure.
 */
import { parseLimitMessage, stripAnsi } from './limit-messages.js';

/** Lines at the bottom of the pane that form Claude Code's input box and status region. */
export const STATUS_REGION_LINES = 8;

export interface PaneReading {
  activity?: 'idle' | 'working';
  /** A limit message found in the status region, with its reset time if it gave one. */
  limit?: { text: string; resetsAt?: string };
}

export function readPane(text: string, now: Date): PaneReading {
  const lines = stripAnsi(text).split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  const region = lines.slice(-STATUS_REGION_LINES).join('\n');
  const out: PaneReading = {};
  if (/esc to interrupt/i.test(region)) out.activity = 'working';
  // An empty input box: `│ > ` (the simulator, older releases) or a bare `❯` between two rules (2.1.332).
  else if (/^\s*[│|]\s*>\s/m.test(region) || /^\s*[>❯]\s*$/m.test(region)) out.activity = 'idle';
  const m = parseLimitMessage(region, { now });
  if (m && !m.warning) out.limit = { text: m.text, ...(m.resetsAt ? { resetsAt: m.resetsAt.toISOString() } : {}) };
  return out;
}

/** A pane limit match is confirmed when the previous observation showed the same text. */
export function confirmPaneLimit(previous: { text: string } | undefined, current: { text: string } | undefined): boolean {
  return !!previous && !!current && previous.text === current.text;
}
