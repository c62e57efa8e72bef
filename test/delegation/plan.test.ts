import { describe, expect, it } from 'vitest';
import type { DesiredState, ManifestObject } from '../../src/api/objects.js';
import { delegationPolicySpecSchema, projectSpecSchema } from '../../src/api/schemas.js';
import type { DelegationJobRecord, DelegationSubmitEffect, DelegationFinishEffect } from '../../src/core/effects.js';
import { parseTask, type Task, type TaskEntry } from '../../src/core/task.js';
import {
  costOnDay, countRecords, DEFAULT_DELEGATION_TUNING, delegatedSessionsView, planPolicy, type CircuitView, type DelegationJobView,
  type DelegationObserved, type DelegationPolicyObserved, type DelegationPolicyStatus, type DelegationProjectObserved,
} from '../../src/controllers/delegation-policy.js';
import { emptyPlanPart, type StatusMap } from '../../src/core/controller.js';

const NOW = Date.parse('2026-05-01T12:00:00.000Z');
const ROOT = '/srv/web/.agent-queue';

function policyObj(spec: Record<string, unknown> = {}): ManifestObject<'DelegationPolicy'> {
  return {
    apiVersion: 'claudefailover.io/v1alpha1', kind: 'DelegationPolicy', metadata: { name: 'sec' }, source: { file: 'm.yaml', line: 1, col: 1 }, generation: 'g1',
    spec: delegationPolicySpecSchema.parse({ endpoint: 'http://127.0.0.1:9/', apiKey: { env: 'K' }, providers: ['gemini', 'gpu'], ...spec }),
  };
}

function projectObj(): ManifestObject<'Project'> {
  return { apiVersion: 'claudefailover.io/v1alpha1', kind: 'Project', metadata: { name: 'web' }, source: { file: 'm.yaml', line: 1, col: 1 }, generation: 'p1', spec: projectSpecSchema.parse({ path: '/srv/web', delegationPolicy: 'sec' }) };
}

function task(id: string, fm: string, mtimeMs = NOW - 60_000): Task {
  const text = fm ? `---\n${fm}\n---\nDo ${id}.\n` : `Do ${id}.\n`;
  return parseTask(text, { id, state: 'inbox', fileName: `${id}.md`, path: `${ROOT}/inbox/${id}.md`, mtimeMs, size: text.length });
}

function entry(id: string): TaskEntry {
  return { id, state: 'delegated', fileName: `${id}.md`, path: `${ROOT}/delegated/${id}.md`, mtimeMs: NOW, size: 10, settling: false };
}

function rec(taskId: string, over: Partial<DelegationJobRecord> = {}): DelegationJobRecord {
  return { version: 1, taskId, project: 'web', policy: 'sec', provider: 'gemini', attempt: 1, state: 'submitted', jobId: `job-${taskId}`, createdAt: '2026-05-01T11:59:00.000Z', submittedAt: '2026-05-01T11:59:00.000Z', ...over };
}

const closed: CircuitView = { state: 'closed', consecutiveFailures: 0, opens: 0 };

interface Setup {
  policy?: Record<string, unknown>;
  ready?: Task[];
  delegated?: string[];
  records?: DelegationJobRecord[];
  polls?: Record<string, DelegationJobView | { pollError: string }>;
  circuit?: CircuitView;
  keyProblem?: string;
  prior?: Partial<DelegationPolicyStatus>;
}

function plan(s: Setup) {
  const policy = policyObj(s.policy);
  const project: DelegationProjectObserved = {
    root: ROOT, exists: true, ready: s.ready ?? [], inboxIds: (s.ready ?? []).map((t) => t.id), delegated: (s.delegated ?? []).map(entry),
    records: s.records ?? [], badRecords: [], polls: s.polls ?? {},
  };
  const po: DelegationPolicyObserved = { circuit: s.circuit ?? closed, projects: { web: project }, ...(s.keyProblem ? { keyProblem: s.keyProblem } : {}) };
  const desired: DesiredState = { accounts: [], projects: [projectObj()], delegationPolicies: [policy], sessions: [], notifiers: [] };
  const prior: StatusMap = s.prior ? { 'DelegationPolicy/sec': { observedGeneration: 'g1', conditions: [], ...s.prior } } : {};
  const observed: DelegationObserved = { policies: { sec: po } };
  const out = emptyPlanPart();
  planPolicy(policy, po, { desired, observed, prior, inventory: {}, now: new Date(NOW), options: { dryRun: false, prune: false } }, out, DEFAULT_DELEGATION_TUNING);
  const status = out.status['DelegationPolicy/sec'] as DelegationPolicyStatus;
  const effects = out.changes.flatMap((c) => c.effects);
  const cond = (type: string) => status.conditions.find((c) => c.type === type);
  return { out, status, effects, cond };
}

describe('DelegationPolicy plan: which inbox tasks are delegated', () => {
  it.each<[string, string, 'submit' | 'none']>([
    ['preferred_ai allowed by the policy', 'preferred_ai: gemini', 'submit'],
    ['preferred_ai in another case', 'preferred_ai: GPU', 'submit'],
    ['allow_delegation without a default provider', 'allow_delegation: true', 'none'],
    ['needs_claude_code wins over preferred_ai', 'needs_claude_code: true\npreferred_ai: gemini', 'none'],
    ['preferred_ai claude-code', 'preferred_ai: claude-code', 'none'],
    ['allow_delegation false wins over preferred_ai', 'allow_delegation: false\npreferred_ai: gemini', 'none'],
    ['unknown provider', 'preferred_ai: mistral', 'none'],
    ['plain task', '', 'none'],
  ])('%s → %s', (_n, fm, want) => {
    const { effects } = plan({ ready: [task('t1', fm)] });
    expect(effects.map((e) => e.type)).toEqual(want === 'submit' ? ['delegation.submit'] : []);
  });

  it('a submit carries a pending record from inbox with attempt 1 and the provider as spelled in the policy', () => {
    const { effects, status } = plan({ ready: [task('t1', 'preferred_ai: GPU')] });
    const e = effects[0] as DelegationSubmitEffect;
    expect(e).toMatchObject({ type: 'delegation.submit', policy: 'sec', root: ROOT, taskId: 't1', from: 'inbox', record: { state: 'pending', attempt: 1, provider: 'gpu', project: 'web', policy: 'sec' } });
    expect(status.activeJobs).toMatchObject([{ taskId: 't1', state: 'pending', provider: 'gpu' }]);
  });

  it('respects maxConcurrentJobs across jobs in flight; the rest wait in inbox', () => {
    const { effects, status } = plan({
      policy: { maxConcurrentJobs: 2 },
      ready: [task('a', 'preferred_ai: gemini', NOW - 3000), task('b', 'preferred_ai: gemini', NOW - 2000), task('c', 'preferred_ai: gemini', NOW - 1000)],
      delegated: ['x'], records: [rec('x')], polls: { x: { id: 'job-x', status: 'running' } },
    });
    expect(effects.filter((e) => e.type === 'delegation.submit').map((e) => (e as DelegationSubmitEffect).taskId)).toEqual(['a']);
    expect(status.waiting?.map((w) => [w.taskId, w.reason])).toEqual([['b', 'maxConcurrentJobs 2 reached'], ['c', 'maxConcurrentJobs 2 reached']]);
    expect(status.activeCount).toBe(2);
  });

  it('circuit open: tasks stay in inbox (nothing failed), a pending resubmit waits, and the condition says so', () => {
    const circuit: CircuitView = { state: 'open', consecutiveFailures: 5, opens: 1, retryAt: NOW + 10_000, lastError: 'http://x answered 503' };
    const { effects, status, cond, out } = plan({ circuit, ready: [task('a', 'preferred_ai: gemini')], delegated: ['p'], records: [rec('p', { state: 'pending', jobId: undefined })] });
    expect(effects).toEqual([]);
    expect(status.waiting).toMatchObject([{ taskId: 'a', reason: 'circuit open: http://x answered 503' }]);
    expect(cond('CircuitClosed')).toMatchObject({ status: 'False', reason: 'Open' });
    expect(cond('CircuitClosed')?.message).toContain('1 task(s) stay in inbox/, not failed');
    expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'CircuitOpen' });
    expect(out.requeueAfterMs['DelegationPolicy/sec']).toBe(10_000);
  });

  it('an unreadable API key: nothing is submitted and Ready says why', () => {
    const { effects, cond } = plan({ keyProblem: 'secret environment variable K is not set', ready: [task('a', 'preferred_ai: gemini')] });
    expect(effects).toEqual([]);
    expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'ApiKeyUnavailable' });
  });
});

describe('DelegationPolicy plan: recovery from job records', () => {
  it('pending record, task in delegated/: submit again with the same record (same key)', () => {
    const r = rec('t1', { state: 'pending', jobId: undefined, submittedAt: undefined, idempotencyKey: 'cf-abc-1' });
    const { effects } = plan({ delegated: ['t1'], records: [r] });
    expect(effects).toEqual([{ type: 'delegation.submit', policy: 'sec', root: ROOT, taskId: 't1', from: 'delegated', record: r }]);
  });

  it('pending record, task still in inbox: resume (even with the budget spent), same record', () => {
    const r = rec('t1', { state: 'pending', jobId: undefined, idempotencyKey: 'cf-abc-1' });
    const spent = rec('old', { state: 'succeeded', cost: 9, finishedAt: '2026-05-01T10:00:00.000Z' });
    const { effects } = plan({ policy: { budget: { maxCostPerDay: 1 } }, ready: [task('t1', 'preferred_ai: gemini')], records: [r, spent] });
    expect(effects).toEqual([{ type: 'delegation.submit', policy: 'sec', root: ROOT, taskId: 't1', from: 'inbox', record: r }]);
  });

  it('pending record of a task that now runs locally is removed, the task untouched', () => {
    const { effects } = plan({ ready: [task('t1', 'needs_claude_code: true\npreferred_ai: gemini')], records: [rec('t1', { state: 'pending', jobId: undefined })] });
    expect(effects).toEqual([{ type: 'delegation.removeRecords', root: ROOT, taskIds: ['t1'] }]);
  });

  it('a task in delegated/ without a record gets one (attempt 1) and is submitted', () => {
    const { effects } = plan({ delegated: ['t1'] });
    expect(effects).toMatchObject([{ type: 'delegation.submit', from: 'delegated', record: { attempt: 1, state: 'pending', provider: 'gemini' } }]);
  });

  it('terminal record with the task still in delegated/: the finish is replayed', () => {
    const r = rec('t1', { state: 'failed', error: 'boom', finishedAt: '2026-05-01T11:00:00.000Z' });
    const { effects } = plan({ delegated: ['t1'], records: [r] });
    expect(effects).toMatchObject([{ type: 'delegation.finish', to: 'failed', text: 'boom', record: r }]);
  });

  it('a re-delegated task gets attempt n+1 and keeps the earlier attempt in its history', () => {
    const r = rec('t1', { state: 'returned', cost: 0.5, finishedAt: '2026-05-01T11:00:00.000Z' });
    const { effects, status } = plan({ ready: [task('t1', 'preferred_ai: gemini')], records: [r] });
    expect(effects).toMatchObject([{ type: 'delegation.submit', record: { attempt: 2, state: 'pending', history: [{ attempt: 1, state: 'returned', cost: 0.5 }] } }]);
    expect(status.costToday).toBe(0.5);
  });
});

describe('DelegationPolicy plan: the reaper', () => {
  it('succeeded → done/ with the result and the delegated footer', () => {
    const { effects, out } = plan({ delegated: ['t1'], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'succeeded', provider: 'gemini', result: 'All good.', cost: 0.0123, finishedAt: '2026-05-01T11:59:30.000Z' } } });
    const f = effects[0] as DelegationFinishEffect;
    expect(f).toMatchObject({ type: 'delegation.finish', to: 'done', record: { state: 'succeeded', cost: 0.0123, finishedAt: '2026-05-01T11:59:30.000Z' } });
    expect(f.text).toContain('## Result (gemini, job job-t1)\n\nAll good.\n');
    expect(f.text).toContain('<!-- claude-failover:delegated -->');
    expect(f.text).toMatch(/- provider: gemini\n- job: job-t1\n- cost: 0\.0123 USD\n- started: 2026-05-01T11:59:00\.000Z\n- finished: 2026-05-01T11:59:30\.000Z\n- duration: 30s\n- attempts: 1/);
    expect(out.events.map((e) => e.reason)).toEqual(['DelegatedTaskSucceeded']);
  });

  it('failed → failed/ with the error', () => {
    const { effects, out } = plan({ delegated: ['t1'], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'failed', error: 'provider_error: overloaded' } } });
    expect(effects).toMatchObject([{ type: 'delegation.finish', to: 'failed', text: 'delegated job job-t1 (gemini) failed: provider_error: overloaded', record: { state: 'failed' } }]);
    expect(out.events.map((e) => e.reason)).toEqual(['TaskFailed']);
  });

  it.each<[boolean, 'failed' | 'inbox']>([[false, 'failed'], [true, 'inbox']])('jobTimeout (fallbackToLocal %s) → %s, the job cancelled', (fallbackToLocal, to) => {
    const r = rec('t1', { submittedAt: '2026-05-01T10:59:00.000Z' });
    const { effects } = plan({ policy: { jobTimeout: '1h', fallbackToLocal }, delegated: ['t1'], records: [r], polls: { t1: { id: 'job-t1', status: 'running' } } });
    const f = effects[0] as DelegationFinishEffect;
    expect(f).toMatchObject({ type: 'delegation.finish', to, cancelJob: true, record: { state: to === 'inbox' ? 'returned' : 'failed' } });
    if (to === 'inbox') expect(f.set).toMatchObject({ allow_delegation: false });
    expect(to === 'inbox' ? f.set?.last_error : f.text).toMatch(/did not finish within jobTimeout 1h \(still running\)/);
  });

  it('no timeout while the API cannot be polled (an outage is not the job’s fault)', () => {
    const r = rec('t1', { submittedAt: '2026-05-01T10:00:00.000Z' });
    const { effects, status } = plan({ policy: { jobTimeout: '1h' }, delegated: ['t1'], records: [r], polls: { t1: { pollError: 'unreachable' } } });
    expect(effects).toEqual([]);
    expect(status.activeJobs).toMatchObject([{ taskId: 't1', state: 'submitted' }]);
  });

  it('a running job keeps polling; a status change is recorded', () => {
    const { effects, out } = plan({ policy: { pollInterval: '3s' }, delegated: ['t1'], records: [rec('t1', { jobStatus: 'queued' })], polls: { t1: { id: 'job-t1', status: 'running' } } });
    expect(effects).toMatchObject([{ type: 'delegation.writeRecord', record: { jobStatus: 'running' } }]);
    expect(out.requeueAfterMs['DelegationPolicy/sec']).toBe(3_000);
  });
});

describe('DelegationPolicy plan: budget', () => {
  const spent = (cost: number, at = '2026-05-01T09:00:00.000Z') => rec(`s${cost}${at}`, { state: 'succeeded', cost, finishedAt: at });

  it('below the budget: delegates, BudgetAvailable True', () => {
    const { effects, cond, status } = plan({ policy: { budget: { maxCostPerDay: 2 } }, ready: [task('a', 'preferred_ai: gemini')], records: [spent(1.5), spent(5, '2026-04-30T23:00:00.000Z')] });
    expect(effects.map((e) => e.type)).toEqual(['delegation.submit']);
    expect(cond('BudgetAvailable')).toMatchObject({ status: 'True', reason: 'WithinBudget' });
    expect([status.costToday, status.budget, status.budgetExhausted]).toEqual([1.5, { maxCostPerDay: 2, remaining: 0.5 }, false]);
  });

  it('reached: delegate-routed tasks are marked local, local ones untouched, ONE event per day', () => {
    const s: Setup = { policy: { budget: { maxCostPerDay: 2 } }, ready: [task('a', 'preferred_ai: gemini'), task('b', ''), task('c', 'preferred_ai: gpu')], records: [spent(1), spent(1.25)] };
    const first = plan(s);
    expect(first.effects).toEqual([
      { type: 'delegation.routeLocal', root: ROOT, taskId: 'a', set: { allow_delegation: false } },
      { type: 'delegation.routeLocal', root: ROOT, taskId: 'c', set: { allow_delegation: false } },
    ]);
    expect(first.out.events.filter((e) => e.reason === 'DelegationBudgetReached')).toHaveLength(1);
    expect(first.cond('BudgetAvailable')).toMatchObject({ status: 'False', reason: 'BudgetReached' });
    expect(first.status).toMatchObject({ budgetExhausted: true, budgetReachedOn: '2026-05-01', costToday: 2.25 });
    const again = plan({ ...s, prior: first.status });
    expect(again.out.events.filter((e) => e.reason === 'DelegationBudgetReached')).toHaveLength(0);
    const nextDay = plan({ ...s, prior: { ...first.status, budgetReachedOn: '2026-04-30' } });
    expect(nextDay.out.events.filter((e) => e.reason === 'DelegationBudgetReached')).toHaveLength(1);
  });
});

describe('status helpers', () => {
  it('counts records and history, and the cost of a day', () => {
    const records = [
      rec('a', { state: 'succeeded', cost: 1, finishedAt: '2026-05-01T01:00:00.000Z' }),
      rec('b', { state: 'failed', cost: 0.5, finishedAt: '2026-04-30T01:00:00.000Z', history: [{ attempt: 1, state: 'returned', jobId: 'j0', cost: 0.25, finishedAt: '2026-05-01T02:00:00.000Z' }] }),
      rec('c', { state: 'pending', jobId: undefined }),
    ];
    expect(countRecords(records)).toEqual({ submitted: 3, succeeded: 1, failed: 1, returned: 1 });
    expect(costOnDay(records, '2026-05-01')).toBe(1.25);
  });

  it('delegatedSessionsView gives the Project status.json entries', () => {
    const { status } = plan({ delegated: ['t1'], records: [rec('t1')], polls: { t1: { id: 'job-t1', status: 'running' } } });
    expect(delegatedSessionsView(status, 'web')).toEqual({
      sessions: { 'delegated:t1': { state: 'delegated_to_secutools', task: 't1', since: '2026-05-01T11:59:00.000Z' } },
      delegated: [{ taskId: 't1', provider: 'gemini', jobId: 'job-t1' }],
    });
    expect(delegatedSessionsView(status, 'other')).toEqual({ sessions: {}, delegated: [] });
    expect(delegatedSessionsView(undefined, 'web')).toEqual({ sessions: {}, delegated: [] });
  });
});
