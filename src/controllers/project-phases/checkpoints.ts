/**
 * Phase "checkpoints" of the Project plan: each session of the project gets the checkpoint it
 * should have now (src/controllers/project-checkpoint.ts), written only when it changed.
 */
import type { LeaseRecord } from '../../core/task.js';
import { checkpointPath, nextCheckpoint } from '../project-checkpoint.js';
import { dispatchedPath, emptyPhaseOutput, launchedCwd, type PhaseOutput, type ProjectPlanContext } from './context.js';
import { dispatchedIds } from './leases.js';
import { sessionStatus } from '../../core/status.js';

export function planCheckpoints(ctx: ProjectPlanContext, touched: ReadonlySet<string>): PhaseOutput {
  const { key, root, name, input } = ctx;
  const result = emptyPhaseOutput();
  const inDispatched = dispatchedIds(ctx);
  const leaseBySession = new Map<string, LeaseRecord['lease']>();
  for (const record of ctx.queue.leases) if (record.lease && inDispatched.has(record.taskId)) leaseBySession.set(record.lease.session, record.lease);
  for (const sessionName of ctx.projectSessions) {
    const manifest = input.desired.sessions.find((x) => x.metadata.name === sessionName);
    if (!manifest) continue;
    const view = ctx.view(sessionName);
    const current = input.observed.checkpoints.find((c) => c.session === sessionName);
    const lease = leaseBySession.get(sessionName);
    const held = lease && !touched.has(lease.taskId)
      ? { id: lease.taskId, attempt: lease.attempt, queueRoot: root, path: dispatchedPath(root, lease.taskId), claimedAt: lease.claimedAt, ...(lease.deliveredAt ? { deliveredAt: lease.deliveredAt } : {}) }
      : undefined;
    const toolCall = input.observed.toolCalls[sessionName];
    const next = nextCheckpoint(current?.checkpoint, {
      session: sessionName, project: name, cwd: launchedCwd(sessionStatus(input.prior, sessionName)) ?? manifest.spec.workdir ?? ctx.project.spec.path,
      ...(view.account ? { account: view.account } : {}),
      ...(view.conversationId ? { conversationId: view.conversationId } : {}),
      ...(view.activity ? { activity: view.activity } : {}),
      ...(held ? { held } : {}),
      ...(toolCall ? { lastToolCall: toolCall } : {}),
    }, ctx.now);
    if (next !== current?.checkpoint) {
      result.changes.push({ key, action: current ? 'update' : 'create', resource: `checkpoint of session ${sessionName}`, reason: current ? 'session state changed' : 'first checkpoint', effects: [{ type: 'fs.writeJson', path: checkpointPath(ctx.stateDir, sessionName), value: next, mode: 0o600 }] });
    }
  }
  return result;
}
