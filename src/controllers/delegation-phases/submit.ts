/**
 * Per-project phase "inbox submits" of the DelegationPolicy plan: inbox tasks the router sends to
 * this policy are moved to delegated/ with a durable record and submitted — unless the budget is
 * reached (they run locally), the API key is unavailable, the circuit is open, or
 * `maxConcurrentJobs` jobs are in flight (they wait in inbox/). Never a task the router sends local.
 */
import type { DelegationJobRecord } from '../../core/effects.js';
import { decide } from '../../core/router.js';
import type { ActiveJob, DelegationPolicyStatus } from '../delegation-policy.js';
import type { RouteLocal } from './budget.js';
import { activeJobOf, emptyPhaseOutput, taskResource, type DelegationPlanContext, type PhaseOutput } from './context.js';
import type { PolicyProject } from './records.js';

export interface InboxSubmitInput {
  /** Task ids the record phases decided on. */
  touched: ReadonlySet<string>;
  /** Jobs in flight so far (across the policy's projects). */
  inFlight: number;
  budgetExhausted: boolean;
}

export interface InboxSubmitResult extends PhaseOutput {
  active: ActiveJob[];
  waiting: NonNullable<DelegationPolicyStatus['waiting']>;
  routeLocal: RouteLocal[];
  submits: number;
  /** Jobs in flight after this project's submits. */
  inFlight: number;
}

/** The record of a new attempt: the previous attempt (of this policy) goes to its history (last 20). */
export function nextAttemptRecord(ctx: DelegationPlanContext, project: string, taskId: string, provider: string, previous: DelegationJobRecord | undefined): DelegationJobRecord {
  return {
    version: 1, taskId, project, policy: ctx.name, provider, attempt: (previous?.attempt ?? 0) + 1, state: 'pending', createdAt: ctx.nowIso,
    ...(previous ? { history: [...(previous.history ?? []), { attempt: previous.attempt, state: previous.state, ...(previous.jobId ? { jobId: previous.jobId } : {}), ...(previous.cost !== undefined ? { cost: previous.cost } : {}), ...(previous.currency ? { currency: previous.currency } : {}), ...(previous.finishedAt ? { finishedAt: previous.finishedAt } : {}) }].slice(-20) } : {}),
  };
}

export function planInboxSubmits(ctx: DelegationPlanContext, project: PolicyProject, before: InboxSubmitInput): InboxSubmitResult {
  const { key, name, spec, observed } = ctx;
  const { root } = project.observed;
  const result: InboxSubmitResult = { ...emptyPhaseOutput(), active: [], waiting: [], routeLocal: [], submits: 0, inFlight: before.inFlight };
  const recordByTask = new Map(project.observed.records.map((r) => [r.taskId, r]));
  for (const task of project.observed.ready) {
    if (before.touched.has(task.id)) continue;
    const route = decide(task, { name: project.name, delegationPolicy: name }, ctx.routerPolicy);
    const record = recordByTask.get(task.id);
    if (route.route !== 'delegate') {
      // Never touch a local task. A pending record left by a cut-short delegation is dropped (nothing was submitted).
      if (record && record.policy === name && record.state === 'pending') {
        result.changes.push({ key, action: 'delete', resource: `job record of task "${task.id}"`, reason: `the task now runs locally (${route.rule}); its pending record (never submitted) is removed`, effects: [{ type: 'delegation.removeRecords', root, taskIds: [task.id] }] });
      }
      continue;
    }
    const provider = route.provider as string;
    const ours = record && record.policy === name ? record : undefined;
    const resume = ours !== undefined && ours.state === 'pending';
    if (before.budgetExhausted && !resume) {
      result.routeLocal.push({ project: project.name, root, task });
      continue;
    }
    const waitReason = observed.keyProblem ? `API key unavailable: ${observed.keyProblem}`
      : ctx.circuitBusy ? `circuit open: ${observed.circuit.lastError ?? 'the job API is failing'}`
        : !resume && result.inFlight >= spec.maxConcurrentJobs ? `maxConcurrentJobs ${spec.maxConcurrentJobs} reached`
          : undefined;
    if (waitReason !== undefined) {
      result.waiting.push({ taskId: task.id, project: project.name, provider, reason: waitReason });
      continue;
    }
    const submitted = resume ? ours : nextAttemptRecord(ctx, project.name, task.id, provider, ours);
    if (!resume) result.inFlight += 1;
    result.submits += 1;
    result.active.push(activeJobOf(submitted, project.name));
    result.changes.push({ key, action: 'update', resource: taskResource(task.id, project.name), reason: `${resume ? 'resume an interrupted delegation' : 'delegate'} to ${provider} (${route.rule}: ${route.reason}); attempt ${submitted.attempt}`, effects: [{ type: 'delegation.submit', policy: name, root, taskId: task.id, from: 'inbox', record: submitted }] });
  }
  return result;
}
