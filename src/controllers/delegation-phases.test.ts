/** Each phase of the DelegationPolicy plan (src/controllers/delegation-phases/), called directly on constructed inputs. */
import { describe, expect, it } from 'vitest';
import type { ManifestObject } from '../api/objects.js';
import { delegationPolicySpecSchema } from '../api/schemas.js';
import type { StatusMap } from '../core/controller.js';
import type { DelegationJobRecord, Effect } from '../core/effects.js';
import { parseTask, type Task, type TaskEntry } from '../core/task.js';
import { budgetState, countRecords, planBudgetRouting, type BudgetState } from './delegation-phases/budget.js';
import { delegationPlanContext, type DelegationPlanContext } from './delegation-phases/context.js';
import { planJobRecords, planProjectQueueCheck, planUnrecordedDelegated, type PolicyProject } from './delegation-phases/records.js';
import { planPolicyStatus, type PolicyStatusFacts } from './delegation-phases/status.js';
import { planInboxSubmits } from './delegation-phases/submit.js';
import { DEFAULT_DELEGATION_TUNING, type CircuitView, type DelegationJobView, type DelegationPolicyStatus, type DelegationProjectObserved } from './delegation-policy.js';
import type { PhaseOutput } from './plan-phase.js';

const NOW = Date.parse('2026-05-01T12:00:00.000Z');
const ROOT = '/srv/web/.agent-queue';
const closed: CircuitView = { state: 'closed', consecutiveFailures: 0, opens: 0 };

function policyObj(spec: Record<string, unknown> = {}): ManifestObject<'DelegationPolicy'> {
  return {
    apiVersion: 'claudefailover.io/v1alpha1', kind: 'DelegationPolicy', metadata: { name: 'sec' }, source: { file: 'm.yaml', line: 1, col: 1 }, generation: 'g1',
    spec: delegationPolicySpecSchema.parse({ endpoint: 'http://127.0.0.1:9/', apiKey: { env: 'K' }, providers: ['gemini', 'gpu'], ...spec }),
  };
}

function task(id: string, frontmatter = 'preferred_ai: gemini'): Task {
  const text = frontmatter ? `---\n${frontmatter}\n---\nDo ${id}.\n` : `Do ${id}.\n`;
  return parseTask(text, { id, state: 'inbox', fileName: `${id}.md`, path: `${ROOT}/inbox/${id}.md`, mtimeMs: NOW - 60_000, size: text.length });
}

const delegatedEntry = (id: string): TaskEntry => ({ id, state: 'delegated', fileName: `${id}.md`, path: `${ROOT}/delegated/${id}.md`, mtimeMs: NOW, size: 10, settling: false });

function rec(taskId: string, over: Partial<DelegationJobRecord> = {}): DelegationJobRecord {
  return { version: 1, taskId, project: 'web', policy: 'sec', provider: 'gemini', attempt: 1, state: 'submitted', jobId: `job-${taskId}`, createdAt: '2026-05-01T11:59:00.000Z', submittedAt: '2026-05-01T11:59:00.000Z', ...over };
}

interface Setup {
  policy?: Record<string, unknown>;
  project?: Partial<DelegationProjectObserved>;
  circuit?: CircuitView;
  keyProblem?: string;
  prior?: Partial<DelegationPolicyStatus>;
}

function setupOf(s: Setup = {}): { ctx: DelegationPlanContext; project: PolicyProject } {
  const policy = policyObj(s.policy);
  const ready = s.project?.ready ?? [];
  const observed: DelegationProjectObserved = { root: ROOT, exists: true, ready, inboxIds: ready.map((t) => t.id), delegated: [], records: [], badRecords: [], polls: {}, ...s.project };
  const policyObserved = { circuit: s.circuit ?? closed, projects: { web: observed }, ...(s.keyProblem ? { keyProblem: s.keyProblem } : {}) };
  const prior: StatusMap = s.prior ? { 'DelegationPolicy/sec': { observedGeneration: 'g1', conditions: [], ...s.prior } } : {};
  const ctx = delegationPlanContext(policy, policyObserved, {
    desired: { accounts: [], projects: [], delegationPolicies: [policy], sessions: [], notifiers: [] },
    observed: { policies: { sec: policyObserved } }, prior, inventory: {}, now: new Date(NOW), options: { dryRun: false, prune: false },
  }, DEFAULT_DELEGATION_TUNING);
  return { ctx, project: { name: 'web', observed } };
}

const effectsOf = (phase: PhaseOutput): Effect[] => phase.changes.flatMap((c) => c.effects);
const finishTo = (phase: PhaseOutput) => effectsOf(phase).map((e) => (e.type === 'delegation.finish' ? `finish→${e.to}` : e.type));

describe('phase budget', () => {
  it.each([
    { name: 'no budget', policy: {}, records: [rec('a', { state: 'succeeded', cost: 2, finishedAt: '2026-05-01T10:00:00.000Z' })], cost: 2, exhausted: false },
    { name: 'under budget (yesterday not counted)', policy: { budget: { maxCostPerDay: 3 } }, records: [rec('a', { state: 'succeeded', cost: 2, finishedAt: '2026-05-01T10:00:00.000Z' }), rec('b', { state: 'failed', cost: 5, finishedAt: '2026-04-30T10:00:00.000Z' })], cost: 2, exhausted: false },
    { name: 'budget reached, earlier attempts count', policy: { budget: { maxCostPerDay: 3 } }, records: [rec('a', { state: 'returned', cost: 1, finishedAt: '2026-05-01T10:00:00.000Z', history: [{ attempt: 1, state: 'failed', cost: 2, finishedAt: '2026-05-01T09:00:00.000Z' }] })], cost: 3, exhausted: true },
    { name: 'another policy\'s records are not ours', policy: { budget: { maxCostPerDay: 1 } }, records: [rec('a', { policy: 'other', state: 'succeeded', cost: 9, finishedAt: '2026-05-01T10:00:00.000Z' })], cost: 0, exhausted: false },
  ])('$name', ({ policy, records, cost, exhausted }) => {
    const budget = budgetState(setupOf({ policy, project: { records } }).ctx);
    expect(budget.costToday).toBe(cost);
    expect(budget.budgetExhausted).toBe(exhausted);
  });

  it('counts jobs in flight whose task is in inbox/ or delegated/', () => {
    const records = [rec('a'), rec('b', { state: 'pending' }), rec('gone'), rec('done', { state: 'succeeded' })];
    const budget = budgetState(setupOf({ project: { records, delegated: [delegatedEntry('a'), delegatedEntry('done')], inboxIds: ['b'] } }).ctx);
    expect(budget.inFlight).toBe(2);
    expect(countRecords(records)).toEqual({ submitted: 4, succeeded: 1, failed: 0, returned: 0 });
  });
});

describe('phase budget routing', () => {
  const budget = (over: Partial<BudgetState> = {}): BudgetState => ({ records: [], costToday: 3, currency: 'USD', budgetExhausted: true, inFlight: 0, ...over });
  it.each([
    { name: 'within budget: nothing', policy: { budget: { maxCostPerDay: 5 } }, budget: budget({ budgetExhausted: false }), prior: undefined, changes: 0, events: [], notes: 0 },
    { name: 'reached first today: tasks local, one event', policy: { budget: { maxCostPerDay: 3 } }, budget: budget(), prior: undefined, changes: 1, events: ['DelegationBudgetReached'], notes: 1 },
    { name: 'reached, event already sent today', policy: { budget: { maxCostPerDay: 3 } }, budget: budget(), prior: { budgetReachedOn: '2026-05-01' }, changes: 1, events: [], notes: 1 },
  ])('$name', ({ policy, budget: state, prior, changes, events, notes }) => {
    const { ctx } = setupOf({ policy, ...(prior ? { prior } : {}) });
    const result = planBudgetRouting(ctx, state, [{ project: 'web', root: ROOT, task: task('t1') }]);
    expect(result.changes).toHaveLength(changes);
    if (changes) expect(effectsOf(result)).toEqual([{ type: 'delegation.routeLocal', root: ROOT, taskId: 't1', set: { allow_delegation: false } }]);
    expect(result.events.map((e) => e.reason)).toEqual(events);
    expect(result.notes).toHaveLength(notes);
  });
});

describe('phase queue check', () => {
  it.each([
    { name: 'read error: skipped, retried in 5 s', project: { error: 'EACCES' }, usable: false, requeue: 5_000, level: 'warning' },
    { name: 'no queue yet: skipped, retried in 1 s', project: { exists: false }, usable: false, requeue: 1_000, level: 'info' },
    { name: 'unreadable record: reported, project planned', project: { badRecords: [{ taskId: 'x', error: 'bad JSON' }] }, usable: true, requeue: undefined, level: 'warning' },
    { name: 'fine', project: {}, usable: true, requeue: undefined, level: undefined },
  ])('$name', ({ project: over, usable, requeue, level }) => {
    const { ctx, project } = setupOf({ project: over });
    const result = planProjectQueueCheck(ctx, project);
    expect(result.usable).toBe(usable);
    expect(result.requeueAfterMs).toBe(requeue);
    expect(result.notes[0]?.level).toBe(level);
  });
});

describe('phase job records', () => {
  const succeeded: DelegationJobView = { id: 'job-t1', status: 'succeeded', provider: 'gemini', result: 'ok', finishedAt: '2026-05-01T11:59:30.000Z' };
  it.each<{ name: string; setup: Setup; effects: string[]; events: string[]; active: number; polling: boolean; submits: number }>([
    { name: 'submitted, job succeeded → done/', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1')], polls: { t1: succeeded } } }, effects: ['finish→done'], events: ['DelegatedTaskSucceeded'], active: 0, polling: false, submits: 0 },
    { name: 'submitted, job failed → failed/', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'failed', error: 'x' } } } }, effects: ['finish→failed'], events: ['TaskFailed'], active: 0, polling: false, submits: 0 },
    { name: 'submitted, still running, status changed → record updated, polled again', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'running' } } } }, effects: ['delegation.writeRecord'], events: [], active: 1, polling: true, submits: 0 },
    { name: 'submitted, past jobTimeout → failed/, cancelled', setup: { policy: { jobTimeout: '1m' }, project: { delegated: [delegatedEntry('t1')], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'running' } } } }, effects: ['finish→failed'], events: ['TaskFailed'], active: 0, polling: false, submits: 0 },
    { name: 'submitted, past jobTimeout with fallbackToLocal → inbox/', setup: { policy: { jobTimeout: '1m', fallbackToLocal: true }, project: { delegated: [delegatedEntry('t1')], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'queued' } } } }, effects: ['finish→inbox'], events: ['DelegationTimedOut'], active: 0, polling: false, submits: 0 },
    { name: 'submitted, task left delegated/ → record failed', setup: { project: { records: [rec('t1')] } }, effects: ['delegation.writeRecord'], events: [], active: 0, polling: false, submits: 0 },
    { name: 'pending, in delegated/ → submitted again', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1', { state: 'pending', jobId: undefined })] } }, effects: ['delegation.submit'], events: [], active: 1, polling: false, submits: 1 },
    { name: 'pending, circuit open → waits in delegated/', setup: { circuit: { state: 'open', consecutiveFailures: 3, opens: 1, retryAt: NOW + 5_000 }, project: { delegated: [delegatedEntry('t1')], records: [rec('t1', { state: 'pending', jobId: undefined })] } }, effects: [], events: [], active: 1, polling: false, submits: 0 },
    { name: 'pending, task gone → record removed', setup: { project: { records: [rec('t1', { state: 'pending', jobId: undefined })] } }, effects: ['delegation.removeRecords'], events: [], active: 0, polling: false, submits: 0 },
    { name: 'terminal, task still in delegated/ → the finish is replayed', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1', { state: 'returned', finishedAt: '2026-05-01T11:00:00.000Z' })] } }, effects: ['finish→inbox'], events: [], active: 0, polling: false, submits: 0 },
    { name: 'terminal, older than the retention → pruned', setup: { project: { records: [rec('t1', { state: 'succeeded', finishedAt: '2026-04-01T11:00:00.000Z' })] } }, effects: ['delegation.removeRecords'], events: [], active: 0, polling: false, submits: 0 },
    { name: 'terminal, recent → kept', setup: { project: { records: [rec('t1', { state: 'succeeded', finishedAt: '2026-04-30T11:00:00.000Z' })] } }, effects: [], events: [], active: 0, polling: false, submits: 0 },
    { name: 'another policy\'s record → left to it', setup: { project: { delegated: [delegatedEntry('t1')], records: [rec('t1', { policy: 'other' })] } }, effects: [], events: [], active: 0, polling: false, submits: 0 },
  ])('$name', ({ setup, effects, events, active, polling, submits }) => {
    const { ctx, project } = setupOf(setup);
    const result = planJobRecords(ctx, project);
    expect(finishTo(result)).toEqual(effects);
    expect(result.events.map((e) => e.reason)).toEqual(events);
    expect(result.active).toHaveLength(active);
    expect(result.polling).toBe(polling);
    expect(result.submits).toBe(submits);
  });
});

describe('phase unrecorded delegated', () => {
  it.each<{ name: string; setup: Setup; touched: string[]; submitted: string[]; active: string[] }>([
    { name: 'without a record → attempt 1 submitted', setup: { project: { delegated: [delegatedEntry('a')] } }, touched: [], submitted: ['a'], active: ['a'] },
    { name: 'with a record → the records phase decides', setup: { project: { delegated: [delegatedEntry('a')], records: [rec('a')] } }, touched: [], submitted: [], active: [] },
    { name: 'unreadable record → a human decides', setup: { project: { delegated: [delegatedEntry('a')], badRecords: [{ taskId: 'a', error: 'bad' }] } }, touched: [], submitted: [], active: [] },
    { name: 'already touched → left', setup: { project: { delegated: [delegatedEntry('a')] } }, touched: ['a'], submitted: [], active: [] },
    { name: 'API key unavailable → listed, not submitted', setup: { keyProblem: 'K not set', project: { delegated: [delegatedEntry('a')] } }, touched: [], submitted: [], active: ['a'] },
    { name: 'circuit open → listed, not submitted', setup: { circuit: { state: 'open', consecutiveFailures: 3, opens: 1, retryAt: NOW + 5_000 }, project: { delegated: [delegatedEntry('a')] } }, touched: [], submitted: [], active: ['a'] },
  ])('$name', ({ setup, touched, submitted, active }) => {
    const { ctx, project } = setupOf(setup);
    const result = planUnrecordedDelegated(ctx, project, new Set(touched));
    expect(effectsOf(result).map((e) => (e.type === 'delegation.submit' ? e.taskId : e.type))).toEqual(submitted);
    expect(result.active.map((a) => a.taskId)).toEqual(active);
    if (submitted.length) expect(effectsOf(result)[0]).toMatchObject({ from: 'delegated', record: { attempt: 1, provider: 'gemini', state: 'pending' } });
  });
});

describe('phase inbox submits', () => {
  const budget = { inFlight: 0, budgetExhausted: false, touched: new Set<string>() };
  it.each<{ name: string; setup: Setup; before?: Partial<typeof budget>; effects: string[]; waiting: string[]; local: string[]; inFlight: number }>([
    { name: 'delegate-routed → submitted', setup: { project: { ready: [task('a')] } }, effects: ['delegation.submit'], waiting: [], local: [], inFlight: 1 },
    { name: 'local task → untouched', setup: { project: { ready: [task('a', '')] } }, effects: [], waiting: [], local: [], inFlight: 0 },
    { name: 'local task with a pending record → record removed', setup: { project: { ready: [task('a', 'needs_claude_code: true')], records: [rec('a', { state: 'pending' })] } }, effects: ['delegation.removeRecords'], waiting: [], local: [], inFlight: 0 },
    { name: 'budget reached → runs locally', setup: { project: { ready: [task('a')] } }, before: { budgetExhausted: true }, effects: [], waiting: [], local: ['a'], inFlight: 0 },
    { name: 'budget reached, pending record → resumed anyway', setup: { project: { ready: [task('a')], records: [rec('a', { state: 'pending' })] } }, before: { budgetExhausted: true }, effects: ['delegation.submit'], waiting: [], local: [], inFlight: 0 },
    { name: 'API key unavailable → waits', setup: { keyProblem: 'K not set', project: { ready: [task('a')] } }, effects: [], waiting: ['API key unavailable: K not set'], local: [], inFlight: 0 },
    { name: 'circuit half-open, probe in flight → waits', setup: { circuit: { state: 'halfOpen', consecutiveFailures: 3, opens: 1, probeInFlight: true, lastError: '503' }, project: { ready: [task('a')] } }, effects: [], waiting: ['circuit open: 503'], local: [], inFlight: 0 },
    { name: 'maxConcurrentJobs reached → waits', setup: { policy: { maxConcurrentJobs: 1 }, project: { ready: [task('a'), task('b')] } }, effects: ['delegation.submit'], waiting: ['maxConcurrentJobs 1 reached'], local: [], inFlight: 1 },
    { name: 'in flight elsewhere counts', setup: { policy: { maxConcurrentJobs: 1 }, project: { ready: [task('a')] } }, before: { inFlight: 1 }, effects: [], waiting: ['maxConcurrentJobs 1 reached'], local: [], inFlight: 1 },
  ])('$name', ({ setup, before, effects, waiting, local, inFlight }) => {
    const { ctx, project } = setupOf(setup);
    const result = planInboxSubmits(ctx, project, { ...budget, ...before });
    expect(effectsOf(result).map((e) => e.type)).toEqual(effects);
    expect(result.waiting.map((w) => w.reason)).toEqual(waiting);
    expect(result.routeLocal.map((r) => r.task.id)).toEqual(local);
    expect(result.inFlight).toBe(inFlight);
  });

  it('a re-delegated task is attempt n+1 with the previous attempt in its history', () => {
    const { ctx, project } = setupOf({ project: { ready: [task('a')], records: [rec('a', { state: 'returned', cost: 0.5, finishedAt: '2026-05-01T11:00:00.000Z' })] } });
    const result = planInboxSubmits(ctx, project, budget);
    expect(effectsOf(result)[0]).toMatchObject({ type: 'delegation.submit', record: { attempt: 2, state: 'pending', history: [{ attempt: 1, state: 'returned', cost: 0.5, jobId: 'job-a' }] } });
  });
});

describe('phase status', () => {
  const facts = (over: Partial<PolicyStatusFacts> = {}): PolicyStatusFacts => ({
    budget: { records: [], costToday: 0, currency: 'USD', budgetExhausted: false, inFlight: 0 }, active: [], waiting: [], submits: 0, polling: false, ...over,
  });
  const job = { taskId: 'a', project: 'web', provider: 'gemini', attempt: 1, state: 'submitted' as const, createdAt: '2026-05-01T11:00:00.000Z' };
  it.each<{ name: string; setup: Setup; facts: Partial<PolicyStatusFacts>; ready: [string, string]; requeue: number | undefined }>([
    { name: 'idle', setup: {}, facts: {}, ready: ['True', 'Idle'], requeue: undefined },
    { name: 'jobs in flight → poll interval', setup: {}, facts: { active: [job], polling: true }, ready: ['True', 'Delegating'], requeue: 30_000 },
    { name: 'submits planned → 1 s', setup: {}, facts: { active: [job], submits: 1 }, ready: ['True', 'Delegating'], requeue: 1_000 },
    { name: 'API key unavailable', setup: { keyProblem: 'K not set' }, facts: {}, ready: ['False', 'ApiKeyUnavailable'], requeue: undefined },
    { name: 'circuit open → its retry time', setup: { circuit: { state: 'open', consecutiveFailures: 3, opens: 1, retryAt: NOW + 7_000 } }, facts: {}, ready: ['False', 'CircuitOpen'], requeue: 7_000 },
    { name: 'tasks waiting → poll interval', setup: {}, facts: { waiting: [{ taskId: 'a', project: 'web', reason: 'maxConcurrentJobs 1 reached' }] }, ready: ['True', 'Idle'], requeue: 30_000 },
  ])('$name', ({ setup, facts: over, ready, requeue }) => {
    const { ctx } = setupOf({ ...setup, policy: { pollInterval: '30s' } });
    const result = planPolicyStatus(ctx, facts(over));
    const condition = result.status.conditions.find((c) => c.type === 'Ready');
    expect([condition?.status, condition?.reason]).toEqual(ready);
    expect(result.requeueAfterMs).toBe(requeue);
    expect(result.notes).toHaveLength(over.waiting?.length ? 1 : 0);
  });

  it.each([
    { name: 'no budget', policy: {}, budget: { costToday: 1, budgetExhausted: false }, prior: undefined, condition: ['True', 'NoBudget'], reachedOn: undefined },
    { name: 'within budget', policy: { budget: { maxCostPerDay: 5 } }, budget: { costToday: 1, budgetExhausted: false }, prior: undefined, condition: ['True', 'WithinBudget'], reachedOn: undefined },
    { name: 'budget reached', policy: { budget: { maxCostPerDay: 1 } }, budget: { costToday: 1, budgetExhausted: true }, prior: undefined, condition: ['False', 'BudgetReached'], reachedOn: '2026-05-01' },
    { name: 'reached earlier today, raised since', policy: { budget: { maxCostPerDay: 9 } }, budget: { costToday: 1, budgetExhausted: false }, prior: { budgetReachedOn: '2026-05-01' }, condition: ['True', 'WithinBudget'], reachedOn: '2026-05-01' },
  ])('budget in status: $name', ({ policy, budget, prior, condition, reachedOn }) => {
    const { ctx } = setupOf({ policy, ...(prior ? { prior } : {}) });
    const result = planPolicyStatus(ctx, facts({ budget: { records: [], currency: 'USD', inFlight: 0, ...budget } }));
    const budgetCondition = result.status.conditions.find((c) => c.type === 'BudgetAvailable');
    expect([budgetCondition?.status, budgetCondition?.reason]).toEqual(condition);
    expect(result.status.budgetReachedOn).toBe(reachedOn);
  });
});
