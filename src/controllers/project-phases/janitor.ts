/**
 * Phase "janitor" of the Project plan, when it is due (`janitorEveryMs`): tasks done long ago are
 * archived, leftover temp files deleted, and the checkpoints of sessions that are gone pruned.
 */
import { durationMs } from '../../api/duration.js';
import { emptyPhaseOutput, requeueIn, sinceText, type PhaseOutput, type ProjectPlanContext, type QueueMove } from './context.js';

export interface JanitorResult extends PhaseOutput {
  moves: QueueMove[];
  /** When the janitor last ran (ISO): now when it ran this pass, else the prior status's. */
  janitorAt?: string;
}

export function planJanitor(ctx: ProjectPlanContext, touched: ReadonlySet<string>): JanitorResult {
  const { key, root, name, nowMs, tuning } = ctx;
  const janitorSpec = ctx.project.spec.janitor;
  const priorJanitorAt = ctx.prior?.janitorAt;
  const result: JanitorResult = { ...emptyPhaseOutput(), moves: [], ...(priorJanitorAt ? { janitorAt: priorJanitorAt } : {}) };
  const observed = ctx.queue.janitor;
  if (!observed) return result;
  result.janitorAt = ctx.now.toISOString();
  const archiveAfterMs = durationMs(janitorSpec.archiveDoneAfter);
  const archivable = observed.done
    .filter((entry) => !touched.has(entry.id) && !entry.notRegular && nowMs - entry.mtimeMs >= archiveAfterMs)
    .map((entry) => ({ id: entry.id, month: new Date(entry.mtimeMs).toISOString().slice(0, 7) }));
  if (archivable.length > 0) {
    result.moves.push({ from: 'done', to: 'archive', count: archivable.length });
    result.changes.push({ key, action: 'update', resource: `done/ of ${root}`, reason: `janitor: archive ${archivable.length} task(s) done more than ${janitorSpec.archiveDoneAfter} ago`, effects: [{ type: 'queue.archive', root, tasks: archivable }] });
  }
  const oldTempFiles = observed.temp.filter((file) => nowMs - file.mtimeMs >= tuning.tempFileAgeMs).map((file) => file.path);
  if (oldTempFiles.length > 0) {
    result.changes.push({ key, action: 'delete', resource: `temp files of ${root}`, reason: `janitor: ${oldTempFiles.length} leftover temp file(s) older than ${sinceText(tuning.tempFileAgeMs)}`, effects: [{ type: 'queue.cleanupTemp', root, paths: oldTempFiles }] });
  }
  // A checkpoint belongs to its project; one of no declared project is pruned by the first project (by name).
  const pruneAfterMs = durationMs(janitorSpec.pruneCheckpointsAfter);
  const declaredProjects = new Set(ctx.input.desired.projects.map((x) => x.metadata.name));
  const firstProject = [...declaredProjects].sort()[0];
  for (const checkpoint of ctx.input.observed.checkpoints) {
    const owner = checkpoint.checkpoint?.project;
    const ours = owner === name || ((owner === undefined || !declaredProjects.has(owner)) && firstProject === name);
    if (!ours || ctx.projectSessions.includes(checkpoint.session) || nowMs - checkpoint.mtimeMs < pruneAfterMs) continue;
    result.changes.push({ key, action: 'delete', resource: `checkpoint of session ${checkpoint.session}`, reason: `janitor: the session is gone and its checkpoint is older than ${janitorSpec.pruneCheckpointsAfter}`, effects: [{ type: 'checkpoint.remove', path: checkpoint.path }] });
  }
  requeueIn(result, tuning.janitorEveryMs);
  return result;
}
