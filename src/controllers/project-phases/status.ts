/**
 * Phase "status" of the Project plan: the Project's status (counts, sessions, conditions) and the
 * queue's `status.json`, written when what it says (not its time) changed.
 */
import { posix } from 'node:path';
import type { Condition } from '../../core/conditions.js';
import type { QueueCounts, QueueStatus } from '../../core/task.js';
import { delegatedSessionsView } from '../delegation-policy.js';
import type { ProjectStatus } from '../project.js';
import type { AwaitingDelegation } from './dispatch.js';
import { baseProjectStatus, emptyPhaseOutput, publishedFingerprint, requeueIn, withCondition, type BusySession, type PhaseOutput, type ProjectPlanContext } from './context.js';
import { delegationPolicyStatus } from '../../core/status.js';

/** What the earlier phases decided that the status reports. */
export interface ProjectStatusFacts {
  /** The conditions so far (QueueReady set by the layout phase). */
  conditions: Condition[];
  /** The queue counts after every move planned this pass. */
  counts: QueueCounts;
  /** Sessions holding a task after this pass. */
  busy: ReadonlyMap<string, BusySession>;
  recovering: boolean;
  paused?: string;
  allExhausted: boolean;
  awaitingDelegation: AwaitingDelegation[];
  waiting: { taskId: string; reason: string }[];
  holds: Record<string, string>;
  stuck: Record<string, string> | undefined;
  janitorAt?: string;
}

export interface ProjectStatusResult extends PhaseOutput {
  status: ProjectStatus;
}

/** The Ready condition: why tasks cannot move, else Dispatching or Idle. */
export function readyCondition(ctx: ProjectPlanContext, facts: ProjectStatusFacts, busyCount: number): Condition[] {
  const { counts, conditions } = facts;
  const sessionCount = ctx.projectSessions.length;
  if (facts.paused && facts.allExhausted) return withCondition(ctx, conditions, 'Ready', 'False', 'AllAccountsExhausted', 'dispatch paused: every account is out of quota');
  if (facts.recovering) return withCondition(ctx, conditions, 'Ready', 'False', 'Recovering', 'recovering interrupted queue operations');
  if (sessionCount === 0 && counts.inbox > 0) return withCondition(ctx, conditions, 'Ready', 'False', 'NoSessions', `${counts.inbox} task(s) wait and the project has no sessions`);
  const work = counts.inbox + counts.dispatched;
  return withCondition(ctx, conditions, 'Ready', 'True', work > 0 ? 'Dispatching' : 'Idle', `${counts.inbox} in inbox, ${counts.dispatched} dispatched, ${busyCount}/${sessionCount} session(s) busy`);
}

export function planProjectStatus(ctx: ProjectPlanContext, facts: ProjectStatusFacts): ProjectStatusResult {
  const { key, root, name, tuning } = ctx;
  const phase = emptyPhaseOutput();
  const sessions: ProjectStatus['sessions'] = {};
  let busyCount = 0;
  for (const sessionName of ctx.projectSessions) {
    const held = facts.busy.get(sessionName);
    if (held) {
      busyCount += 1;
      sessions[sessionName] = { state: 'working', task: held.task, since: held.since };
    } else {
      sessions[sessionName] = { state: 'idle' };
    }
  }
  const counts = { ...facts.counts, settling: ctx.queue.scan.settling.length };
  const policyName = ctx.project.spec.delegationPolicy;
  const policyStatus = tuning.goStatusDelegated && policyName ? delegationPolicyStatus(ctx.input.prior, policyName) : undefined;
  const { awaitingDelegation, waiting, holds, stuck, paused, janitorAt } = facts;
  const statusFile: QueueStatus = {
    version: 1, project: name, updatedAt: ctx.now.toISOString(), counts,
    sessions: tuning.goStatusDelegated ? { ...sessions, ...delegatedSessionsView(policyStatus, name).sessions } : sessions,
    ...(awaitingDelegation.length > 0 ? { delegated: awaitingDelegation.map((a) => ({ taskId: a.taskId, ...(a.provider ? { provider: a.provider } : {}) })) } : {}),
  };
  const fingerprint = publishedFingerprint(statusFile);
  if (fingerprint !== ctx.prior?.published) {
    phase.changes.push({ key, action: 'update', resource: `${posix.join(root, 'status.json')}`, reason: 'queue counts or session states changed', effects: [{ type: 'queue.writeStatus', root, status: statusFile }] });
  }
  const conditions = readyCondition(ctx, facts, busyCount);
  const status: ProjectStatus = {
    ...baseProjectStatus(ctx, conditions),
    conditions,
    counts: { ...counts },
    sessions,
    busy: busyCount,
    idle: ctx.projectSessions.length - busyCount,
    published: fingerprint,
    ...(janitorAt ? { janitorAt } : {}),
    ...(paused ? { dispatchPaused: paused } : {}),
    ...(awaitingDelegation.length > 0 ? { awaitingDelegation: awaitingDelegation.slice(0, 50) } : {}),
    ...(waiting.length > 0 ? { waiting: waiting.slice(0, 50) } : {}),
    ...(Object.keys(holds).length > 0 ? { holds } : {}),
    ...(stuck && Object.keys(stuck).length > 0 ? { stuck } : {}),
  };
  if (facts.busy.size > 0) requeueIn(phase, 30_000);
  return { ...phase, status };
}
