/**
 * Issue 19, through `run` with the default flags: what real deployments meet. Wrapper commands,
 * backups whose access token expired, account homes migrated from the Go system, no account
 * able to take the pool, and an agent that dies at launch — each must work or say why.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { REPO, runCli } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writeCredentials } from '../support/manifests.js';
import { SimPool, type PoolSpec } from '../support/pool.js';

const pools: SimPool[] = [];
const hooks: FakeWebhookServer[] = [];
const homes: string[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const h of hooks.splice(0)) await h.close();
  for (const d of homes.splice(0)) await removeAgentTree(d);
});

async function pool(spec: PoolSpec, initial: Record<string, { fiveHour: number; sevenDay: number }> = {}): Promise<SimPool> {
  const p = new SimPool(spec);
  pools.push(p);
  await p.setup(initial);
  return p;
}

async function webhook(): Promise<{ hook: FakeWebhookServer; manifest: string }> {
  const hook = await startFakeWebhookServer();
  hooks.push(hook);
  return { hook, manifest: `apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: ops\nspec:\n  type: webhook\n  webhook:\n    url: ${hook.url}/cf\n` };
}

const notified = (hook: FakeWebhookServer, event: string) => hook.deliveries().map((r) => r.json as { event: string; key: string; message: string }).filter((b) => b.event === event);
const ready = (st: Record<string, unknown> | undefined) => (st?.conditions as { type: string; status: string; reason: string; message: string }[] | undefined)?.find((c) => c.type === 'Ready');

describe('wrapper commands', () => {
  it('an interpreter + script and a `bash -lc` wrapper launch, get the conversation flags after their argv, and resume after a failover', async () => {
    // The bash wrapper runs a login shell: its profile puts `claude` (the simulator) on PATH.
    const home = tempDir('home');
    homes.push(home);
    writeFileSync(join(home, '.bash_profile'), `PATH=${join(REPO, 'src', 'sim', 'bin')}:$PATH\nexport PATH\n`);
    const p = await pool({
      accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }],
      sessions: ['script', 'wrapped'],
      simEnv: { CLAUDE_SIM_WORK_MS: '300' },
      sessionSpecs: {
        script: { command: [process.execPath, join(REPO, 'dist', 'sim', 'claude-sim.js'), '--dangerously-skip-permissions'] },
        wrapped: { command: ['bash', '-lc', 'exec claude "$@"', 'claude', '--dangerously-skip-permissions'], env: { HOME: home } },
      },
    });
    const d = p.start();
    await p.waitIdle(['script', 'wrapped'], 'a', 60_000);
    const conv = { script: p.session('script')?.conversationId as string, wrapped: p.session('wrapped')?.conversationId as string };
    for (const s of ['script', 'wrapped'] as const) {
      const first = p.invocations().find((i) => (i as unknown as { sessionId?: string }).sessionId === conv[s]);
      expect(first?.argv[0]).toBe('--dangerously-skip-permissions');
      expect(first?.argv.slice(-2)).toEqual(['--session-id', conv[s]]);
      expect(first?.argv).toContain('--settings');
      await p.prompt(s, `remember me, ${s}`);
    }
    await until(() => ['script', 'wrapped'].every((s) => (p.session(s)?.turns as number) >= 1 && p.session(s)?.activity === 'idle'), 30_000, 'both turns done');

    p.usage.setWindows(p.token('a'), { fiveHour: 95, sevenDay: 10 });
    await p.waitIdle(['script', 'wrapped'], 'b', 90_000);
    for (const s of ['script', 'wrapped'] as const) {
      const resumed = p.invocations().filter((i) => i.env.CLAUDE_CONFIG_DIR === p.configDir('b') && i.argv.includes(conv[s])).at(-1);
      expect(resumed?.argv.slice(-2)).toEqual(['--resume', conv[s]]);
      expect(p.session(s)?.conversationId).toBe(conv[s]);
      expect(p.session(s)?.restarts).toBe(0);
    }
    expect(p.events().filter((e) => e.reason === 'SessionCrashLoop' || e.reason === 'SessionExited')).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 240_000);
});

describe('a backup whose access token expired (refresh token present)', () => {
  it('stays a failover target with unknown usage, is never polled, and takes the pool when the active account crosses its threshold', async () => {
    const p = await pool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20, credentials: 'expired' }], sessions: ['s1', 's2'], simEnv: { CLAUDE_SIM_WORK_MS: '300' } });
    p.simUsage('b', 15); // what the sessions will report from b's status line once they run there
    const d = p.start();
    await p.waitIdle(['s1', 's2'], 'a', 60_000);
    const b = p.status()['Account/b'] as { tier?: string; conditions: { type: string; status: string; reason: string; message: string }[] };
    expect(b.tier).toBe('unknown');
    expect(b.conditions.find((c) => c.type === 'CredentialsValid')).toMatchObject({ status: 'True', reason: 'AccessTokenExpired' });
    expect(p.events().filter((e) => e.reason === 'CredentialsExpired')).toEqual([]);
    // One turn each on a, so there is a conversation to resume on b.
    for (const s of ['s1', 's2']) await p.prompt(s, `work on a, ${s}`);
    await until(() => ['s1', 's2'].every((s) => (p.session(s)?.turns as number) >= 1 && p.session(s)?.activity === 'idle'), 30_000, 'turns done on a');
    const conv = Object.fromEntries(['s1', 's2'].map((s) => [s, p.session(s)?.conversationId as string]));

    p.usage.setWindows(p.token('a'), { fiveHour: 93, sevenDay: 10 });
    await until(() => p.active() === 'b', 60_000, 'b active');
    const started = p.events().find((e) => e.reason === 'FailoverStarted');
    expect(started?.message).toMatch(/from a to b/);
    expect(started?.message).toMatch(/access token expired \(claude refreshes it at launch\)/);
    await p.waitIdle(['s1', 's2'], 'b', 90_000);
    for (const s of ['s1', 's2']) {
      expect(p.session(s)?.account).toBe('b');
      expect(p.session(s)?.conversationId).toBe(conv[s]);
      expect(p.invocations().some((i) => i.env.CLAUDE_CONFIG_DIR === p.configDir('b') && i.argv.join(' ').endsWith(`--resume ${conv[s]}`))).toBe(true);
    }
    // Usage of b becomes known from its sessions' status lines, never from the endpoint.
    await p.prompt('s1', 'one turn on b');
    await until(() => (p.status()['Account/b'] as { tier?: string }).tier === 'good', 30_000, 'b usage known from the status line');
    expect(p.usage.requestCount(p.token('b'))).toBe(0);
    expect(await d.stop()).toBe(0);
  }, 240_000);
});

describe('account homes migrated from the Go system', () => {
  it('real todos/ and shell-snapshots/ make every account diverged: nothing is launched (NoEligibleAccount, per account); `account link --adopt` fixes it live', async () => {
    const { hook, manifest } = await webhook();
    const p = await pool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }], sessions: ['s1'], extraManifests: [manifest] });
    for (const a of ['a', 'b']) {
      const cfg = p.configDir(a);
      for (const dir of ['projects', 'file-history', 'session-env']) {
        mkdirSync(join(p.shared, dir), { recursive: true });
        symlinkSync(join(p.shared, dir), join(cfg, dir));
      }
      mkdirSync(join(cfg, 'todos'));
      mkdirSync(join(cfg, 'shell-snapshots'));
      writeFileSync(join(cfg, 'todos', `${a}-session-agent-${a}-session.json`), '[]');
      writeFileSync(join(cfg, 'shell-snapshots', `snapshot-bash-${a}.sh`), `# ${a}\n`);
    }
    const d = p.start();
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    await until(() => p.events().some((e) => e.reason === 'NoEligibleAccount'), 30_000, 'NoEligibleAccount');
    // Validated at start-up: each account that cannot take the pool is logged with why.
    for (const a of ['a', 'b']) expect(d.lines.some((l) => l.key === `Account/${a}` && /cannot take the pool: .*todos is a real directory/.test(String(l.msg)))).toBe(true);
    const no = p.events().find((e) => e.reason === 'NoEligibleAccount');
    expect(no?.message).toMatch(/a: shared state diverged \(SharedStateLinked=False\): .*accounts\/a\/todos is a real directory .*claude-failover account link a --adopt/);
    expect(no?.message).toMatch(/b: shared state diverged/);
    await until(() => ready(p.session('s1'))?.reason === 'NoEligibleAccount', 30_000, 's1 NoEligibleAccount');
    expect(ready(p.session('s1'))?.message).toMatch(/no account can take the pool; sessions are not launched until one can: a: shared state diverged/);
    expect(p.tmux.sessions()).toEqual([]);
    expect(p.invocations()).toEqual([]);
    await until(() => notified(hook, 'NoEligibleAccount').length === 1 && notified(hook, 'SharedStateDiverged').length === 2, 15_000, 'notifications');

    const link = await runCli(['account', 'link', '--all', '--adopt', '-f', p.manifests, '--state-dir', p.stateDir]);
    expect(link.code, link.stdout + link.stderr).toBe(0);
    expect(link.stdout).toMatch(/adopted +.*accounts\/a\/todos: 1 moved/);
    await p.waitIdle(['s1'], 'a', 60_000);
    expect(p.events().some((e) => e.reason === 'EligibleAccountAvailable')).toBe(true);
    expect(p.events().some((e) => e.reason === 'SharedStateAdopted' && e.key === 'Account/b')).toBe(true);
    for (const a of ['a', 'b']) {
      expect(readlinkSync(join(p.configDir(a), 'todos'))).toBe(join(p.shared, 'todos'));
      expect(existsSync(join(p.shared, 'todos', `${a}-session-agent-${a}-session.json`))).toBe(true);
      expect(readFileSync(join(p.shared, 'shell-snapshots', `snapshot-bash-${a}.sh`), 'utf8')).toBe(`# ${a}\n`);
      const linked = (p.status()[`Account/${a}`]?.conditions as { type: string; status: string }[]).find((c) => c.type === 'SharedStateLinked');
      expect(linked?.status).toBe('True');
    }
    expect(lstatSync(join(p.configDir('a'), 'projects')).isSymbolicLink()).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 240_000);
});

describe('no account can take the pool', () => {
  it('with no account logged in, no session is launched: the condition, an event and a notification say why per account; a login starts them', async () => {
    const { hook, manifest } = await webhook();
    const p = await pool({ accounts: [{ name: 'a', priority: 10, credentials: 'none' }, { name: 'b', priority: 20, credentials: 'none', extra: '  suspended: true\n' }], sessions: ['s1', 's2'], extraManifests: [manifest] });
    const d = p.start();
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    await until(() => ['s1', 's2'].every((s) => ready(p.session(s))?.reason === 'NoEligibleAccount'), 30_000, 'NoEligibleAccount on both sessions');
    const msg = ready(p.session('s1'))?.message ?? '';
    expect(msg).toMatch(/a: credentials invalid \(CredentialsValid=False\): no credentials at .*accounts\/a\/\.credentials\.json/);
    expect(msg).toMatch(/b: suspended/);
    expect(p.tmux.sessions()).toEqual([]);
    expect((p.status()['Account/*'] as { activeAccount?: string | null }).activeAccount).toBeNull();
    expect(ready(p.status()['Account/*'])).toMatchObject({ status: 'False', reason: 'NoEligibleAccount' });
    await until(() => notified(hook, 'NoEligibleAccount').length === 1, 15_000, 'NoEligibleAccount notification');
    expect(notified(hook, 'NoEligibleAccount')[0]?.message).toMatch(/a: credentials invalid .*b: suspended/);
    // Still nothing a few resyncs later (no launch on an excluded account, no second notification).
    await new Promise((r) => setTimeout(r, 5000));
    expect(p.tmux.sessions()).toEqual([]);
    expect(p.events().filter((e) => e.reason === 'NoEligibleAccount')).toHaveLength(1);

    // Someone logs a in: picked up on the next resync, the sessions start.
    writeCredentials(p.configDir('a'), { accessToken: p.token('a'), expiresAt: Date.now() + 86_400_000 });
    await p.waitIdle(['s1', 's2'], 'a', 60_000);
    expect(p.events().some((e) => e.reason === 'EligibleAccountAvailable')).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 180_000);
});

describe('an agent that dies at launch', () => {
  it('says why: its last pane lines are in the event, the condition, describe session and the crash-loop notification', async () => {
    const { hook, manifest } = await webhook();
    const why = "error: unknown option '--no-such-flag'";
    const p = await pool({
      accounts: [{ name: 'a', priority: 10 }],
      sessions: ['crash'],
      sessionSpecs: { crash: { command: [join(REPO, 'src', 'sim', 'bin', 'claude'), '--dangerously-skip-permissions', '--no-such-flag'] } },
      extraManifests: [manifest],
    });
    const d = p.start();
    await until(() => p.events().some((e) => e.reason === 'SessionCrashLoop'), 90_000, 'SessionCrashLoop');
    const exited = p.events().filter((e) => e.reason === 'SessionExited');
    expect(exited.length).toBeGreaterThanOrEqual(4);
    expect(exited[0]?.message).toMatch(/^tmux session "crash": the agent exited \(status 1\) after \d+s: /);
    expect(exited[0]?.message).toContain(why);
    expect((exited[0]?.data as { output?: string[] } | undefined)?.output).toContain(why);
    const loop = p.events().find((e) => e.reason === 'SessionCrashLoop');
    expect(loop?.message).toContain(why);
    await until(() => ready(p.session('crash'))?.reason === 'CrashLoopBackOff', 15_000, 'CrashLoopBackOff recorded');
    expect(ready(p.session('crash'))?.message).toMatch(/^\d+ quick failures in 10m \(last: Exited, status 1: /);
    expect(ready(p.session('crash'))?.message).toContain(why);
    await until(() => notified(hook, 'SessionCrashLoop').length === 1, 15_000, 'crash-loop notification');
    expect(notified(hook, 'SessionCrashLoop')[0]?.message).toContain(why);
    const described = await runCli(['describe', 'session', 'crash', '--state-dir', p.stateDir]);
    expect(described.code, described.stderr).toBe(0);
    expect(described.stdout).toMatch(/Last exit: .* status 1 after \d+s\n {2}\| .*error: unknown option '--no-such-flag'/);
    expect(described.stdout).toMatch(/Failures:\n(.*\n)*.*Exited \(status 1\) after \d+s: error: unknown option '--no-such-flag'/);
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
