import { describe, expect, it } from 'vitest';
import { goClaimId, goMarkerOf, keyOf, parseGoMarker, planGoMigration, type MigrationInput, type ObservedMarker, type ObservedTaskFile } from './go-migration.js';

describe('goMarkerOf', () => {
  it.each([
    ['fix.md.delegated', { kind: 'delegated', taskId: 'fix' }],
    ['fix.delegated', { kind: 'delegated', taskId: 'fix' }],
    ['20260501-x.md.dispatched', { kind: 'dispatched', taskId: '20260501-x' }],
    ['a.b.dispatched', { kind: 'dispatched', taskId: 'a.b' }],
    ['fix.md', undefined],
    ['.fix.md.delegated', undefined],
    ['delegated', undefined],
    ['fix.md.delegated.tmp', undefined],
  ])('%s', (name, want) => {
    expect(goMarkerOf(name)).toEqual(want);
  });
});

describe('parseGoMarker', () => {
  const cases: [string, string, 'delegated' | 'dispatched', unknown][] = [
    ['empty: imported by name', '', 'delegated', { form: 'unknown' }],
    ['whitespace only', '  \n', 'dispatched', { form: 'unknown' }],
    ['JSON with snake_case keys', '{"job_id":"job-81","provider":"gemini","submitted_at":"2026-05-01T10:00:00Z"}', 'delegated', { form: 'record', record: { jobId: 'job-81', provider: 'gemini', at: '2026-05-01T10:00:00.000Z' } }],
    ['JSON with camelCase and epoch seconds', '{"jobId":"j1","submittedAt":1746093600}', 'delegated', { form: 'record', record: { jobId: 'j1', at: '2025-05-01T10:00:00.000Z' } }],
    ['JSON without a known key', '{"foo":1}', 'delegated', { form: 'unknown' }],
    ['key: value lines', 'session: ccl-3\naccount: main\ndispatched_at: 2026-05-01T10:00:00Z\nattempt: 2\n', 'dispatched', { form: 'record', record: { session: 'ccl-3', account: 'main', at: '2026-05-01T10:00:00.000Z', attempt: 2 } }],
    ['key=value lines', 'SESSION=ccl-1\nTIME=1746093600000\n', 'dispatched', { form: 'record', record: { session: 'ccl-1', at: '2025-05-01T10:00:00.000Z' } }],
    ['a bare job id', 'job-42\n', 'delegated', { form: 'record', record: { jobId: 'job-42' } }],
    ['a bare session name', 'ccl-0', 'dispatched', { form: 'record', record: { session: 'ccl-0' } }],
    ['the task itself (markdown)', '# Fix the login\n\nIt fails.\n', 'delegated', { form: 'text' }],
    ['the task itself (frontmatter)', '---\npriority: high\n---\nDo it\n', 'dispatched', { form: 'text' }],
    ['a one-word task is read as a token (a job id)', 'refactor', 'delegated', { form: 'record', record: { jobId: 'refactor' } }],
    ['a task starting with { that is not JSON', '{braces} in a task\nmore', 'delegated', { form: 'text' }],
  ];
  it.each(cases)('%s', (_n, text, kind, want) => {
    expect(parseGoMarker(text, kind)).toEqual(want);
  });
});

const ROOT = '/srv/web/.agent-queue';
const NOW = Date.parse('2026-05-01T12:00:00.000Z');

function marker(over: Partial<ObservedMarker> & Pick<ObservedMarker, 'kind' | 'taskId' | 'content'>): ObservedMarker {
  const place = over.place ?? 'inbox';
  return { project: 'web', root: ROOT, path: `${ROOT}/${place}/${over.taskId}.md.${over.kind}`, place, mtimeMs: NOW - 60_000, ...over };
}

function input(markers: ObservedMarker[], over: Partial<MigrationInput> = {}, tasks: Record<string, ObservedTaskFile[]> = {}): MigrationInput {
  return {
    projects: [{ name: 'web', root: ROOT, policy: { name: 'secutools', providers: ['gemini', 'gpu'], defaultProvider: 'gemini' }, sessions: [{ name: 'ccl-0' }, { name: 'ccl-1', account: 'backup' }] }],
    accounts: ['main', 'backup'],
    markers,
    tasks: new Map(Object.entries(tasks).map(([id, f]) => [keyOf(ROOT, id), f])),
    jobRecords: new Map(),
    leases: new Map(),
    jobs: new Map(),
    now: NOW,
    ...over,
  };
}

const beside = (id: string, place: ObservedTaskFile['place'] = 'inbox', text = `# ${id}\n`): ObservedTaskFile => ({ path: `${ROOT}/${place}/${id}.md`, place, text });

describe('planGoMigration', () => {
  it('a delegation with its job → job record (submitted) + the task to delegated/', () => {
    const m = marker({ kind: 'delegated', taskId: 'fix', content: { form: 'record', record: { jobId: 'job-1', at: '2026-05-01T11:00:00.000Z' } } });
    const p = planGoMigration(input([m], { jobs: new Map([[keyOf(ROOT, 'fix'), { found: true, jobId: 'job-1', status: 'running', provider: 'gpu', via: 'marker' }]]) }, { fix: [beside('fix')] }));
    expect(p.leftovers).toEqual([]);
    expect(p.steps).toHaveLength(1);
    expect(p.steps[0]).toMatchObject({ type: 'delegation', from: `${ROOT}/inbox/fix.md`, marker: m.path, record: { taskId: 'fix', project: 'web', policy: 'secutools', provider: 'gpu', attempt: 1, state: 'submitted', jobId: 'job-1', jobStatus: 'running', createdAt: '2026-05-01T11:00:00.000Z', submittedAt: new Date(NOW).toISOString() } });
  });
  it('the renamed task is its own source; the provider falls back to the task\'s preferred_ai, then the default', () => {
    const m = marker({ kind: 'delegated', taskId: 'sum', content: { form: 'text' }, text: '---\npreferred_ai: gpu\n---\nSummarize\n' });
    const jobs = new Map([[keyOf(ROOT, 'sum'), { found: true as const, jobId: 'job-2', status: 'queued', via: 'task id' as const }]]);
    const p = planGoMigration(input([m], { jobs }));
    expect(p.steps[0]).toMatchObject({ type: 'delegation', from: m.path, record: { provider: 'gpu', jobId: 'job-2' } });
    const m2 = marker({ kind: 'delegated', taskId: 'sum', content: { form: 'text' }, text: 'Summarize\n' });
    expect(planGoMigration(input([m2], { jobs })).steps[0]).toMatchObject({ record: { provider: 'gemini' } });
  });
  it('a delegation whose job is unknown, or without a policy, is left with what to do', () => {
    const m = marker({ kind: 'delegated', taskId: 'lost', content: { form: 'unknown' } });
    const p = planGoMigration(input([m], { jobs: new Map([[keyOf(ROOT, 'lost'), { found: false, why: 'no job for task lost' }]]) }, { lost: [beside('lost')] }));
    expect(p.steps).toEqual([]);
    expect(p.leftovers[0]).toMatchObject({ what: 'task lost was delegated, but its job is unknown: no job for task lost', todo: expect.stringMatching(/echo JOB_ID > .*lost\.md\.delegated.*or run the task locally: mv .*inbox\/lost\.md .*inbox\/lost\.md && rm/) });
    const noPolicy = input([m], {}, { lost: [beside('lost')] });
    noPolicy.projects = [{ name: 'web', root: ROOT, sessions: [] }];
    expect(planGoMigration(noPolicy).leftovers[0]?.what).toMatch(/has no DelegationPolicy/);
  });
  it('an existing record for another job is not replaced; the same job is (a re-run finishing a step)', () => {
    const m = marker({ kind: 'delegated', taskId: 'fix', content: { form: 'record', record: { jobId: 'job-1' } } });
    const jobs = new Map([[keyOf(ROOT, 'fix'), { found: true as const, jobId: 'job-1', status: 'running', via: 'marker' as const }]]);
    expect(planGoMigration(input([m], { jobs, jobRecords: new Map([[keyOf(ROOT, 'fix'), { jobId: 'job-9' }]]) }, { fix: [beside('fix')] })).leftovers[0]?.what).toMatch(/already has a job record \(job job-9\)/);
    expect(planGoMigration(input([m], { jobs, jobRecords: new Map([[keyOf(ROOT, 'fix'), { jobId: 'job-1' }]]) }, { fix: [beside('fix')] })).steps).toHaveLength(1);
  });
  it('a dispatch to a declared session → lease (claimed at the import, not delivered), account: marker, pin, active, first', () => {
    const mk = (record: Record<string, unknown>) => marker({ kind: 'dispatched', taskId: 't', place: 'dispatched', content: { form: 'record', record } });
    const plan = (record: Record<string, unknown>, over: Partial<MigrationInput> = {}) => planGoMigration(input([mk(record)], over, { t: [beside('t', 'dispatched', '---\nattempts: 2\n---\nT\n')] })).steps[0];
    expect(plan({ session: 'ccl-0', account: 'backup' })).toMatchObject({ type: 'lease', lease: { version: 1, taskId: 't', claimId: goClaimId(ROOT, 't'), session: 'ccl-0', account: 'backup', attempt: 3, claimedAt: new Date(NOW).toISOString() } });
    expect(plan({ session: 'ccl-0', attempt: 1 })).toMatchObject({ lease: { account: 'main', attempt: 1 } });
    expect(plan({ session: 'ccl-1' })).toMatchObject({ lease: { account: 'backup' } });
    expect(plan({ session: 'ccl-0' }, { activeAccount: 'backup' })).toMatchObject({ lease: { account: 'backup' } });
    expect(plan({ session: 'ccl-0', account: 'nope' })).toMatchObject({ lease: { account: 'main' } });
    const step = plan({ session: 'ccl-0' });
    expect(step && 'lease' in step ? step.lease.deliveredAt : 'x').toBeUndefined();
  });
  it('a dispatch whose session is unknown or unnamed → back to inbox with last_error', () => {
    const m = marker({ kind: 'dispatched', taskId: 'r', place: 'dispatched', content: { form: 'record', record: { session: 'ccl-9' } } });
    const s = planGoMigration(input([m], {}, { r: [beside('r', 'dispatched', 'Refactor\n')] })).steps[0];
    expect(s).toMatchObject({ type: 'requeue', from: `${ROOT}/dispatched/r.md`, text: '---\nlast_error: in flight in the Go system (dispatched to ccl-9); delivered again\n---\nRefactor\n' });
    const renamed = marker({ kind: 'dispatched', taskId: 'x', place: 'dispatched', content: { form: 'text' }, text: 'Do X\n' });
    expect(planGoMigration(input([renamed])).steps[0]).toMatchObject({ type: 'requeue', from: renamed.path, text: '---\nlast_error: in flight in the Go system (dispatched); delivered again\n---\nDo X\n' });
  });
  it('a marker of a finished task is removed; conflicts and duplicates are left', () => {
    const stale = marker({ kind: 'delegated', taskId: 'old', place: 'root', content: { form: 'record', record: { jobId: 'j' } } });
    expect(planGoMigration(input([stale], {}, { old: [beside('old', 'done')] })).steps).toEqual([expect.objectContaining({ type: 'dropMarker', taskId: 'old' })]);
    const both = marker({ kind: 'delegated', taskId: 'b', content: { form: 'text' }, text: 'B\n' });
    expect(planGoMigration(input([both], {}, { b: [beside('b')] })).leftovers[0]?.what).toMatch(/holds a task's text, and inbox\/b\.md exists too/);
    const twice = [marker({ kind: 'dispatched', taskId: 'd', content: { form: 'unknown' } }), marker({ kind: 'dispatched', taskId: 'd', place: 'dispatched', content: { form: 'unknown' } })];
    const p = planGoMigration(input(twice, {}, { d: [beside('d')] }));
    expect(p.steps).toHaveLength(1);
    expect(p.leftovers[0]?.what).toMatch(/a second marker for task d/);
    const orphan = marker({ kind: 'dispatched', taskId: 'o', content: { form: 'record', record: { session: 'ccl-0' } } });
    expect(planGoMigration(input([orphan])).leftovers[0]?.what).toMatch(/no task file beside it/);
  });
});
