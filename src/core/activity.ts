/**
 * Session activity, derived from Claude Code hook events (the primary signal). Pure.
 *
 *   SessionStart           -> idle (the TUI waits for input); startup/resume: the process started
 *   UserPromptSubmit       -> working (and the task id, when the prompt names one)
 *   Stop                   -> idle
 *   StopFailure rate_limit -> rateLimited (other errors -> idle, with lastError)
 *   Notification           -> waitingInput (permission_prompt) or idle (idle_prompt)
 *   SessionEnd             -> exited
 *   StatusLine, Pre/PostToolUse -> heartbeat only (the latest rate_limits are kept)
 */
import { taskIdFromPrompt } from './task-marker.js';

export type Activity = 'starting' | 'idle' | 'working' | 'waitingInput' | 'rateLimited' | 'exited';

/** One line of a session's event file, as written by `claude-failover hook event|statusline`. */
export interface HookEventRecord {
  /** Epoch ms when the hook ran. */
  t: number;
  event: string;
  sessionId?: string;
  source?: string;
  error?: string;
  errorMessage?: string;
  notificationType?: string;
  taskId?: string;
  promptBytes?: number;
  transcriptPath?: string;
  cwd?: string;
  rateLimits?: StatusLineRateLimits;
  toolName?: string;
  /**
   * The account the reporting process runs under, as its launch settings named it. A process being
   * stopped during a failover may still report after the session's status names the new account.
   */
  account?: string;
}

export interface StatusLineRateLimits {
  five_hour?: { used_percentage?: number; resets_at?: number };
  seven_day?: { used_percentage?: number; resets_at?: number };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Keeps what the controller needs of a hook's JSON input; prompts themselves are not kept (only the
 * task id). Used by `claude-failover hook event` before writing and by the events reader for raw
 * records appended by the shell observer (hooks/claude-failover-observe).
 */
export function eventRecord(input: Record<string, unknown>, now: number): HookEventRecord {
  const r: HookEventRecord = { t: now, event: str(input.hook_event_name) ?? 'Unknown' };
  const set = <K extends keyof HookEventRecord>(k: K, v: HookEventRecord[K] | undefined) => {
    if (v !== undefined) r[k] = v;
  };
  set('sessionId', str(input.session_id));
  set('source', str(input.source));
  set('error', str(input.error));
  // Claude Code 2.1.332 sends the limit text of a StopFailure as `last_assistant_message`.
  set('errorMessage', str(input.error_message) ?? str(input.message) ?? (r.event === 'StopFailure' ? str(input.last_assistant_message) : undefined));
  set('notificationType', str(input.notification_type));
  set('transcriptPath', str(input.transcript_path));
  set('cwd', str(input.cwd));
  set('toolName', str(input.tool_name));
  if (typeof input.prompt === 'string') {
    set('taskId', taskIdFromPrompt(input.prompt));
    r.promptBytes = Buffer.byteLength(input.prompt);
  }
  return r;
}

/** A line of an events file: a record written by `hook event`, or a raw input from the shell observer. */
export function recordFromLine(v: unknown): HookEventRecord | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.t !== 'number') return undefined;
  if (o.via === 'hook' || o.via === 'statusline') {
    const raw = o.raw;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    const input = raw as Record<string, unknown>;
    const r = eventRecord(o.via === 'hook' ? input : { ...input, hook_event_name: 'StatusLine' }, o.t);
    if (o.via === 'statusline') {
      const rl = input.rate_limits;
      if (rl && typeof rl === 'object' && !Array.isArray(rl)) r.rateLimits = rl as StatusLineRateLimits;
    }
    if (typeof o.account === 'string' && o.account !== '') r.account = o.account;
    return r;
  }
  return typeof o.event === 'string' ? (o as unknown as HookEventRecord) : undefined;
}

export interface ActivityState {
  activity: Activity;
  claudeSessionId?: string;
  /** ISO time of the newest event of any kind. */
  lastHeartbeat?: string;
  /** ISO time of the last activity change. */
  since?: string;
  rateLimits?: StatusLineRateLimits & { observedAt: string; account?: string };
  currentTask?: string;
  /** The task of the last finished turn (for completion). */
  lastCompletedTask?: string;
  lastCompletedAt?: string;
  /** ISO time the last turn ended (Stop); equal to `lastCompletedAt` when that turn was a task's. */
  lastTurnEndedAt?: string;
  lastError?: { error: string; message?: string; at: string; account?: string };
  /** Number of turns that ended (Stop) since launch. */
  turns: number;
  /** ISO time the agent process last started (SessionStart with source startup or resume). */
  processStartedAt?: string;
}

export function initialActivity(now: number): ActivityState {
  return { activity: 'starting', since: new Date(now).toISOString(), turns: 0 };
}

/** Folds events (oldest first) into the state; events at or before `sinceMs` are ignored. */
export function applyEvents(state: ActivityState, events: readonly HookEventRecord[], sinceMs = 0): ActivityState {
  let s = { ...state };
  const set = (a: Activity, t: number) => {
    if (s.activity !== a) s = { ...s, activity: a, since: new Date(t).toISOString() };
  };
  for (const e of events) {
    if (!(e.t > sinceMs)) continue;
    const at = new Date(e.t).toISOString();
    s.lastHeartbeat = at;
    if (e.sessionId) s.claudeSessionId = e.sessionId;
    switch (e.event) {
      case 'SessionStart':
        set('idle', e.t);
        // `clear` and `compact` start a new context in the same process.
        if (e.source === undefined || e.source === 'startup' || e.source === 'resume') s.processStartedAt = at;
        break;
      case 'UserPromptSubmit':
        set('working', e.t);
        if (e.taskId) s.currentTask = e.taskId;
        break;
      case 'Stop':
        set('idle', e.t);
        s.turns += 1;
        s.lastTurnEndedAt = at;
        if (s.currentTask) {
          s.lastCompletedTask = s.currentTask;
          s.lastCompletedAt = at;
          delete s.currentTask;
        }
        break;
      case 'StopFailure':
        s.lastError = { error: e.error ?? 'unknown', ...(e.errorMessage ? { message: e.errorMessage } : {}), at, ...(e.account ? { account: e.account } : {}) };
        set(e.error === 'rate_limit' ? 'rateLimited' : 'idle', e.t);
        break;
      case 'Notification':
        if (e.notificationType === 'permission_prompt') set('waitingInput', e.t);
        else if (e.notificationType === 'idle_prompt' && s.activity !== 'rateLimited') set('idle', e.t);
        break;
      case 'SessionEnd':
        set('exited', e.t);
        break;
      case 'StatusLine':
        if (e.rateLimits) s.rateLimits = { ...e.rateLimits, observedAt: at, ...(e.account ? { account: e.account } : {}) };
        break;
      default:
        break;
    }
  }
  return s;
}

