/**
 * `migrate --from-go` on a Go-era installation (test/support/go-era.ts): the dry-run reports and
 * changes nothing; --apply turns the markers into job records and leases (or requeues), leaves what
 * it cannot carry over in place, and says what is left to do (account homes with real todos/,
 * foreign hooks, old agents); a re-run finds nothing more. Then the controller, with the
 * compatibility switches of a transition, finishes the carried-over work: the delegated jobs through
 * the job API, the leased task on its session, the requeued ones anywhere.
 * External services are local stand-ins: the fake job API and the fake usage endpoint.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeJobServer, type FakeJobServer } from '../../src/demo/fake-job-server.js';
import { goClaimId } from '../../src/core/go-migration.js';
import { runCli, SIM_BIN } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { startFakeUsageServer } from '../support/fake-usage-server.js';
import { buildGoEra, type GoEra } from '../support/go-era.js';
import { tempDir } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const KEY = 'sk-secutools-e2e-77f1';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Submits a job the way the Go system did (its own idempotency key); returns the job id. */
async function goSubmit(server: FakeJobServer, taskId: string): Promise<string> {
  const r = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'idempotency-key': `go-${taskId}` },
    body: JSON.stringify({ task_id: taskId, provider: 'gemini', prompt: `the Go system's prompt for ${taskId}` }),
  });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

interface Setup {
  era: GoEra;
  server: FakeJobServer;
  goTmux: PrivateTmuxServer;
  fixLoginJob: string;
  summarizeJob: string;
  state: string;
  env: NodeJS.ProcessEnv;
  args: string[];
}

async function setup(opts: { lookup?: boolean; durationMs?: number; accountExtra?: string; sessionEnv?: Record<string, string> } = {}): Promise<Setup> {
  const server = await startFakeJobServer({ apiKey: KEY, providers: { gemini: { durationMs: opts.durationMs ?? 60_000, cost: 0.02 }, gpu: {} }, ...(opts.lookup === false ? { lookup: false } : {}) });
  const root = tempDir('goera');
  const goTmux = new PrivateTmuxServer();
  cleanups.push(() => server.close(), () => goTmux.kill(), () => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const fixLoginJob = await goSubmit(server, 'fix-login');
  const summarizeJob = await goSubmit(server, 'summarize');
  const era = buildGoEra(root, { fixLoginJob, command: [SIM_BIN, '--dangerously-skip-permissions'], ...(opts.accountExtra ? { accountExtra: opts.accountExtra } : {}), ...(opts.sessionEnv ? { sessionEnv: opts.sessionEnv } : {}) });
  // An agent of the Go system still running on its tmux server, under a declared session's name.
  expect(goTmux.run(['new-session', '-d', '-s', 'ccl-1', 'sleep 600']).status).toBe(0);
  const state = join(root, 'state');
  const env = { SECUTOOLS_API_KEY: KEY, SECUTOOLS_API_URL: server.url, CLAUDE_FAILOVER_COMPAT: '', HOME: era.home };
  const args = ['migrate', '--from-go', '-f', era.manifests, '--state-dir', state, '--go-tmux-socket', goTmux.socket, '--compat', 'secutools-key'];
  return { era, server, goTmux, fixLoginJob, summarizeJob, state, env, args };
}

/** Every file under `dir`: relative path → content and mtime (a dry-run must change none). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = `${lstatSync(p).mtimeMs}:${e.isSymbolicLink() ? 'link' : readFileSync(p, 'utf8')}`;
    }
  };
  walk(dir);
  return out;
}

const q = (s: Setup, ...p: string[]) => join(s.era.queue, ...p);

describe('migrate --from-go', () => {
  it('dry-run: reports every step, what it cannot carry over and what is left to do; changes nothing', async () => {
    const s = await setup();
    const before = snapshot(s.era.root);
    const postsBefore = s.server.requests.filter((r) => r.method === 'POST').length;
    const r = await runCli(s.args, { env: s.env });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain('migrate --from-go (dry-run: nothing is changed; --apply carries it over)');
    expect(out).toContain(`+ task fix-login -> delegated/ with job ${s.fixLoginJob} (gemini, running; job named by the marker)`);
    expect(out).toContain(`+ task summarize -> delegated/ with job ${s.summarizeJob} (gemini, running; job found by task id)`);
    expect(out).toContain('+ task add-tests -> dispatched/ leased to session ccl-0 (account main, attempt 1); delivered to it once it is idle');
    expect(out).toContain('~ task refactor -> inbox/ (delivered again): its session "ccl-9" is not a Session of project web');
    expect(out).toContain('~ task mystery -> inbox/ (delivered again): the marker does not name its session');
    expect(out).toContain('- stale marker of task old: the task is already in done/; the marker is removed');
    expect(out).toMatch(/Not carried over \(left in place\):\n {2}! web: task lost was delegated, but its job is unknown: the marker does not name it, and the job API knows no job for task lost\n/);
    // What is left to do, with the command to run.
    expect(out).toContain(`account main: todos/, shell-snapshots/ in ${s.era.accounts.main} are real directories`);
    expect(out).toContain(`-> claude-failover account link main --adopt -f ${s.era.manifests}`);
    expect(out).toContain(`-> claude-failover account link backup --adopt -f ${s.era.manifests}`);
    expect(out).toContain(`account main: projects/ in ${s.era.accounts.main} is a real directory (conversation history: never merged automatically)`);
    expect(out).toContain('project web: hooks claude-failover did not install in');
    expect(out).toContain('secutools-notify.sh (secutools-notify.sh still registered in');
    expect(out).toContain(`agents of the Go system still run on tmux -L ${s.goTmux.socket}: ccl-1`);
    expect(out).toContain('Plan: 5 task(s) to carry over, 1 stale marker(s) to remove, 1 not carried over, 5 to do by hand.');
    // Nothing changed: no file, no job (only reads at the job API).
    expect(snapshot(s.era.root)).toEqual(before);
    expect(s.server.requests.filter((x) => x.method === 'POST').length).toBe(postsBefore);
    expect(existsSync(s.state)).toBe(false);
    const detailed = await runCli([...s.args, '--detailed-exitcode'], { env: s.env });
    expect(detailed.code).toBe(2);
  }, 120_000);

  it('--apply carries the work over (records first, then the task, then the marker); a re-run finds nothing more', async () => {
    const s = await setup();
    const r = await runCli([...s.args, '--apply'], { env: s.env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('Migrated: 5 task(s) to carry over, 1 stale marker(s) to remove, 1 not carried over, 5 to do by hand.');
    expect(r.stdout).not.toContain('FAILED');

    // Delegations: job records the DelegationPolicy controller polls, the tasks in delegated/.
    const fix = JSON.parse(readFileSync(q(s, 'jobs', 'fix-login.json'), 'utf8')) as Record<string, unknown>;
    expect(fix).toMatchObject({ version: 1, taskId: 'fix-login', project: 'web', policy: 'secutools', provider: 'gemini', attempt: 1, state: 'submitted', jobId: s.fixLoginJob, jobStatus: 'running' });
    expect(readFileSync(q(s, 'delegated', 'fix-login.md'), 'utf8')).toContain('# Fix the login test');
    expect(existsSync(q(s, 'inbox', 'fix-login.md'))).toBe(false);
    expect(existsSync(q(s, 'inbox', 'fix-login.md.delegated'))).toBe(false);
    expect(JSON.parse(readFileSync(q(s, 'jobs', 'summarize.json'), 'utf8'))).toMatchObject({ jobId: s.summarizeJob, state: 'submitted' });
    expect(readFileSync(q(s, 'delegated', 'summarize.md'), 'utf8')).toBe('---\nallow_delegation: true\n---\n# Summarize the auth module\n\nFive bullet points.\n');
    expect(existsSync(q(s, 'inbox', 'summarize.md.delegated'))).toBe(false);
    // The lease: for session ccl-0, not yet delivered (the controller delivers it).
    const lease = JSON.parse(readFileSync(q(s, 'leases', 'add-tests.json'), 'utf8')) as Record<string, unknown>;
    expect(lease).toMatchObject({ version: 1, taskId: 'add-tests', claimId: goClaimId(s.era.queue, 'add-tests'), session: 'ccl-0', account: 'main', attempt: 1 });
    expect(lease.deliveredAt).toBeUndefined();
    expect(existsSync(q(s, 'dispatched', 'add-tests.md'))).toBe(true);
    expect(existsSync(q(s, 'dispatched', 'add-tests.md.dispatched'))).toBe(false);
    // Requeued: back in inbox/ with the reason; the markers gone.
    expect(readFileSync(q(s, 'inbox', 'refactor.md'), 'utf8')).toBe('---\nlast_error: in flight in the Go system (dispatched to ccl-9); delivered again\n---\n# Refactor the router\n\nSplit it in two.\n');
    expect(existsSync(q(s, 'dispatched', 'refactor.md'))).toBe(false);
    expect(existsSync(q(s, 'dispatched', 'refactor.dispatched'))).toBe(false);
    expect(readFileSync(q(s, 'inbox', 'mystery.md'), 'utf8')).toMatch(/^---\nlast_error: in flight in the Go system \(dispatched\); delivered again\n---\n# Rename the config keys\n/);
    expect(existsSync(q(s, 'dispatched', 'mystery.md.dispatched'))).toBe(false);
    // The stale marker is gone, the finished task untouched; the unknown one left in place.
    expect(existsSync(q(s, 'old.md.delegated'))).toBe(false);
    expect(readFileSync(q(s, 'done', 'old.md'), 'utf8')).toBe('# An old task\n\nDone long ago.\n');
    expect(readFileSync(q(s, 'inbox', 'lost.md.delegated'), 'utf8')).toContain('# A task whose job is gone');
    expect(readFileSync(q(s, 'inbox', 'plain.md'), 'utf8')).toContain('# Update the changelog');
    // The queue has its whole layout now; nothing was submitted to the job API.
    for (const d of ['inbox', 'dispatched', 'delegated', 'done', 'failed', 'archive', 'leases', 'intents']) expect(statSync(q(s, d)).isDirectory(), d).toBe(true);
    expect(s.server.jobs).toHaveLength(2);
    // Account homes, hooks and old agents are not touched by migrate.
    expect(lstatSync(join(s.era.accounts.main, 'todos')).isDirectory()).toBe(true);
    expect(existsSync(join(s.era.project, '.claude', 'hooks', 'secutools-notify.sh'))).toBe(true);
    expect(s.goTmux.sessions()).toEqual(['ccl-1']);

    const again = await runCli([...s.args, '--apply'], { env: s.env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Migrated: 0 task(s) to carry over, 1 not carried over, 5 to do by hand.');
  }, 120_000);

  it('without a delegation policy (no switch) the delegations are not carried over, and says how to get one', async () => {
    const s = await setup();
    const r = await runCli(s.args.filter((a) => a !== '--compat' && a !== 'secutools-key'), { env: s.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('! web: task fix-login was delegated to the job API, but project web has no DelegationPolicy');
    expect(r.stdout).toContain('SECUTOOLS_API_KEY is set, but it no longer turns delegation on by itself: projects web have no DelegationPolicy');
    expect(r.stdout).toContain('Plan: 3 task(s) to carry over, 1 stale marker(s) to remove, 3 not carried over, 6 to do by hand.');
  }, 120_000);

  it('a job API without the lookup by task id: a marker naming its job is carried over, one that does not is left', async () => {
    const s = await setup({ lookup: false });
    const r = await runCli(s.args, { env: s.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`+ task fix-login -> delegated/ with job ${s.fixLoginJob}`);
    expect(r.stdout).toContain('! web: task summarize was delegated, but its job is unknown: the marker does not name it, and the job API has no lookup by task id (GET /v1/jobs?task_id= answered 404)');
  }, 120_000);

  it('then the controller finishes the carried-over work: jobs through the job API, the lease on its session, the rest anywhere', async () => {
    const usage = await startFakeUsageServer();
    cleanups.push(() => usage.close());
    const s = await setup({ durationMs: 25_000, accountExtra: `  quota:\n    usageEndpoint: ${usage.endpoint}\n`, sessionEnv: { CLAUDE_SIM_WORK_MS: '300' } });
    for (const a of ['main', 'backup']) usage.setWindows(`sk-ant-oat01-test-${a}`, { fiveHour: 10, sevenDay: 10 });
    const m = await runCli([...s.args, '--apply'], { env: s.env });
    expect(m.code, m.stdout + m.stderr).toBe(0);
    // The hand-made steps migrate listed: the old agent stopped, the account homes' real shared
    // directories moved into the store (docs/migrating.md, step 3; `account link --adopt` does
    // this for todos/ and shell-snapshots/), the lost task run locally.
    s.goTmux.kill();
    for (const acct of [s.era.accounts.main, s.era.accounts.backup]) {
      for (const d of readdirSync(acct).filter((n) => statSync(join(acct, n)).isDirectory())) {
        mkdirSync(join(s.era.shared, d), { recursive: true });
        for (const f of readdirSync(join(acct, d))) renameSync(join(acct, d, f), join(s.era.shared, d, f));
        rmSync(join(acct, d), { recursive: true });
      }
    }
    renameSync(q(s, 'inbox', 'lost.md.delegated'), q(s, 'inbox', 'lost.md'));

    const tmux = new PrivateTmuxServer();
    cleanups.push(() => tmux.kill());
    const d = new DaemonProcess(['-f', s.era.manifests, '--state-dir', s.state, '--tmux-socket', tmux.socket, '--compat', 'secutools-key,status-delegated'], s.env);
    cleanups.push(() => d.stop('SIGKILL'));
    // While the jobs run, status.json shows them as the Go system did.
    await until(() => {
      try {
        const st = JSON.parse(readFileSync(q(s, 'status.json'), 'utf8')) as { sessions: Record<string, { state: string; task?: string }> };
        return st.sessions['delegated:fix-login']?.state === 'delegated_to_secutools' && st.sessions['delegated:summarize']?.state === 'delegated_to_secutools';
      } catch {
        return false;
      }
    }, 45_000, 'status.json shows the delegated tasks as delegated_to_secutools').catch((err: unknown) => {
      throw new Error(`${String(err)}\n${readFileSync(q(s, 'status.json'), 'utf8')}\n${JSON.stringify(JSON.parse(readFileSync(join(s.state, 'status.json'), 'utf8'))['DelegationPolicy/secutools'])}\n${readFileSync(join(s.state, 'events.jsonl'), 'utf8').slice(-3000)}\n${d.stderr}`);
    });
    const done = () => (existsSync(q(s, 'done')) ? readdirSync(q(s, 'done')).sort() : []);
    await until(() => ['add-tests.md', 'fix-login.md', 'lost.md', 'mystery.md', 'plain.md', 'refactor.md', 'summarize.md'].every((f) => done().includes(f)), 90_000, 'all carried-over tasks done').catch((err: unknown) => {
      throw new Error(`${String(err)}: done/ has ${done().join(', ')}\n${readFileSync(join(s.state, 'events.jsonl'), 'utf8').slice(-4000)}`);
    });
    // The delegated ones finished through the job API (no second job), the leased one on ccl-0.
    expect(readFileSync(q(s, 'done', 'fix-login.md'), 'utf8')).toMatch(new RegExp(`## Result \\(gemini, job ${s.fixLoginJob}\\)[\\s\\S]*- job: ${s.fixLoginJob}\\n`));
    expect(readFileSync(q(s, 'done', 'summarize.md'), 'utf8')).toContain(`- job: ${s.summarizeJob}\n`);
    expect(s.server.jobs).toHaveLength(2);
    expect(readFileSync(q(s, 'done', 'add-tests.md'), 'utf8'), readFileSync(join(s.state, 'events.jsonl'), 'utf8').split('\n').filter((l) => l.includes('add-tests') || l.includes('ccl-0')).join('\n')).toMatch(/- session: ccl-0\n- account: main\n/);
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
