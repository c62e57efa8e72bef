/**
 * Stuck tasks: a dispatched task whose session has shown no activity (no hook event, no status
 * line) for `Project.spec.alerts.stuckTaskAfter` (default 20 min) becomes one `TaskStuck` event
 * per stuck spell, long before `janitor.staleDispatchAfter` (2 h) requeues it. Pure; it reads the
 * leases and the sessions' activity the Project controller already has and changes neither (the
 * lease protocol, src/controllers/project-decide.ts, decides what happens to the task).
 */
import type { PlannedEvent } from '../core/controller.js';
import type { LeaseRecord } from '../core/task.js';
import type { SessionView } from './project-decide.js';

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
  view(session: string): SessionView | undefined;
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
export function stuckTasks(i: StuckTasksInput): StuckTasksResult {
  const events: PlannedEvent[] = [];
  const stuck: Record<string, string> = {};
  let recheckInMs: number | undefined;
  for (const rec of i.leases) {
    const lease = rec.lease;
    if (!lease || !i.dispatched.has(rec.taskId) || i.touched.has(rec.taskId)) continue;
    const s = i.view(lease.session);
    // Waiting on quota is not stuck: the failover (or the reset) moves it on, and says so.
    if (s?.activity === 'rateLimited') continue;
    const claimed = Date.parse(lease.claimedAt);
    const delivered = lease.deliveredAt !== undefined ? Date.parse(lease.deliveredAt) : Number.NaN;
    const last = Math.max(...[claimed, delivered, s?.lastHeartbeatMs ?? 0, s?.sinceMs ?? 0].filter(Number.isFinite));
    const idle = i.nowMs - last;
    if (idle < i.afterMs) {
      const due = i.afterMs - idle;
      recheckInMs = Math.min(recheckInMs ?? Infinity, due);
      continue;
    }
    const spell = new Date(last).toISOString();
    stuck[rec.taskId] = spell;
    if (i.reported?.[rec.taskId] === spell) continue;
    const doing = !s ? 'is not a declared session' : !s.alive ? 'is not running' : `is ${s.activity ?? 'in an unknown state'}`;
    events.push({
      key: i.key,
      type: 'Warning',
      reason: 'TaskStuck',
      message: `task ${rec.taskId} on session ${lease.session}: no activity for ${dur(idle)} (dispatched ${dur(i.nowMs - claimed)} ago, attempt ${lease.attempt}; the session ${doing}); it is requeued after ${dur(i.staleMs)} without activity (staleDispatchAfter)`,
      data: { taskId: rec.taskId, session: lease.session, attempt: lease.attempt, idleMs: idle, lastActivity: spell, ...(s?.activity ? { activity: s.activity } : {}) },
    });
  }
  return { events, stuck, ...(recheckInMs !== undefined ? { recheckInMs } : {}) };
}
