/**
 * Phase "queue layout" of the Project plan: the queue directories exist and can be read. When they
 * cannot (a read error, directories missing, no queue yet) the pass ends here with a final status.
 */
import type { Condition } from '../../core/conditions.js';
import { emptyCounts, type QueueStatus } from '../../core/task.js';
import type { ProjectStatus } from '../project.js';
import { baseProjectStatus, emptyPhaseOutput, publishedFingerprint, requeueIn, withCondition, type PhaseOutput, type ProjectPlanContext } from './context.js';

export interface QueueLayoutResult extends PhaseOutput {
  /** The conditions so far (QueueReady set). */
  conditions: Condition[];
  /** Set when the pass ends with this phase: the Project's status. */
  finalStatus?: ProjectStatus;
}

export function planQueueLayout(ctx: ProjectPlanContext, priorConditions: Condition[]): QueueLayoutResult {
  const { key, root, queue } = ctx;
  const phase = emptyPhaseOutput();
  let conditions = priorConditions;
  if (queue.error) {
    conditions = withCondition(ctx, conditions, 'QueueReady', 'False', 'QueueError', queue.error);
    conditions = withCondition(ctx, conditions, 'Ready', 'False', 'QueueError', `cannot read the task queue ${root}: ${queue.error}`);
    phase.notes.push({ key, level: 'warning', message: `cannot read the task queue ${root}: ${queue.error}` });
    requeueIn(phase, 5_000);
    return { ...phase, conditions, finalStatus: baseProjectStatus(ctx, conditions) };
  }
  if (queue.missingDirs) {
    // inbox/ is there but not the rest (a queue made by hand, or by an older tool): claims need leases/.
    phase.changes.push({ key, action: 'update', resource: `task queue ${root}`, reason: `${queue.missingDirs.join(', ')} missing beside inbox/`, effects: [{ type: 'queue.ensureDirs', root }] });
    conditions = withCondition(ctx, conditions, 'QueueReady', 'False', 'QueueIncomplete', `${queue.missingDirs.join(', ')} under ${root} are created on apply`);
    conditions = withCondition(ctx, conditions, 'Ready', 'False', 'QueueIncomplete', 'the task queue lacks some of its directories');
    requeueIn(phase, 0);
    return { ...phase, conditions, finalStatus: baseProjectStatus(ctx, conditions) };
  }
  if (!queue.exists) {
    const status: QueueStatus = { version: 1, project: ctx.name, updatedAt: ctx.now.toISOString(), counts: { ...emptyCounts(), settling: 0 }, sessions: {} };
    phase.changes.push({
      key, action: 'create', resource: `task queue ${root}`, reason: 'declared in the manifests; the queue directories do not exist yet',
      effects: [{ type: 'queue.ensureDirs', root }, { type: 'queue.writeStatus', root, status }],
    });
    conditions = withCondition(ctx, conditions, 'QueueReady', 'False', 'QueueMissing', `the queue directories under ${root} are created on apply`);
    conditions = withCondition(ctx, conditions, 'Ready', 'False', 'QueueMissing', 'the task queue does not exist yet');
    requeueIn(phase, 0);
    return { ...phase, conditions, finalStatus: { ...baseProjectStatus(ctx, conditions), published: publishedFingerprint(status) } };
  }
  conditions = withCondition(ctx, conditions, 'QueueReady', 'True', 'QueueAvailable', `task queue at ${root}`);
  return { ...phase, conditions };
}
