/**
 * Per-project phases of the DelegationPolicy plan that follow the job records:
 * - "queue check": the project's queue can be read (else the project is skipped this pass);
 * - "job records": crash recovery (a terminal record whose task is still in delegated/ is
 *   finished again; a pending one is submitted again with the same Idempotency-Key), polling
 *   (a finished job → done/ or failed/; jobTimeout → failed/ or back to inbox/), record retention;
 * - "unrecorded delegated": tasks in delegated/ without a record are submitted.
 */
import type { DelegationJobRecord, Effect } from '../../core/effects.js';
import { formatDelegatedFooter } from '../../core/task.js';
import type { ActiveJob, DelegationJobView, DelegationProjectObserved } from '../delegation-policy.js';
import { activeJobOf, emptyPhaseOutput, msOf, requeueIn, taskResource, TERMINAL_STATES, type DelegationPlanContext, type PhaseOutput } from './context.js';

/** One project of the policy, as the per-project phases see it. */
export interface PolicyProject {
  name: string;
  observed: DelegationProjectObserved;
}

export interface QueueCheckResult extends PhaseOutput {
  /** The queue can be read: the other per-project phases run. */
  usable: boolean;
}

/** A queue that cannot be read or does not exist yet is skipped; unreadable records are reported. */
export function planProjectQueueCheck(ctx: DelegationPlanContext, project: PolicyProject): QueueCheckResult {
  const { key } = ctx;
  const { name, observed } = project;
  const phase = emptyPhaseOutput();
  if (observed.error) {
    phase.notes.push({ key, level: 'warning', message: `project ${name}: cannot read the task queue ${observed.root}: ${observed.error}` });
    requeueIn(phase, 5_000);
    return { ...phase, usable: false };
  }
  if (!observed.exists) {
    phase.notes.push({ key, level: 'info', message: `project ${name}: the task queue ${observed.root} does not exist yet (the Project controller creates it)` });
    requeueIn(phase, 1_000);
    return { ...phase, usable: false };
  }
  for (const bad of observed.badRecords) phase.notes.push({ key, level: 'warning', message: `project ${name}: unreadable job record of task ${bad.taskId}: ${bad.error}` });
  return { ...phase, usable: true };
}

export interface JobRecordsResult extends PhaseOutput {
  /** Task ids decided on here: the later phases leave them alone. */
  touched: string[];
  /** Jobs in flight (pending or submitted), in record order. */
  active: ActiveJob[];
  /** Submits planned (a quick check back follows). */
  submits: number;
  /** A submitted job is still running: it is polled again. */
  polling: boolean;
}

/** The text appended to a task whose job succeeded: the result, then the delegated footer. */
export function resultText(taskId: string, job: DelegationJobView, record: DelegationJobRecord, finishedAt: number, maxChars: number): string {
  const raw = (job.result ?? '').replace(/\r\n?/g, '\n');
  const result = raw.length > maxChars ? `${raw.slice(0, maxChars)}\n\n… (result cut at ${maxChars} characters)` : raw;
  // The job's own times (one clock: the API's) when reported; else when we submitted it.
  const apiStart = msOf(job.startedAt) ?? msOf(job.createdAt);
  const startedAt = apiStart !== undefined && apiStart <= finishedAt ? apiStart : Math.min(msOf(record.submittedAt) ?? msOf(record.createdAt) ?? finishedAt, finishedAt);
  const footer = formatDelegatedFooter({
    taskId,
    provider: job.provider ?? record.provider,
    jobId: job.id,
    ...(job.cost !== undefined ? { cost: job.cost } : {}),
    ...(job.currency !== undefined ? { currency: job.currency } : {}),
    startedAt,
    finishedAt,
    attempts: record.attempt,
  });
  const section = `\n## Result (${(job.provider ?? record.provider).replace(/\s+/g, ' ')}, job ${job.id.replace(/\s+/g, ' ')})\n\n${result.trimEnd() || '(empty result)'}\n`;
  return section + footer;
}

/** The finishing move a terminal record calls for (crash recovery). */
export function finishFromRecord(record: DelegationJobRecord): { to: 'done' | 'failed' | 'inbox'; text: string; set?: Record<string, unknown> } {
  if (record.state === 'returned') return { to: 'inbox', text: '', set: { allow_delegation: false, last_error: (record.error ?? 'delegation ended; running locally').slice(0, 500) } };
  if (record.state === 'failed') return { to: 'failed', text: record.error ?? `delegated job ${record.jobId ?? '?'} failed` };
  // succeeded, and the job can no longer be read: the footer alone (the API still has the result).
  const finishedAt = msOf(record.finishedAt) ?? msOf(record.createdAt) ?? 0;
  return {
    to: 'done',
    text: formatDelegatedFooter({ taskId: record.taskId, provider: record.provider, jobId: record.jobId ?? '?', ...(record.cost !== undefined ? { cost: record.cost } : {}), ...(record.currency ? { currency: record.currency } : {}), startedAt: msOf(record.submittedAt) ?? finishedAt, finishedAt, attempts: record.attempt }),
  };
}

/** Where one record is: its task's directory, by the project's listings. */
interface RecordPlace {
  project: PolicyProject;
  inDelegated: boolean;
  inInbox: boolean;
}

export function planJobRecords(ctx: DelegationPlanContext, project: PolicyProject): JobRecordsResult {
  const result: JobRecordsResult = { ...emptyPhaseOutput(), touched: [], active: [], submits: 0, polling: false };
  const inDelegated = new Set(project.observed.delegated.map((d) => d.id));
  const inInbox = new Set(project.observed.inboxIds);
  for (const record of project.observed.records) {
    const place: RecordPlace = { project, inDelegated: inDelegated.has(record.taskId), inInbox: inInbox.has(record.taskId) };
    if (record.policy !== ctx.name) {
      if (place.inDelegated && !TERMINAL_STATES.has(record.state)) result.notes.push({ key: ctx.key, level: 'warning', message: `task ${record.taskId} of project ${project.name} was delegated under policy ${record.policy}; it is left to that policy` });
      continue;
    }
    if (TERMINAL_STATES.has(record.state)) terminalRecord(ctx, record, place, result);
    else if (record.state === 'pending') pendingRecord(ctx, record, place, result);
    else submittedRecord(ctx, record, place, result);
  }
  return result;
}

function recordChange(ctx: DelegationPlanContext, result: PhaseOutput, resource: string, reason: string, effects: Effect[], action: 'update' | 'delete' = 'update'): void {
  result.changes.push({ key: ctx.key, action, resource, reason, effects });
}

/** Succeeded, failed or returned: finish a move a crash cut short, else prune the record once old. */
function terminalRecord(ctx: DelegationPlanContext, record: DelegationJobRecord, place: RecordPlace, result: JobRecordsResult): void {
  const id = record.taskId;
  const { root, polls } = place.project.observed;
  if (place.inDelegated) {
    // Crash between the terminal record and the move: finish again (idempotent).
    result.touched.push(id);
    const poll = polls[id];
    const finish = record.state === 'succeeded' && poll && !('pollError' in poll) && poll.status === 'succeeded'
      ? { to: 'done' as const, text: resultText(id, poll, record, msOf(record.finishedAt) ?? ctx.nowMs, ctx.tuning.resultMaxChars) }
      : finishFromRecord(record);
    recordChange(ctx, result, taskResource(id, place.project.name), `recovery: job ${record.jobId ?? '(none)'} is ${record.state}; finishing the interrupted move to ${finish.to}/`, [{ type: 'delegation.finish', policy: ctx.name, root, taskId: id, to: finish.to, text: finish.text, ...(finish.set ? { set: finish.set } : {}), record }]);
    return;
  }
  const finishedMs = msOf(record.finishedAt) ?? msOf(record.createdAt) ?? ctx.nowMs;
  if (ctx.nowMs - finishedMs >= ctx.tuning.recordRetentionMs && !place.inInbox) {
    recordChange(ctx, result, `job record of task "${id}"`, `terminal for more than ${Math.round(ctx.tuning.recordRetentionMs / 86_400_000)}d; pruned`, [{ type: 'delegation.removeRecords', root, taskIds: [id] }], 'delete');
  }
}

/** Never submitted (or its job id never recorded): submit again, or drop the record of a task gone. */
function pendingRecord(ctx: DelegationPlanContext, record: DelegationJobRecord, place: RecordPlace, result: JobRecordsResult): void {
  const id = record.taskId;
  const { root } = place.project.observed;
  if (place.inDelegated) {
    result.touched.push(id);
    result.active.push(activeJobOf(record, place.project.name));
    if (ctx.observed.keyProblem || ctx.circuitBusy) {
      result.notes.push({ key: ctx.key, level: 'info', message: `task ${id}: submit pending (${ctx.observed.keyProblem ? 'API key unavailable' : 'circuit open'}); it stays in delegated/` });
      return;
    }
    result.submits += 1;
    recordChange(ctx, result, taskResource(id, place.project.name), `submit again with the same Idempotency-Key (attempt ${record.attempt}${record.submitFailures ? `, ${record.submitFailures} failed submit(s)` : ''}): the job id was never recorded`, [{ type: 'delegation.submit', policy: ctx.name, root, taskId: id, from: 'delegated', record }]);
    return;
  }
  if (place.inInbox) return; // the inbox phase continues it (or drops the record)
  result.touched.push(id);
  recordChange(ctx, result, `job record of task "${id}"`, 'pending record of a task that is no longer in inbox/ or delegated/ (never submitted); removed', [{ type: 'delegation.removeRecords', root, taskIds: [id] }], 'delete');
}

/** Submitted: a finished job is reaped, an overdue one timed out, a running one polled again. */
function submittedRecord(ctx: DelegationPlanContext, record: DelegationJobRecord, place: RecordPlace, result: JobRecordsResult): void {
  const id = record.taskId;
  const { root, polls } = place.project.observed;
  result.touched.push(id);
  if (!place.inDelegated) {
    const failed: DelegationJobRecord = { ...record, state: 'failed', finishedAt: ctx.nowIso, error: `task left delegated/ outside the controller while job ${record.jobId ?? '?'} was ${record.jobStatus ?? 'submitted'}` };
    recordChange(ctx, result, `job record of task "${id}"`, failed.error as string, [{ type: 'delegation.writeRecord', root, record: failed }]);
    return;
  }
  const poll = polls[id];
  if (poll && !('pollError' in poll) && (poll.status === 'succeeded' || poll.status === 'failed')) {
    finishedJob(ctx, record, place, poll, result);
    return;
  }
  const jobStatus = poll && !('pollError' in poll) ? poll.status : record.jobStatus;
  const submittedMs = msOf(record.submittedAt) ?? msOf(record.createdAt) ?? ctx.nowMs;
  if (ctx.nowMs - submittedMs >= ctx.jobTimeoutMs && !ctx.circuitOpen && poll && !('pollError' in poll)) {
    timedOutJob(ctx, record, place, jobStatus, result);
    return;
  }
  result.active.push({ ...activeJobOf(record, place.project.name), ...(jobStatus ? { jobStatus } : {}) });
  result.polling = true;
  if (poll && 'pollError' in poll) result.notes.push({ key: ctx.key, level: 'info', message: `task ${id}: job ${record.jobId} could not be polled (${poll.pollError}); polled again later` });
  else if (poll && poll.status !== record.jobStatus) {
    recordChange(ctx, result, `job record of task "${id}"`, `job ${record.jobId} is ${poll.status}`, [{ type: 'delegation.writeRecord', root, record: { ...record, jobStatus: poll.status } }]);
  }
}

/** The job succeeded (result → done/) or failed (→ failed/). */
function finishedJob(ctx: DelegationPlanContext, record: DelegationJobRecord, place: RecordPlace, job: DelegationJobView, result: JobRecordsResult): void {
  const id = record.taskId;
  const project = place.project.name;
  const root = place.project.observed.root;
  const provider = job.provider ?? record.provider;
  const finishedAt = msOf(job.finishedAt) ?? ctx.nowMs;
  const finished: DelegationJobRecord = { ...record, jobStatus: job.status, finishedAt: new Date(finishedAt).toISOString(), ...(job.cost !== undefined ? { cost: job.cost } : {}), ...(job.currency ? { currency: job.currency } : {}) };
  if (job.status === 'succeeded') {
    const text = resultText(id, job, record, finishedAt, ctx.tuning.resultMaxChars);
    recordChange(ctx, result, taskResource(id, project), `job ${job.id} succeeded on ${provider}${job.cost !== undefined ? ` (cost ${job.cost})` : ''}; result → done/`, [{ type: 'delegation.finish', policy: ctx.name, root, taskId: id, to: 'done', text, record: { ...finished, state: 'succeeded' } }]);
    result.events.push({ key: ctx.key, type: 'Normal', reason: 'DelegatedTaskSucceeded', message: `task ${id} of project ${project} done by ${provider} (job ${job.id})`, data: { taskId: id, project, provider, jobId: job.id, ...(job.cost !== undefined ? { cost: job.cost } : {}) } });
    return;
  }
  const reason = `delegated job ${job.id} (${provider}) failed: ${job.error ?? 'no error given'}`;
  recordChange(ctx, result, taskResource(id, project), `${reason}; → failed/`, [{ type: 'delegation.finish', policy: ctx.name, root, taskId: id, to: 'failed', text: reason, record: { ...finished, state: 'failed', error: reason } }]);
  result.events.push({ key: ctx.key, type: 'Warning', reason: 'TaskFailed', message: `task ${id} of project ${project}: ${reason}`, data: { taskId: id, project, provider: record.provider, jobId: job.id } });
}

/** Not finished within jobTimeout: cancelled, and back to inbox/ (fallbackToLocal) or failed/. */
function timedOutJob(ctx: DelegationPlanContext, record: DelegationJobRecord, place: RecordPlace, jobStatus: string | undefined, result: JobRecordsResult): void {
  const id = record.taskId;
  const project = place.project.name;
  const root = place.project.observed.root;
  const why = `delegated job ${record.jobId} (${record.provider}) did not finish within jobTimeout ${ctx.spec.jobTimeout} (still ${jobStatus ?? 'unknown'})`;
  if (ctx.spec.fallbackToLocal) {
    const set = { allow_delegation: false, last_error: `${why}; running locally`.slice(0, 500) };
    recordChange(ctx, result, taskResource(id, project), `${why}; fallbackToLocal → back to inbox/ for a local session (job cancelled)`, [{ type: 'delegation.finish', policy: ctx.name, root, taskId: id, to: 'inbox', text: '', set, cancelJob: true, record: { ...record, state: 'returned', finishedAt: ctx.nowIso, error: why, ...(jobStatus ? { jobStatus } : {}) } }]);
    result.events.push({ key: ctx.key, type: 'Warning', reason: 'DelegationTimedOut', message: `task ${id} of project ${project}: ${why}; returned to local sessions`, data: { taskId: id, project, jobId: record.jobId } });
    return;
  }
  recordChange(ctx, result, taskResource(id, project), `${why}; → failed/ (job cancelled)`, [{ type: 'delegation.finish', policy: ctx.name, root, taskId: id, to: 'failed', text: why, cancelJob: true, record: { ...record, state: 'failed', finishedAt: ctx.nowIso, error: why, ...(jobStatus ? { jobStatus } : {}) } }]);
  result.events.push({ key: ctx.key, type: 'Warning', reason: 'TaskFailed', message: `task ${id} of project ${project}: ${why}`, data: { taskId: id, project, jobId: record.jobId } });
}

export interface UnrecordedDelegatedResult extends PhaseOutput {
  touched: string[];
  active: ActiveJob[];
  submits: number;
}

/** Tasks in delegated/ without a job record (moved by hand, or the record was lost): submitted as attempt 1. */
export function planUnrecordedDelegated(ctx: DelegationPlanContext, project: PolicyProject, touchedBefore: ReadonlySet<string>): UnrecordedDelegatedResult {
  const { name, spec } = ctx;
  const result: UnrecordedDelegatedResult = { ...emptyPhaseOutput(), touched: [], active: [], submits: 0 };
  const recorded = new Set(project.observed.records.map((r) => r.taskId));
  const touched = new Set(touchedBefore);
  for (const entry of project.observed.delegated) {
    if (recorded.has(entry.id) || touched.has(entry.id)) continue;
    if (project.observed.badRecords.some((b) => b.taskId === entry.id)) continue; // reported by the queue check; a human decides
    touched.add(entry.id);
    result.touched.push(entry.id);
    const record: DelegationJobRecord = { version: 1, taskId: entry.id, project: project.name, policy: name, provider: spec.defaultProvider ?? spec.providers[0] ?? 'unknown', attempt: 1, state: 'pending', createdAt: ctx.nowIso };
    result.active.push(activeJobOf(record, project.name));
    if (ctx.observed.keyProblem || ctx.circuitBusy) continue;
    result.submits += 1;
    recordChange(ctx, result, taskResource(entry.id, project.name), `in delegated/ without a job record; submitting (attempt 1, provider ${record.provider})`, [{ type: 'delegation.submit', policy: name, root: project.observed.root, taskId: entry.id, from: 'delegated', record }]);
  }
  return result;
}
