/**
 * Phases "budget" and "budget routing" of the DelegationPolicy plan: what the policy's jobs cost
 * today and how many are in flight (decided first: it decides whether inbox tasks are delegated at
 * all), and, once the daily budget is reached, the delegate-routed tasks marked to run locally with
 * one `DelegationBudgetReached` event per day.
 */
import type { DelegationJobRecord } from '../../core/effects.js';
import type { Task } from '../../core/task.js';
import type { DelegationCounters } from '../delegation-policy.js';
import { emptyPhaseOutput, TERMINAL_STATES, type DelegationPlanContext, type PhaseOutput } from './context.js';

export interface BudgetState {
  /** The policy's records in every project (its own only). */
  records: DelegationJobRecord[];
  costToday: number;
  currency: string;
  budgetExhausted: boolean;
  /** Jobs in flight (pending or submitted, task in inbox/ or delegated/), against maxConcurrentJobs. */
  inFlight: number;
}

/** A delegate-routed inbox task that runs locally because the budget is reached. */
export interface RouteLocal {
  project: string;
  root: string;
  task: Task;
}

/** Cost of the jobs (and earlier attempts) that finished on `day` (UTC). */
export function costOnDay(records: readonly DelegationJobRecord[], day: string): number {
  let sum = 0;
  for (const record of records) {
    if (TERMINAL_STATES.has(record.state) && record.cost !== undefined && record.finishedAt?.slice(0, 10) === day) sum += record.cost;
    for (const earlier of record.history ?? []) if (earlier.cost !== undefined && earlier.finishedAt?.slice(0, 10) === day) sum += earlier.cost;
  }
  return Math.round(sum * 1e6) / 1e6;
}

/** Counters over the records kept. */
export function countRecords(records: readonly DelegationJobRecord[]): DelegationCounters {
  const counters: DelegationCounters = { submitted: 0, succeeded: 0, failed: 0, returned: 0 };
  const add = (state: DelegationJobRecord['state'], jobId: string | undefined) => {
    if (jobId !== undefined) counters.submitted += 1;
    if (state === 'succeeded') counters.succeeded += 1;
    else if (state === 'failed') counters.failed += 1;
    else if (state === 'returned') counters.returned += 1;
  };
  for (const record of records) {
    add(record.state, record.jobId);
    for (const earlier of record.history ?? []) add(earlier.state, earlier.jobId);
  }
  return counters;
}

export function budgetState(ctx: DelegationPlanContext): BudgetState {
  const { name, spec, observed } = ctx;
  const records: DelegationJobRecord[] = [];
  for (const project of Object.values(observed.projects)) records.push(...project.records.filter((r) => r.policy === name));
  const costToday = costOnDay(records, ctx.day);
  const currency = records.find((r) => r.currency)?.currency ?? 'USD';
  const budgetExhausted = spec.budget !== undefined && costToday >= spec.budget.maxCostPerDay;
  let inFlight = 0;
  for (const project of Object.values(observed.projects)) {
    const inDelegated = new Set(project.delegated.map((d) => d.id));
    for (const record of project.records) {
      if (record.policy === name && !TERMINAL_STATES.has(record.state) && (inDelegated.has(record.taskId) || project.inboxIds.includes(record.taskId))) inFlight += 1;
    }
  }
  return { records, costToday, currency, budgetExhausted, inFlight };
}

/** Budget reached: the remaining delegate-routed tasks run locally; one event per UTC day. */
export function planBudgetRouting(ctx: DelegationPlanContext, budget: BudgetState, routeLocal: readonly RouteLocal[]): PhaseOutput {
  const { key, name, spec, day } = ctx;
  const phase = emptyPhaseOutput();
  if (!budget.budgetExhausted || !spec.budget) return phase;
  const { costToday, currency } = budget;
  const maxCostPerDay = spec.budget.maxCostPerDay;
  for (const { project, root, task } of routeLocal) {
    phase.changes.push({ key, action: 'update', resource: `task "${task.id}" (project ${project})`, reason: `delegation budget reached (${costToday} of ${maxCostPerDay} per day): runs locally`, effects: [{ type: 'delegation.routeLocal', root, taskId: task.id, set: { allow_delegation: false } }] });
  }
  if (ctx.prior?.budgetReachedOn !== day) {
    phase.events.push({
      key, type: 'Warning', reason: 'DelegationBudgetReached',
      message: `delegation budget of policy ${name} reached: ${costToday} ${currency} of ${maxCostPerDay} today (${day} UTC); new tasks run locally`,
      data: { policy: name, costToday, maxCostPerDay, currency, day, routedLocal: routeLocal.length },
    });
  }
  phase.notes.push({ key, level: 'warning', message: `delegation budget reached (${costToday} of ${maxCostPerDay} ${currency} today)${routeLocal.length ? `: ${routeLocal.length} task(s) marked local` : ''}` });
  return phase;
}
