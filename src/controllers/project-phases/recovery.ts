/**
 * Phases "recovery" and "inbox triage" of the Project plan: interrupted queue operations are
 * finished or undone (first pass, odd records, janitor), then malformed inbox files go to failed/
 * and id conflicts are renamed.
 */
import { planRecovery, type RecoveryAction } from '../../core/task.js';
import { emptyPhaseOutput, taskChange, type PhaseOutput, type ProjectPlanContext, type QueueMove } from './context.js';

export interface QueueRecoveryResult extends PhaseOutput {
  /** Task ids recovered: later phases leave them alone this pass. */
  touched: string[];
  moves: QueueMove[];
  /** Some recovery is planned (dispatch pauses for this pass). */
  recovering: boolean;
}

/** Recovery of interrupted queue operations: one change per task id, its actions in order. */
export function planQueueRecovery(ctx: ProjectPlanContext): QueueRecoveryResult {
  const result: QueueRecoveryResult = { ...emptyPhaseOutput(), touched: [], moves: [], recovering: false };
  const recovery = ctx.queue.recovery;
  if (!recovery) return result;
  const recoveryPlan = planRecovery(recovery.snapshot, ctx.nowMs, recovery.graceMs);
  const actionsByTask = new Map<string, RecoveryAction[]>();
  for (const action of recoveryPlan.actions) actionsByTask.set(action.taskId, [...(actionsByTask.get(action.taskId) ?? []), action]);
  for (const [id, actions] of actionsByTask) {
    result.touched.push(id);
    result.recovering = true;
    for (const action of actions) {
      if (action.type === 'requeueUnleased') result.moves.push({ from: 'dispatched', to: 'inbox', count: 1 });
      else if (action.type === 'rollForward') result.moves.push({ from: action.intent.from, to: action.intent.to, count: 1 });
    }
    result.changes.push({
      key: ctx.key, action: 'update', resource: `task "${id}" (recovery)`,
      reason: actions.map((a) => `${a.type}: ${a.reason}`).join('; '),
      effects: [{ type: 'queue.recover', root: ctx.root, actions }],
    });
  }
  for (const anomaly of recoveryPlan.anomalies) result.notes.push({ key: ctx.key, level: 'warning', message: `task ${anomaly.taskId}: ${anomaly.message}` });
  return result;
}

export interface InboxTriageResult extends PhaseOutput {
  touched: string[];
  moves: QueueMove[];
}

/** Malformed inbox files → failed/; inbox files whose id exists elsewhere → renamed to a -dup- id. */
export function planInboxTriage(ctx: ProjectPlanContext, touchedBefore: ReadonlySet<string>): InboxTriageResult {
  const { key, root, name } = ctx;
  const result: InboxTriageResult = { ...emptyPhaseOutput(), touched: [], moves: [] };
  const touched = new Set(touchedBefore);
  for (const malformed of ctx.queue.scan.malformed) {
    const id = malformed.entry.id;
    if (touched.has(id)) continue;
    touched.add(id);
    result.touched.push(id);
    result.moves.push({ from: 'inbox', to: 'failed', count: 1 });
    result.changes.push(taskChange(ctx, id, `malformed: ${malformed.error.reason}`, [{ type: 'queue.fail', root, taskId: id, from: 'inbox', reason: malformed.error.reason }]));
    result.events.push({ key, type: 'Warning', reason: 'TaskFailed', message: `task ${id} is malformed and was moved to failed/: ${malformed.error.reason}`, data: { taskId: id, project: name } });
  }
  for (const conflict of ctx.queue.scan.conflicts) {
    const id = conflict.entry.id;
    if (touched.has(id)) continue;
    touched.add(id);
    result.touched.push(id);
    result.changes.push(taskChange(ctx, id, `its id already exists in ${conflict.existingIn.join(', ')}; renaming the inbox file to a -dup- id`, [{ type: 'queue.resolveConflict', root, taskId: id }]));
  }
  return result;
}
