/**
 * Stuck tasks: a dispatched task whose session has shown no activity (no hook event, no status
 * line) for `Project.spec.alerts.stuckTaskAfter` (default 20 min) becomes one `TaskStuck` event
 * per stuck spell, long before `janitor.staleDispatchAfter` (2 h) requeues it. Pure; it reads the
 * leases and the sessions' activity the Project controller already has and changes neither (the
 * lease protocol, src/controllers/project-decide.ts, decides what happens to the task).
 */
import type { PlannedEvent } from '../core/controller.js';
import type { LeaseRecord } from '../core/task.js';
import type { DispatchView } from './project-decide.js';

export interface StuckTasksInput {
  key: string;
  nowMs: number;
  afterMs: number;
  /** `janitor.staleDispatchAfter`, for the message. */
  staleMs: number;
  leases: readonly LeaseRecord[];
  /** Ids in dispatched/. */
  dispatched: ReadonlySet<string>;
  /** Tasks this pass already completes, requeues or recovers. */
  touched: ReadonlySet<string>;
  view(session: string): DispatchView | undefined;
  /** Task id → the last activity (ISO) of the spell already reported (Project status `stuck`). */
  reported: Readonly<Record<string, string>> | undefined;
}

export interface StuckTasksResult {
  events: PlannedEvent[];
  /** The new `stuck` of the Project status: the spells reported so far, of tasks still stuck. */
  stuck: Record<string, string>;
  /** When the next task would become stuck (ms from now), if any is on its way. */
  recheckInMs?: number;
}

export function dur(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60) > 0 ? `${Math.round((s % 3600) / 60)}m` : ''}`;
}

/** The dispatched tasks that became stuck: one event each per spell without activity. */
export function stuckTasks(input: StuckTasksInput): StuckTasksResult {
  const events: PlannedEvent[] = [];
  const stuck: Record<string, string> = {};
  let recheckInMs: number | undefined;
  for (const record of input.leases) {
    const lease = record.lease;
    if (!lease || !input.dispatched.has(record.taskId) || input.touched.has(record.taskId)) continue;
    const session = input.view(lease.session);
    // Waiting on quota is not stuck: the failover (or the reset) moves it on, and says so.
    if (session?.activity === 'rateLimited') continue;
    const claimedMs = Date.parse(lease.claimedAt);
    const deliveredMs = lease.deliveredAt !== undefined ? Date.parse(lease.deliveredAt) : Number.NaN;
    const lastActivity = Math.max(...[claimedMs, deliveredMs, session?.lastHeartbeatMs ?? 0, session?.sinceMs ?? 0].filter(Number.isFinite));
    const idleMs = input.nowMs - lastActivity;
    if (idleMs < input.afterMs) {
      recheckInMs = Math.min(recheckInMs ?? Infinity, input.afterMs - idleMs);
      continue;
    }
    const spell = new Date(lastActivity).toISOString();
    stuck[record.taskId] = spell;
    if (input.reported?.[record.taskId] === spell) continue;
    const doing = !session ? 'is not a declared session' : !session.alive ? 'is not running' : `is ${session.activity ?? 'in an unknown state'}`;
    events.push({
      key: input.key,
      type: 'Warning',
      reason: 'TaskStuck',
      message: `task ${record.taskId} on session ${lease.session}: no activity for ${dur(idleMs)} (dispatched ${dur(input.nowMs - claimedMs)} ago, attempt ${lease.attempt}; the session ${doing}); it is requeued after ${dur(input.staleMs)} without activity (staleDispatchAfter)`,
      data: { taskId: record.taskId, session: lease.session, attempt: lease.attempt, idleMs, lastActivity: spell, ...(session?.activity ? { activity: session.activity } : {}) },
    });
  }
  return { events, stuck, ...(recheckInMs !== undefined ? { recheckInMs } : {}) };
}
