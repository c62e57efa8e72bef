/**
 * Delegation e2e (issue 6 acceptance): the built CLI (`reconcile --once` repeatedly, or `run`)
 * against the reference fake job server on 127.0.0.1. No sessions are needed: tasks the router
 * sends local simply stay in inbox/.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotencyKeyFor } from '../../src/adapters/delegation/client.js';
import { ensureQueueDirs } from '../../src/adapters/queue/index.js';
import { decide, type RouterPolicy, type RouterProject } from '../../src/core/router.js';
import { parseTask } from '../../src/core/task.js';
import { startFakeJobServer, type FakeProvider } from '../../src/demo/fake-job-server.js';
import { startFakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { runCli, type CliResult } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { tempDir } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const KEY = 'sk-e2e-delegation-5f1c2a9b';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface PolicyOpts {
  maxConcurrentJobs?: number;
  budget?: number;
  retry?: string;
  fallbackToLocal?: boolean;
  jobTimeout?: string;
}

async function setup(opts: { policy?: PolicyOpts; providers?: Record<string, FakeProvider>; webhookUrl?: string } = {}) {
  const server = await startFakeJobServer({ apiKey: KEY, providers: opts.providers ?? { gemini: { durationMs: 20, cost: 0.01 } } });
  const root = tempDir('deleg');
  const tmux = new PrivateTmuxServer();
  cleanups.push(() => server.close(), () => tmux.kill(), () => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const project = join(root, 'projects', 'web');
  const queue = join(project, '.agent-queue');
  mkdirSync(project, { recursive: true });
  await ensureQueueDirs(queue, { durable: false });
  const manifests = join(root, 'manifests');
  mkdirSync(manifests);
  const p = opts.policy ?? {};
  writeFileSync(
    join(manifests, 'pool.yaml'),
    `apiVersion: claudefailover.io/v1alpha1
kind: Project
metadata:
  name: web
spec:
  path: ${project}
  delegationPolicy: sec
---
apiVersion: claudefailover.io/v1alpha1
kind: DelegationPolicy
metadata:
  name: sec
spec:
  endpoint: ${server.url}
  apiKey:
    env: CF_TEST_DELEGATION_KEY
  providers: [gemini]
  maxConcurrentJobs: ${p.maxConcurrentJobs ?? 4}
  pollInterval: 100ms
  jobTimeout: ${p.jobTimeout ?? '1h'}
  fallbackToLocal: ${p.fallbackToLocal ?? false}
  retry: ${p.retry ?? '{maxAttempts: 3, baseDelay: 20ms, maxDelay: 100ms}'}
${p.budget !== undefined ? `  budget:\n    maxCostPerDay: ${p.budget}\n` : ''}${opts.webhookUrl ? `---\napiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: ops\nspec:\n  type: webhook\n  webhook:\n    url: ${opts.webhookUrl}\n` : ''}`,
  );
  const stateDir = join(root, 'state');
  const env = { CF_TEST_DELEGATION_KEY: KEY };
  const args = ['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket];
  const reconcile = (extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> => runCli(['reconcile', '--once', ...args], { env: { ...env, ...extraEnv }, timeoutMs: 30_000 });
  const addTask = (id: string, frontmatter: string, body = `Please do ${id}.\n`) => {
    const tmp = join(queue, '.tmp', `${id}.md`);
    writeFileSync(tmp, frontmatter ? `---\n${frontmatter}\n---\n${body}` : body);
    const past = (Date.now() - 10_000) / 1000;
    utimesSync(tmp, past, past);
    renameSync(tmp, join(queue, 'inbox', `${id}.md`));
  };
  const where = (id: string) => ['inbox', 'dispatched', 'delegated', 'done', 'failed'].filter((s) => existsSync(join(queue, s, `${id}.md`)));
  const read = (state: string, id: string) => readFileSync(join(queue, state, `${id}.md`), 'utf8');
  const record = (id: string) => (existsSync(join(queue, 'jobs', `${id}.json`)) ? (JSON.parse(readFileSync(join(queue, 'jobs', `${id}.json`), 'utf8')) as Record<string, unknown>) : undefined);
  const status = () => {
    const f = join(stateDir, 'status.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, Record<string, unknown>>)['DelegationPolicy/sec'] : undefined;
  };
  const events = () => (existsSync(join(stateDir, 'events.jsonl')) ? readFileSync(join(stateDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);
  /** Reconciles until `cond` holds (bounded). */
  const converge = async (cond: () => boolean, max = 12, extraEnv: NodeJS.ProcessEnv = {}) => {
    const outputs: string[] = [];
    for (let i = 0; i < max && !cond(); i++) {
      const r = await reconcile(extraEnv);
      outputs.push(`#${i} exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      if (!cond()) await new Promise((res) => setTimeout(res, 60));
    }
    if (!cond()) throw new Error(`did not converge:\n${outputs.join('\n---\n')}`);
  };
  return { server, root, queue, manifests, stateDir, env, args, tmux, reconcile, addTask, where, read, record, status, events, converge };
}

describe('delegation e2e (fake job server)', () => {
  it('delegates preferred_ai: gemini to done/ with the result and footer; needs_claude_code and plain tasks stay local', async () => {
    const t = await setup();
    t.addTask('g1', 'preferred_ai: gemini');
    t.addTask('g2', 'preferred_ai: gemini\npriority: high', 'Summarise the release notes.\nLine two.\n');
    t.addTask('cc', 'needs_claude_code: true\npreferred_ai: gemini');
    t.addTask('plain', '');
    await t.converge(() => t.where('g1')[0] === 'done' && t.where('g2')[0] === 'done');
    const done = t.read('done', 'g2');
    expect(done.startsWith('---\npreferred_ai: gemini\npriority: high\n---\nSummarise the release notes.\nLine two.\n')).toBe(true);
    expect(done).toMatch(/## Result \(gemini, job job-\d+\)\n\ngemini finished task g2: 39 bytes of prompt, starting "Summarise the release notes\."/);
    expect(done).toContain('<!-- claude-failover:delegated -->');
    expect(done).toMatch(/- task: g2\n- provider: gemini\n- job: job-\d+\n- cost: 0\.0100 USD\n- started: \S+\n- finished: \S+\n- duration: \S+\n- attempts: 1\n$/);
    // Local tasks: never sent, never moved by the delegation controller.
    expect(t.where('cc')).toEqual(['inbox']);
    expect(t.where('plain')).toEqual(['inbox']);
    expect(t.server.jobsForTask('cc')).toEqual([]);
    expect(t.server.jobs.map((j) => j.taskId).sort()).toEqual(['g1', 'g2']);
    expect(t.read('inbox', 'cc')).toBe('---\nneeds_claude_code: true\npreferred_ai: gemini\n---\nPlease do cc.\n');
    // Records and status (counters come from the records: one more pass sees the finished ones).
    await t.reconcile();
    expect(t.record('g1')).toMatchObject({ state: 'succeeded', provider: 'gemini', attempt: 1, cost: 0.01, idempotencyKey: idempotencyKeyFor('g1', 1) });
    const st = t.status();
    expect(st).toMatchObject({ counters: { submitted: 2, succeeded: 2, failed: 0, returned: 0 }, costToday: 0.02, activeCount: 0, budgetExhausted: false });
    expect((st?.conditions as { type: string; status: string }[]).map((c) => `${c.type}=${c.status}`).sort()).toEqual(['BudgetAvailable=True', 'CircuitClosed=True', 'Ready=True']);
    // The key never appears in the plan output, status or events.
    const everything = readdirSync(t.stateDir).map((f) => (f.endsWith('.json') || f.endsWith('.jsonl') ? readFileSync(join(t.stateDir, f), 'utf8') : '')).join('\n');
    expect(everything).not.toContain(KEY);

    // The CLI reads the same job.
    const jobId = t.server.jobsForTask('g1')[0]?.id as string;
    const got = await runCli(['delegate', 'get', jobId, '--policy', 'sec', '-f', t.manifests, '-o', 'json'], { env: t.env });
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: jobId, status: 'succeeded', provider: 'gemini', cost: 0.01 });
    const res = await runCli(['delegate', 'result', jobId, '--policy', 'sec', '-f', t.manifests], { env: t.env });
    expect([res.code, res.stdout]).toEqual([0, 'gemini finished task g1: 14 bytes of prompt, starting "Please do g1."\n']);
  });

  it.each(['delegate.submitted', 'delegate.recorded', 'delegate.moved'])('SIGKILL at %s: after a restart the server has exactly one job for the task', async (step) => {
    const t = await setup();
    t.addTask('k1', 'preferred_ai: gemini');
    const crashed = await t.reconcile({ CF_TEST_CRASH_AT: step });
    expect(crashed.code).toBe(-1); // killed by SIGKILL
    const key = idempotencyKeyFor('k1', 1);
    const rec = t.record('k1');
    expect(rec).toMatchObject({ state: 'pending', attempt: 1, idempotencyKey: key });
    expect(rec?.jobId).toBeUndefined();
    expect(t.where('k1')).toEqual([step === 'delegate.recorded' ? 'inbox' : 'delegated']);
    expect(t.server.submitsFor(key)).toBe(step === 'delegate.submitted' ? 1 : 0);
    await t.converge(() => t.where('k1')[0] === 'done');
    expect(t.server.jobsForTask('k1')).toHaveLength(1);
    expect(t.server.submitsFor(key)).toBe(step === 'delegate.submitted' ? 2 : 1);
    expect(t.record('k1')).toMatchObject({ state: 'succeeded', jobId: t.server.jobsForTask('k1')[0]?.id });
  });

  it('a 400 from the API: failed/ with the message, never retried', async () => {
    const t = await setup();
    t.server.failFor({ status: 400, on: 'submit', times: 1, code: 'content_policy', message: 'prompt rejected by the content filter' });
    t.addTask('bad', 'preferred_ai: gemini');
    t.addTask('good', 'preferred_ai: gemini');
    await t.converge(() => t.where('bad')[0] === 'failed' || t.where('good')[0] === 'failed');
    await t.converge(() => t.where('good')[0] === 'done' || t.where('bad')[0] === 'done');
    const failedId = t.where('bad')[0] === 'failed' ? 'bad' : 'good';
    const text = t.read('failed', failedId);
    expect(text).toContain('<!-- claude-failover:failed -->');
    expect(text).toMatch(/reason: the job API refused the job for provider gemini: http:\/\/127\.0\.0\.1:\d+ answered 400 content_policy: prompt rejected by the content filter/);
    await t.reconcile();
    expect(t.server.submitsFor(idempotencyKeyFor(failedId, 1))).toBe(1);
    expect(t.record(failedId)).toMatchObject({ state: 'failed' });
    expect(t.status()).toMatchObject({ counters: { failed: 1, succeeded: 1 } });
    // A dead letter is loud: one TaskFailed, like a local failure.
    const failed = t.events().filter((e) => e.reason === 'TaskFailed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ key: 'DelegationPolicy/sec', type: 'Warning', data: { taskId: failedId, project: 'web', provider: 'gemini', status: 400, refused: true } });
    expect(failed[0]?.message).toMatch(new RegExp(`^task ${failedId} of project web: the job API refused the job for provider gemini: .*answered 400 content_policy: prompt rejected by the content filter; moved to failed/`));
  });

  it('a 422 under `run`: TaskFailed and a webhook notification, as for a local dead letter', async () => {
    const hook = await startFakeWebhookServer();
    cleanups.push(() => hook.close());
    const t = await setup({ webhookUrl: `${hook.url}/hooks/cf` });
    t.server.failFor({ status: 422, on: 'submit', code: 'unprocessable_entity', message: 'prompt too long for provider gemini' });
    const d = new DaemonProcess([...t.args, '--resync', '1s'], t.env);
    cleanups.push(() => d.stop('SIGKILL'));
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 30_000);
    t.addTask('refused', 'preferred_ai: gemini');
    // A local dead letter beside it: a task whose frontmatter is not YAML.
    t.addTask('broken', 'priority: [unclosed');
    const [first, second] = await hook.waitForDeliveries(2, 30_000);
    const sent = [first, second].map((r) => r?.json as { event: string; key: string; message: string; data: Record<string, unknown> });
    const remote = sent.find((n) => n.key === 'DelegationPolicy/sec');
    const local = sent.find((n) => n.key === 'Project/web');
    expect(local).toMatchObject({ event: 'TaskFailed', data: { taskId: 'broken' } });
    expect(remote).toMatchObject({ event: 'TaskFailed', data: { taskId: 'refused', project: 'web', provider: 'gemini', status: 422, refused: true } });
    expect(remote?.message).toMatch(/^task refused of project web: the job API refused the job for provider gemini: .*answered 422 unprocessable_entity: prompt too long for provider gemini; moved to failed\//);
    expect(t.where('refused')).toEqual(['failed']);
    expect(t.read('failed', 'refused')).toMatch(/reason: the job API refused the job for provider gemini: .*422/);
    expect(t.server.submitsFor(idempotencyKeyFor('refused', 1))).toBe(1);
    expect(t.events().filter((e) => e.reason === 'TaskFailed')).toHaveLength(2);
    expect(await d.stop('SIGTERM')).toBe(0);
  });

  it('budget cap: once reached, further tasks go local (marked allow_delegation: false) and the event is emitted once', async () => {
    const t = await setup({ policy: { maxConcurrentJobs: 1, budget: 1.5 }, providers: { gemini: { durationMs: 10, cost: 1 } } });
    for (const [i, id] of ['b1', 'b2', 'b3', 'b4'].entries()) {
      t.addTask(id, 'preferred_ai: gemini');
      const past = (Date.now() - 60_000 + i * 1000) / 1000; // b1 oldest
      utimesSync(join(t.queue, 'inbox', `${id}.md`), past, past);
    }
    await t.converge(() => t.events().some((e) => e.reason === 'DelegationBudgetReached'), 16);
    await t.reconcile();
    await t.reconcile();
    expect(['b1', 'b2', 'b3', 'b4'].map((id) => t.where(id)[0])).toEqual(['done', 'done', 'inbox', 'inbox']);
    for (const id of ['b3', 'b4']) expect(t.read('inbox', id)).toMatch(/^---\npreferred_ai: gemini\nallow_delegation: false\n---\n/);
    expect(t.server.jobs.map((j) => j.taskId)).toEqual(['b1', 'b2']);
    const reached = t.events().filter((e) => e.reason === 'DelegationBudgetReached');
    expect(reached).toHaveLength(1);
    expect(reached[0]).toMatchObject({ key: 'DelegationPolicy/sec', type: 'Warning', data: { costToday: 2, maxCostPerDay: 1.5 } });
    expect(t.status()).toMatchObject({ budgetExhausted: true, costToday: 2, budget: { maxCostPerDay: 1.5, remaining: 0 } });
    // The router now sends them local: decide agrees.
    const d = await runCli(['delegate', 'decide', '--project', 'web', '-f', t.manifests, '--file', join(t.queue, 'inbox', 'b3.md')]);
    expect(d.stdout).toBe('local (rule delegation-disallowed): allow_delegation is false\n');
  });

  it('jobTimeout with fallbackToLocal: the task goes back to inbox/ as local and the job is cancelled', async () => {
    const t = await setup({ policy: { jobTimeout: '300ms', fallbackToLocal: true }, providers: { gemini: { durationMs: 60_000, cost: 0.5 } } });
    t.addTask('slow', 'preferred_ai: gemini');
    await t.converge(() => t.where('slow')[0] === 'delegated' && t.record('slow')?.state === 'submitted');
    await new Promise((r) => setTimeout(r, 400));
    await t.converge(() => t.where('slow')[0] === 'inbox');
    const back = parseTask(t.read('inbox', 'slow'), { id: 'slow', state: 'inbox', fileName: 'slow.md', path: 'slow.md', mtimeMs: 0, size: 0 });
    expect(back.frontmatter).toEqual({ preferred_ai: 'gemini', allow_delegation: false, last_error: 'delegated job job-1 (gemini) did not finish within jobTimeout 300ms (still running); running locally' });
    expect(back.body).toBe('Please do slow.\n');
    expect(t.record('slow')).toMatchObject({ state: 'returned' });
    expect(t.server.view('job-1')).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });
    await t.reconcile();
    expect(t.where('slow')).toEqual(['inbox']);
    expect(t.server.jobs).toHaveLength(1);
  });

  it('the API answers 503 for a while: tasks wait (not failed), the circuit opens and says so, then everything completes', async () => {
    const t = await setup({ policy: { maxConcurrentJobs: 2, retry: '{maxAttempts: 2, baseDelay: 20ms, maxDelay: 300ms}' } });
    t.server.failFor({ status: 503, durationMs: 3_000 });
    for (const id of ['w1', 'w2', 'w3']) t.addTask(id, 'preferred_ai: gemini');
    const d = new DaemonProcess([...t.args, '--resync', '1s'], t.env);
    cleanups.push(() => d.stop('SIGKILL'));
    const seen = { open: false, failedWhileDown: false, waitingInInbox: false };
    await until(() => {
      const st = t.status();
      const conds = (st?.conditions ?? []) as { type: string; status: string; reason: string; message: string }[];
      const c = conds.find((x) => x.type === 'CircuitClosed');
      if (c?.status === 'False') {
        seen.open = true;
        if (/stay in inbox\/, not failed/.test(c.message) && ((st?.waiting ?? []) as unknown[]).length > 0) seen.waitingInInbox = true;
      }
      if (readdirSync(join(t.queue, 'failed')).length > 0) seen.failedWhileDown = true;
      return ['w1', 'w2', 'w3'].every((id) => t.where(id)[0] === 'done');
    }, 25_000, 'all three tasks done');
    expect(seen).toEqual({ open: true, failedWhileDown: false, waitingInInbox: true });
    for (const id of ['w1', 'w2', 'w3']) expect(t.server.jobsForTask(id)).toHaveLength(1);
    const refused = t.server.requests.filter((r) => r.status === 503).length;
    expect(refused).toBeGreaterThan(0);
    // Status follows on the next pass (counters come from the job records).
    await until(() => (t.status()?.counters as { succeeded?: number } | undefined)?.succeeded === 3, 10_000, 'counters updated');
    expect(t.status()).toMatchObject({ counters: { submitted: 3, succeeded: 3, failed: 0 }, activeCount: 0 });
    expect(await d.stop('SIGTERM')).toBe(0);
  });
});

describe('delegate decide agrees with the router on the full precedence table', () => {
  const values = {
    needs_claude_code: [undefined, 'true', 'false'],
    preferred_ai: [undefined, 'claude-code', 'gemini', 'GPU', 'mistral'],
    allow_delegation: [undefined, 'true', 'false'],
  } as const;
  const combos: { id: string; fm: string }[] = [];
  for (const n of values.needs_claude_code) for (const p of values.preferred_ai) for (const a of values.allow_delegation) {
    const lines = [n && `needs_claude_code: ${n}`, p && `preferred_ai: ${p}`, a && `allow_delegation: ${a}`].filter(Boolean);
    combos.push({ id: `n${n ?? '-'}_p${p ?? '-'}_a${a ?? '-'}`, fm: lines.join('\n') });
  }

  it.each<[string, string[], RouterProject, RouterPolicy | undefined]>([
    ['policy with a default provider', ['--providers', 'gemini,gpu', '--default-provider', 'gemini'], { name: '(cli)', delegationPolicy: 'cli' }, { name: 'cli', providers: ['gemini', 'gpu'], defaultProvider: 'gemini' }],
    ['policy without a default provider', ['--providers', 'gemini'], { name: '(cli)', delegationPolicy: 'cli' }, { name: 'cli', providers: ['gemini'] }],
    ['no policy', [], { name: '(none)' }, undefined],
  ])('%s (%j)', async (_name, flags, project, policy) => {
    const dir = tempDir('decide');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
    const files = combos.map((c) => {
      const f = join(dir, `${c.id}.md`);
      writeFileSync(f, c.fm ? `---\n${c.fm}\n---\nBody of ${c.id}.\n` : `Body of ${c.id}.\n`);
      return f;
    });
    const r = await runCli(['delegate', 'decide', ...flags, '-o', 'json', ...files.flatMap((f) => ['--file', f])]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toHaveLength(combos.length);
    const rules = new Set<string>();
    combos.forEach((c, i) => {
      const task = parseTask(readFileSync(files[i] as string, 'utf8'), { id: c.id, state: 'inbox', fileName: `${c.id}.md`, path: files[i] as string, mtimeMs: 0, size: 0 });
      const want = decide(task, project, policy);
      rules.add(want.rule);
      expect(got[i]).toEqual({ file: files[i], taskId: c.id, route: want.route, ...(want.provider ? { provider: want.provider } : {}), rule: want.rule, reason: want.reason });
    });
    // The table really exercises the precedence (several rules fire per policy situation).
    expect(rules.size).toBeGreaterThanOrEqual(policy ? 6 : 5);
  });
});
