/**
 * What every phase of the DelegationPolicy plan (src/controllers/delegation-policy.ts `planPolicy`)
 * shares: the context of one policy's pass and small pure helpers. Phases run per policy (budget,
 * status) or per project of the policy (queue check, job records, delegated/ without records,
 * inbox submits); their outputs are appended in the order they run.
 */
import { durationMs } from '../../api/duration.js';
import type { ManifestObject } from '../../api/objects.js';
import type { PlanInput } from '../../core/controller.js';
import type { DelegationJobRecord } from '../../core/effects.js';
import type { RouterPolicy } from '../../core/router.js';
import type { ActiveJob, DelegationObserved, DelegationPolicyObserved, DelegationPolicyStatus, DelegationTuning } from '../delegation-policy.js';
import { delegationPolicyStatus } from '../../core/status.js';

export { emptyPhaseOutput, mergePhase, requeueIn, type PhaseOutput } from '../plan-phase.js';

/** One policy's pass: the inputs every phase reads (never writes). */
export interface DelegationPlanContext {
  policy: ManifestObject<'DelegationPolicy'>;
  name: string;
  /** `DelegationPolicy/<name>`. */
  key: string;
  spec: ManifestObject<'DelegationPolicy'>['spec'];
  now: Date;
  nowMs: number;
  nowIso: string;
  /** UTC day `YYYY-MM-DD` of now. */
  day: string;
  prior: DelegationPolicyStatus | undefined;
  observed: DelegationPolicyObserved;
  tuning: DelegationTuning;
  jobTimeoutMs: number;
  pollMs: number;
  routerPolicy: RouterPolicy;
  /** The circuit is open and its retry time is ahead. */
  circuitOpen: boolean;
  /** No submit may go out now: circuit open, or its half-open probe in flight. */
  circuitBusy: boolean;
}

export const TERMINAL_STATES = new Set<DelegationJobRecord['state']>(['succeeded', 'failed', 'returned']);

/** UTC day `YYYY-MM-DD` of an epoch-ms time. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function msOf(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

export function delegationPlanContext(policy: ManifestObject<'DelegationPolicy'>, observed: DelegationPolicyObserved, input: PlanInput<DelegationObserved>, tuning: DelegationTuning): DelegationPlanContext {
  const name = policy.metadata.name;
  const key = `DelegationPolicy/${name}`;
  const nowMs = input.now.getTime();
  const circuitOpen = observed.circuit.state === 'open' && (observed.circuit.retryAt ?? 0) > nowMs;
  return {
    policy, name, key, spec: policy.spec, now: input.now, nowMs, nowIso: input.now.toISOString(), day: utcDay(nowMs),
    prior: delegationPolicyStatus(input.prior, name),
    observed, tuning,
    jobTimeoutMs: durationMs(policy.spec.jobTimeout),
    pollMs: durationMs(policy.spec.pollInterval),
    routerPolicy: routerPolicyOf(policy),
    circuitOpen,
    circuitBusy: circuitOpen || (observed.circuit.state === 'halfOpen' && observed.circuit.probeInFlight === true),
  };
}

/** The router's view of a policy manifest. */
export function routerPolicyOf(policy: ManifestObject<'DelegationPolicy'>): RouterPolicy {
  return { name: policy.metadata.name, providers: policy.spec.providers, ...(policy.spec.defaultProvider ? { defaultProvider: policy.spec.defaultProvider } : {}) };
}

/** The `activeJobs` entry of a record. */
export function activeJobOf(record: DelegationJobRecord, project: string): ActiveJob {
  return {
    taskId: record.taskId, project, provider: record.provider, attempt: record.attempt, state: record.state === 'submitted' ? 'submitted' : 'pending', createdAt: record.createdAt,
    ...(record.jobId ? { jobId: record.jobId } : {}), ...(record.jobStatus ? { jobStatus: record.jobStatus } : {}), ...(record.submittedAt ? { submittedAt: record.submittedAt } : {}),
  };
}

/** The resource name of a task of a project, in changes. */
export function taskResource(taskId: string, project: string): string {
  return `task "${taskId}" (project ${project})`;
}
