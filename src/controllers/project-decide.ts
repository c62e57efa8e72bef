/**
 * The Project controller's decisions, as small pure functions: which session takes which task
 * (`assignTasks`), and what happens to a dispatched task (`judgeLease`). No I/O, no clock.
 */
import type { Activity } from '../core/activity.js';
import type { Lease, Priority } from '../core/task.js';
import { taskMarkerId } from '../core/task-marker.js';

/** What the Project controller knows about one session (from the manifests, tmux and the prior Session status). */
export interface DispatchView {
  name: string;
  /** The session's project (spec.project). */
  project: string;
  mode: 'pool' | 'dedicated';
  /** Declared in the manifests. */
  declared: boolean;
  suspended: boolean;
  /** Its tmux session exists, is ours, and the pane is alive. */
  alive: boolean;
  /** Ready condition status is True. */
  ready: boolean;
  readyReason?: string;
  activity?: Activity;
  /** Epoch ms of the last activity change. */
  sinceMs?: number;
  lastHeartbeatMs?: number;
  currentTask?: string;
  lastCompletedTask?: string;
  lastCompletedAtMs?: number;
  lastError?: { error: string; message?: string; atMs: number };
  account?: string;
  conversationId?: string;
  launchedAtMs?: number;
  /** The current launch resumed the session's conversation (`--resume`). */
  resumed?: boolean;
  /** When the controller last found the session's process gone (a crash, a kill): epoch ms. */
  lastFailureMs?: number;
  /** When the agent process last started, as its SessionStart hook reported (epoch ms). */
  processStartedMs?: number;
  /**
   * When the tmux session itself says it was launched (its `cf-launched-at` option, read fresh from
   * tmux). Differs from `launchedAtMs` while the Session controller is relaunching it and has not
   * recorded the new launch in its status yet.
   */
  tmuxLaunchedMs?: number;
}

export type LeaseVerdict =
  /** The session's turn on the task ended (Stop hook after the task's prompt). */
  | { action: 'complete'; finishedAtMs: number; reason: string }
  /** Still in progress (or nothing to decide yet). `recheckInMs`: when a deadline passes. */
  | { action: 'keep'; reason: string; recheckInMs?: number }
  /** The session hit a usage limit on the task: it stays dispatched for the failover replay. */
  | { action: 'hold'; reason: string; recheckInMs: number }
  /** Claimed but never delivered, and the session is idle: deliver again (same claim). */
  | { action: 'redeliver'; reason: string }
  /**
   * Delivered, then the session was relaunched with `--resume` of the same conversation (a
   * failover, a healed crash): paste a continuation prompt (same claim) so the task goes on
   * where it stopped instead of starting over.
   */
  | { action: 'replay'; reason: string; newConversation?: boolean }
  /** The delivery ended without completion: back to inbox (attempt + 1) or failed/ at max. */
  | { action: 'requeue'; reason: string };

export interface LeaseContext {
  nowMs: number;
  /** Requeue a dispatched task after this long without session activity. */
  staleMs: number;
  /** Session statuses were observed after this controller started (first pass: false). */
  fresh: boolean;
  /** Since when the task has been held for a rate limit (from the Project status), if it is. */
  heldSinceMs?: number;
  /** How long a held task waits for the failover replay before it is requeued. */
  replayWindowMs: number;
  /** A delivered prompt whose turn has not started after this long was not submitted: requeue. */
  pickupMs: number;
}

/** How long a dispatched task waits for its stopped session to come back (relaunch + resume). */
export const RELAUNCH_WAIT_MS = 60_000;

const durationText = (ms: number) => (ms >= 120_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`);

/**
 * Decides what happens to a dispatched task, from its lease and its session. In order:
 * completed (lastCompletedTask is the task, after the claim) → complete; first pass after a start
 * (session status not fresh) → keep; tmux shows a launch the Session status does not know yet →
 * keep (for up to RELAUNCH_WAIT_MS); relaunched with `--resume` of its conversation after the
 * latest prompt of the claim started (the claim, or the last continuation) → replay once it is
 * idle (one continuation per relaunch; no attempt is used); rate-limited → hold (stays
 * dispatched, failover replays it; requeued if not continued within the replay window); session
 * undeclared, suspended, moved or crash looping → requeue; never delivered to a session not
 * launched yet (a carried-over lease) → keep until stale; its pane gone or dead → keep for
 * RELAUNCH_WAIT_MS (a relaunch brings it back), then requeue; working on it → keep (stale after `staleMs`
 * without activity → requeue); never delivered and the session is idle → redeliver; delivered,
 * and the session went idle after the latest prompt started without finishing it (failed turn)
 * → requeue; relaunched without its conversation → requeue after a crash, else (a failover) replay
 * in the new conversation from the task file; unless the agent process started after the
 * prompt and is idle since (the prompt raced with a relaunch): keep until `pickupMs`, then replay
 * (resumed) or requeue; otherwise keep until the prompt's turn starts (`pickupMs`) or `staleMs`
 * without activity.
 *
 * The latest prompt matters: after a continuation, the session is still idle (since its relaunch)
 * until the continued turn starts, which must not read as "idle without finishing".
 */
export function judgeLease(lease: Lease, project: string, session: DispatchView | undefined, ctx: LeaseContext): LeaseVerdict {
  const marker = taskMarkerId(lease.taskId);
  const claimedMs = Date.parse(lease.claimedAt);
  if (session && session.lastCompletedTask === marker && session.lastCompletedAtMs !== undefined && session.lastCompletedAtMs >= claimedMs) {
    return { action: 'complete', finishedAtMs: session.lastCompletedAtMs, reason: `session ${session.name} finished its turn on the task` };
  }
  if (!ctx.fresh) return { action: 'keep', reason: 'waiting for fresh session status after start', recheckInMs: 250 };
  // When the latest prompt of this claim was pasted: the delivery (its paste start; the claim until
  // it is recorded) or the last continuation. A turn of that prompt starts after it; a relaunch
  // decided after it cut that prompt's turn.
  // Measured from the delivery, not the claim: a claim older than the session (a lease carried
  // over by `migrate --from-go`, delivered once the session was up) is not taken for a relaunch.
  // An unreadable time counts as the claim.
  const msOf = (iso: string | undefined) => {
    const ms = iso !== undefined ? Date.parse(iso) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  };
  const continuedMs = msOf(lease.continuedAt);
  const promptMs = Math.max(claimedMs, msOf(lease.deliveredAt) ?? claimedMs, continuedMs ?? claimedMs);
  const lastActivity = Math.max(promptMs, session?.lastHeartbeatMs ?? 0, session?.sinceMs ?? 0);
  const staleIn = lastActivity + ctx.staleMs - ctx.nowMs;
  const stale = (): LeaseVerdict | undefined =>
    staleIn <= 0 ? { action: 'requeue', reason: `dispatched to ${lease.session} for ${durationText(ctx.nowMs - claimedMs)} without session activity for ${durationText(ctx.nowMs - lastActivity)} (staleDispatchAfter ${durationText(ctx.staleMs)})` } : undefined;

  // tmux shows a newer launch than the Session status: the relaunch is not recorded yet, and the
  // status (idle, Ready) is the old process's. Decide nothing on it for now.
  if (session && session.alive && session.tmuxLaunchedMs !== undefined && session.launchedAtMs !== undefined && session.tmuxLaunchedMs > session.launchedAtMs && ctx.nowMs - session.tmuxLaunchedMs < RELAUNCH_WAIT_MS) {
    return { action: 'keep', reason: `session ${session.name} is being relaunched; waiting for its status`, recheckInMs: 500 };
  }
  // Relaunched with --resume after the latest prompt started: continue in the same conversation.
  // A continuation moves promptMs past this launch, so one relaunch gets one continuation.
  if (session && lease.deliveredAt !== undefined && session.alive && session.resumed && session.launchedAtMs !== undefined && session.launchedAtMs > promptMs
    && (lease.conversationId === undefined || lease.conversationId === session.conversationId)) {
    if (session.activity === 'idle' && session.ready) {
      return { action: 'replay', reason: `session ${session.name} was relaunched${session.account ? ` on account ${session.account}` : ''} and resumed its conversation; continuing the task there` };
    }
    if (session.activity === 'starting' || session.activity === undefined || session.activity === 'idle') {
      return { action: 'keep', reason: `session ${session.name} is resuming; the task continues once it is idle and Ready`, recheckInMs: 1_000 };
    }
  }
  if (session?.activity === 'rateLimited' && session.alive) {
    return { action: 'hold', reason: `session ${session.name} hit a usage limit; the task stays dispatched for the failover replay`, recheckInMs: ctx.replayWindowMs };
  }
  if (ctx.heldSinceMs !== undefined) {
    if (session && session.alive && session.currentTask === marker && (session.activity === 'working' || session.activity === 'waitingInput')) {
      return { action: 'keep', reason: `session ${session.name} continues the task after the usage limit`, recheckInMs: Math.max(1000, staleIn) };
    }
    const left = ctx.heldSinceMs + ctx.replayWindowMs - ctx.nowMs;
    if (left > 0) return { action: 'hold', reason: `waiting for the failover replay (rate-limited on ${lease.session}; ${durationText(left)} left)`, recheckInMs: left };
    return { action: 'requeue', reason: `rate-limited on ${lease.session} and not continued within ${durationText(ctx.replayWindowMs)}` };
  }

  if (!session || !session.declared) return { action: 'requeue', reason: `session ${lease.session} no longer exists in the manifests` };
  if (session.project !== project) return { action: 'requeue', reason: `session ${session.name} now belongs to project ${session.project}` };
  if (session.suspended) return { action: 'requeue', reason: `session ${session.name} was suspended` };
  if (session.readyReason === 'CrashLoopBackOff') return { action: 'requeue', reason: `session ${session.name} is crash-looping` };
  if (!session.alive) {
    // Claimed for a session this controller has not launched yet (no status at all: a lease carried
    // over by `migrate --from-go`, read at start-up): it is delivered once the session runs.
    if (lease.deliveredAt === undefined && session.launchedAtMs === undefined && session.activity === undefined) {
      return stale() ?? { action: 'keep', reason: `session ${session.name} has not been launched yet; the task is delivered to it once it is idle`, recheckInMs: 1_000 };
    }
    // The Session controller relaunches a declared session that stopped (failover, healing) and
    // resumes its conversation; the task then continues there (replay), or, if its prompt never
    // got through (claimed as the session was being stopped), is delivered there. Wait for that.
    const downFor = ctx.nowMs - lastActivity;
    if (downFor < RELAUNCH_WAIT_MS) {
      return { action: 'keep', reason: `session ${session.name} is down; waiting up to ${durationText(RELAUNCH_WAIT_MS - downFor)} for it to be relaunched${lease.deliveredAt !== undefined ? ' and resumed' : ''}`, recheckInMs: 1_000 };
    }
    return { action: 'requeue', reason: `session ${session.name} died (its tmux session is gone or its process exited)` };
  }

  if (session.currentTask === marker && session.activity !== 'idle') {
    return stale() ?? { action: 'keep', reason: `session ${session.name} is ${session.activity ?? 'busy'} on it`, recheckInMs: staleIn };
  }
  if (lease.deliveredAt === undefined) {
    if (session.activity === 'idle' && session.ready) return { action: 'redeliver', reason: `claimed for ${session.name} but never delivered; the session is idle` };
    return stale() ?? { action: 'keep', reason: `claimed, not yet delivered; session ${session.name} is ${session.activity ?? 'unknown'}`, recheckInMs: staleIn };
  }
  if (session.activity === 'idle' && session.sinceMs !== undefined && session.sinceMs > promptMs) {
    return judgeIdleSincePrompt(lease, session, session.sinceMs, ctx, promptMs, continuedMs !== undefined);
  }
  const deliveredMs = promptMs;
  if (session.activity === 'idle' && ctx.nowMs - deliveredMs >= ctx.pickupMs) {
    return { action: 'requeue', reason: `the prompt was delivered to ${session.name} ${durationText(ctx.nowMs - deliveredMs)} ago but no turn started` };
  }
  const pickupIn = session.activity === 'idle' ? deliveredMs + ctx.pickupMs - ctx.nowMs : staleIn;
  return stale() ?? { action: 'keep', reason: `delivered to ${session.name}; waiting for the turn to start`, recheckInMs: Math.min(pickupIn, staleIn) };
}

/**
 * Relaunched after the latest prompt without its conversation (it had no transcript yet). If the
 * process died (a crash, a kill), the attempt ended; a deliberate relaunch (a failover) is not
 * the task's doing: the task continues in the new conversation, from its file.
 */
function lostConversation(session: DispatchView, promptMs: number, why: string): LeaseVerdict {
  if (session.lastFailureMs !== undefined && session.lastFailureMs > promptMs) return { action: 'requeue', reason: `${why} (its process died)` };
  if (!session.ready) return { action: 'keep', reason: `${why}; the task continues there once it is Ready`, recheckInMs: 1_000 };
  return { action: 'replay', newConversation: true, reason: `${why}; continuing the task there from its file` };
}

/**
 * A session idle since after the latest prompt started (judgeLease, its last rules): a restart that
 * raced with the prompt waits for the pickup time, then continues; a relaunch without the
 * conversation continues in the new one (unless the process died); otherwise the turn ended
 * without finishing the task (an API error, or not) → requeue.
 */
function judgeIdleSincePrompt(lease: Lease, session: DispatchView, idleSinceMs: number, ctx: LeaseContext, promptMs: number, continued: boolean): LeaseVerdict {
  // The agent process started after the prompt was pasted, and has been idle since it started,
  // but the relaunch was decided before the prompt: the two raced (the prompt was pasted into a
  // process being stopped, or one still starting). That is not a turn that ended. The prompt may
  // still be submitted; if no turn starts within the pickup time it was lost, and the task
  // continues (no attempt used).
  const relaunchedAfterPrompt = session.launchedAtMs !== undefined && session.launchedAtMs > promptMs;
  if (!relaunchedAfterPrompt && session.processStartedMs !== undefined && session.processStartedMs > promptMs && idleSinceMs <= session.processStartedMs) {
    const left = promptMs + ctx.pickupMs - ctx.nowMs;
    if (left > 0) return { action: 'keep', reason: `session ${session.name} restarted as the prompt was delivered; waiting for the turn to start`, recheckInMs: left };
    if (!session.resumed || (lease.conversationId !== undefined && lease.conversationId !== session.conversationId)) {
      return lostConversation(session, promptMs, `the prompt did not survive the restart of session ${session.name}, which started a new conversation`);
    }
    if (!session.ready) return { action: 'keep', reason: `session ${session.name} restarted as the prompt was delivered; the task continues once it is Ready`, recheckInMs: 1_000 };
    return { action: 'replay', reason: `the prompt did not survive the restart of session ${session.name}, which resumed its conversation; continuing the task there` };
  }
  if (relaunchedAfterPrompt) return lostConversation(session, promptMs, `session ${session.name} was relaunched without its conversation`);
  if (session.lastError && session.lastError.atMs >= promptMs) {
    return { action: 'requeue', reason: `the turn ended with an API error (${session.lastError.error}${session.lastError.message ? `: ${session.lastError.message}` : ''})` };
  }
  return { action: 'requeue', reason: `session ${session.name} became idle without finishing the task${continued ? ' (after its continuation)' : ''}` };
}

// ---------------------------------------------------------------------------------------------
// Dispatch

export interface DispatchTask {
  id: string;
  priority: Priority;
  mtimeMs: number;
  /** frontmatter `session`: only that session may take it. */
  pin?: string;
}

export interface FreeSession {
  name: string;
  mode: 'pool' | 'dedicated';
  account: string;
  /** Idle since (epoch ms); the longest-idle session is chosen first. */
  sinceMs: number;
}

export interface Assignment<T extends DispatchTask> {
  task: T;
  session: FreeSession;
}

/**
 * Assigns tasks (already in dispatch order: priority, then age) to free sessions, one task per
 * session. A pinned task goes only to its session (any mode); a dedicated session takes only
 * tasks pinned to it; a pool session takes unpinned tasks, longest-idle session first.
 * `accountSlots`: sessions each account may still start work on (Account.maxSessions); accounts
 * absent from the map are unlimited. Tasks that cannot be placed are returned with the reason.
 */
export function assignTasks<T extends DispatchTask>(
  tasks: readonly T[],
  free: readonly FreeSession[],
  accountSlots: ReadonlyMap<string, number>,
  knownSessions: ReadonlySet<string>,
): { assignments: Assignment<T>[]; waiting: { task: T; reason: string }[] } {
  const byIdleTime = [...free].sort((x, y) => x.sinceMs - y.sinceMs || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  const taken = new Set<string>();
  const slots = new Map(accountSlots);
  const assignments: Assignment<T>[] = [];
  const waiting: { task: T; reason: string }[] = [];
  const hasSlot = (session: FreeSession) => (slots.get(session.account) ?? Infinity) > 0;
  const take = (task: T, session: FreeSession) => {
    taken.add(session.name);
    if (slots.has(session.account)) slots.set(session.account, (slots.get(session.account) ?? 0) - 1);
    assignments.push({ task, session });
  };
  for (const task of tasks) {
    if (task.pin !== undefined) {
      if (!knownSessions.has(task.pin)) {
        waiting.push({ task, reason: `pinned to session ${task.pin}, which is not a session of this project` });
        continue;
      }
      const pinned = byIdleTime.find((x) => x.name === task.pin);
      if (!pinned || taken.has(pinned.name)) {
        waiting.push({ task, reason: `pinned to session ${task.pin}, which is busy or not ready` });
        continue;
      }
      if (!hasSlot(pinned)) {
        waiting.push({ task, reason: `account ${pinned.account} is at its maxSessions` });
        continue;
      }
      take(task, pinned);
      continue;
    }
    const candidates = byIdleTime.filter((x) => x.mode === 'pool' && !taken.has(x.name));
    const chosen = candidates.find(hasSlot);
    if (!chosen) {
      waiting.push({ task, reason: candidates.length > 0 ? 'every free session\'s account is at its maxSessions' : 'no idle session' });
      continue;
    }
    take(task, chosen);
  }
  return { assignments, waiting };
}
