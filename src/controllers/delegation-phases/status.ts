/**
 * Phase "status" of the DelegationPolicy plan: conditions CircuitClosed, BudgetAvailable and Ready,
 * the status (jobs in flight, counters, cost today, the circuit, waiting tasks), and when to check
 * back (soon after submits, every pollInterval while jobs run or tasks wait, at the circuit's retry).
 */
import { setCondition, type Condition } from '../../core/conditions.js';
import type { ActiveJob, DelegationPolicyStatus } from '../delegation-policy.js';
import { countRecords, type BudgetState } from './budget.js';
import { emptyPhaseOutput, requeueIn, type DelegationPlanContext, type PhaseOutput } from './context.js';

/** What the earlier phases decided that the status reports. */
export interface PolicyStatusFacts {
  budget: BudgetState;
  active: ActiveJob[];
  waiting: NonNullable<DelegationPolicyStatus['waiting']>;
  submits: number;
  polling: boolean;
}

export interface PolicyStatusResult extends PhaseOutput {
  status: DelegationPolicyStatus;
}

/** The policy's conditions, from the circuit, the budget and the jobs. */
export function policyConditions(ctx: DelegationPlanContext, facts: PolicyStatusFacts): Condition[] {
  const { spec, nowMs } = ctx;
  const { circuit, keyProblem } = ctx.observed;
  const { costToday, currency, budgetExhausted } = facts.budget;
  let conditions: Condition[] = ctx.prior?.conditions ?? [];
  const setCond = (type: string, status: Condition['status'], reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status, reason, message }, ctx.now, ctx.policy.generation);
  };
  const waitingOnCircuit = facts.waiting.filter((w) => w.reason.startsWith('circuit open')).length;
  if (circuit.state === 'closed') setCond('CircuitClosed', 'True', 'Closed', circuit.consecutiveFailures > 0 ? `the job API answers (${circuit.consecutiveFailures} recent failure(s): ${circuit.lastError ?? ''})` : 'the job API answers');
  else {
    const probeInS = Math.max(0, Math.ceil(((circuit.retryAt ?? nowMs) - nowMs) / 1000));
    setCond('CircuitClosed', 'False', circuit.state === 'open' ? 'Open' : 'HalfOpen', `the job API is failing (${circuit.consecutiveFailures} failure(s); last: ${circuit.lastError ?? 'unknown'}); ${waitingOnCircuit} task(s) stay in inbox/, not failed; ${circuit.state === 'open' ? `next probe in ${probeInS}s` : 'probing'}`);
  }
  if (!spec.budget) setCond('BudgetAvailable', 'True', 'NoBudget', `no daily budget; ${costToday} ${currency} today`);
  else if (budgetExhausted) setCond('BudgetAvailable', 'False', 'BudgetReached', `${costToday} of ${spec.budget.maxCostPerDay} ${currency} spent today (${ctx.day} UTC); new tasks run locally`);
  else setCond('BudgetAvailable', 'True', 'WithinBudget', `${costToday} of ${spec.budget.maxCostPerDay} ${currency} spent today`);
  if (keyProblem) setCond('Ready', 'False', 'ApiKeyUnavailable', `${keyProblem}; nothing is delegated`);
  else if (circuit.state !== 'closed') setCond('Ready', 'False', 'CircuitOpen', 'the job API is failing; delegated tasks wait');
  else if (Object.keys(ctx.observed.projects).length === 0) setCond('Ready', 'True', 'NoProjects', 'no Project names this policy');
  else setCond('Ready', 'True', facts.active.length > 0 ? 'Delegating' : 'Idle', `${facts.active.length} job(s) in flight (max ${spec.maxConcurrentJobs}), ${facts.waiting.length} waiting`);
  return conditions;
}

export function planPolicyStatus(ctx: DelegationPlanContext, facts: PolicyStatusFacts): PolicyStatusResult {
  const { key, spec, day, nowMs, tuning } = ctx;
  const { circuit } = ctx.observed;
  const { active, waiting } = facts;
  const { costToday, currency, budgetExhausted } = facts.budget;
  const phase = emptyPhaseOutput();
  const status: DelegationPolicyStatus = {
    observedGeneration: ctx.policy.generation,
    conditions: policyConditions(ctx, facts),
    endpoint: spec.endpoint,
    projects: Object.keys(ctx.observed.projects).sort(),
    activeJobs: active.slice(0, tuning.statusListMax),
    activeCount: active.length,
    maxConcurrentJobs: spec.maxConcurrentJobs,
    counters: countRecords(facts.budget.records),
    costToday,
    currency,
    day,
    ...(spec.budget ? { budget: { maxCostPerDay: spec.budget.maxCostPerDay, remaining: Math.max(0, Math.round((spec.budget.maxCostPerDay - costToday) * 1e6) / 1e6) } } : {}),
    budgetExhausted,
    ...(budgetExhausted ? { budgetReachedOn: day } : ctx.prior?.budgetReachedOn === day ? { budgetReachedOn: day } : {}),
    circuit,
    ...(waiting.length > 0 ? { waiting: waiting.slice(0, tuning.statusListMax) } : {}),
  };
  if (waiting.length > 0) phase.notes.push({ key, level: 'info', message: `${waiting.length} task(s) routed to delegation wait in inbox/: ${[...new Set(waiting.map((w) => w.reason))].join('; ')}` });
  if (facts.submits > 0) requeueIn(phase, Math.min(ctx.pollMs, 1_000));
  if (facts.polling || active.length > 0) requeueIn(phase, ctx.pollMs);
  if (ctx.circuitOpen) requeueIn(phase, Math.max(250, (circuit.retryAt ?? nowMs) - nowMs));
  else if (waiting.length > 0) requeueIn(phase, ctx.pollMs);
  return { ...phase, status };
}
