/**
 * Worktrees per session (Session.spec.worktree), end to end: the real `run` (default flags) and
 * `reconcile --once`, real tmux, real git, the simulator as Claude Code.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, SIM_BIN } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { removeAgentTree, tempDir, writePool } from '../support/manifests.js';
import { SimPool } from '../support/pool.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const GIT_ENV = Object.fromEntries(Object.entries({ ...process.env, LC_ALL: 'C' }).filter(([k]) => !k.startsWith('GIT_')));

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8', env: GIT_ENV }).trim();
}

/** A git repository with one commit at `dir`. */
function gitRepo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', dir], { env: GIT_ENV });
  writeFileSync(join(dir, 'README.md'), '# project\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'init');
}

function encodeCwd(p: string): string {
  return p.replace(/[^a-zA-Z0-9]/g, '-');
}

interface Condition { type: string; status: string; reason: string; message: string }
interface SessionJson { activity?: string; account?: string; conversationId?: string; worktree?: { path: string; branch: string }; conditions?: Condition[] }
interface Invocation { argv: string[]; cwd: string; resumed: boolean; env: Record<string, string>; sessionId: string }

describe('worktrees per session (run, default flags)', () => {
  it('two sessions of one project work in two worktrees; a failover keeps each in its own; removal is refused while a worktree has uncommitted changes', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }], sessions: ['w1', 'w2'] });
    cleanups.push(() => p.close());
    await p.setup({});
    const project = join(p.root, 'project');
    gitRepo(project);
    // Both sessions get a worktree; w1 may be removed with the Session (prune annotation), so the
    // controller keeps its default flags (no --prune).
    const file = join(p.manifests, 'pool.yaml');
    const withWorktrees = readFileSync(file, 'utf8')
      .replace('metadata:\n  name: w1\n', 'metadata:\n  name: w1\n  annotations:\n    claudefailover.io/prune: "true"\n')
      .replaceAll('spec:\n  project: p\n', 'spec:\n  project: p\n  worktree: true\n');
    writeFileSync(file, withWorktrees);
    const d = new DaemonProcess(['-f', p.manifests, '--state-dir', p.stateDir, '--tmux-socket', p.tmux.socket]);
    p.daemon = d;
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    await p.waitIdle(['w1', 'w2'], 'a', 60_000);

    const wt = { w1: join(p.root, 'project-worktrees', 'w1'), w2: join(p.root, 'project-worktrees', 'w2') };
    const session = (n: 'w1' | 'w2') => p.session(n) as SessionJson | undefined;
    for (const n of ['w1', 'w2'] as const) {
      expect(session(n)?.worktree).toMatchObject({ path: wt[n], branch: n });
      expect(git(wt[n], 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(n);
      expect(p.tmux.run(['display-message', '-p', '-t', `=${n}:`, '#{pane_current_path}']).stdout.trim()).toBe(wt[n]);
    }
    expect(git(project, 'worktree', 'list', '--porcelain')).toContain(`worktree ${wt.w2}\n`);
    const firstLaunch = (n: 'w1' | 'w2') => (p.invocations() as unknown as Invocation[]).find((i) => i.argv.includes(session(n)?.conversationId as string));
    expect(firstLaunch('w1')?.cwd).toBe(wt.w1);
    expect(firstLaunch('w2')?.cwd).toBe(wt.w2);

    // Tasks of the project still go to any of its sessions; each works in its own worktree.
    const queue = join(project, '.agent-queue');
    const ids: string[] = [];
    for (const n of [1, 2]) {
      const added = await runCli(['task', 'add', '--queue', queue, '--title', `task ${n}`, '-'], { input: `# Task ${n}\n\n#sim write done-${n}.txt written by task ${n}\n#sim work 3000\n` });
      expect(added.code, added.stderr).toBe(0);
      ids.push(added.stdout.trim().split('\n').at(-1) as string);
    }
    await until(() => ids.every((id) => existsSync(join(queue, 'done', `${id}.md`))), 60_000, 'both tasks done');
    const holder = (n: number) => (['w1', 'w2'] as const).filter((s) => existsSync(join(wt[s], `done-${n}.txt`)));
    expect([...holder(1), ...holder(2)].sort()).toEqual(['w1', 'w2']);
    expect(existsSync(join(project, 'done-1.txt')) || existsSync(join(project, 'done-2.txt'))).toBe(false);
    const conversations = { w1: session('w1')?.conversationId as string, w2: session('w2')?.conversationId as string };
    for (const n of ['w1', 'w2'] as const) {
      // The transcript lives under the worktree's project folder of the shared store.
      expect(existsSync(join(p.shared, 'projects', encodeCwd(wt[n]), `${conversations[n]}.jsonl`))).toBe(true);
    }

    // A failover moves both to account b: each is resumed in its own worktree.
    const failover = await runCli(['failover', '--to', 'b', '--reason', 'worktree e2e', '--state-dir', p.stateDir]);
    expect(failover.code, failover.stderr).toBe(0);
    await until(() => p.active() === 'b', 30_000, 'b active');
    await p.waitIdle(['w1', 'w2'], 'b', 60_000);
    for (const n of ['w1', 'w2'] as const) {
      const launch = (p.invocations() as unknown as Invocation[]).filter((i) => i.argv.includes(conversations[n])).at(-1);
      expect(launch?.env.CLAUDE_CONFIG_DIR).toBe(p.configDir('b'));
      expect(launch?.argv.join(' ')).toContain(`--resume ${conversations[n]}`);
      expect(launch?.resumed).toBe(true);
      expect(launch?.cwd).toBe(wt[n]);
      expect(session(n)?.conversationId).toBe(conversations[n]);
      expect(session(n)?.worktree?.path).toBe(wt[n]);
      expect(p.tmux.run(['display-message', '-p', '-t', `=${n}:`, '#{pane_current_path}']).stdout.trim()).toBe(wt[n]);
      // Trust was pre-seeded for the worktree path in the new account.
      const claudeJson = JSON.parse(readFileSync(join(p.configDir('b'), '.claude.json'), 'utf8')) as { projects: Record<string, { hasTrustDialogAccepted?: boolean }> };
      expect(claudeJson.projects[wt[n]]?.hasTrustDialogAccepted).toBe(true);
    }

    // w1 is removed (its annotation allows pruning) while its worktree has an uncommitted file.
    writeFileSync(join(wt.w1, 'draft.md'), 'not committed yet\n');
    writeFileSync(file, withWorktrees.split('---\n').filter((doc) => !doc.includes('name: w1\n')).join('---\n'));
    await until(() => p.events().some((e) => e.key === 'Session/w1' && e.reason === 'WorktreeKept'), 60_000, 'WorktreeKept');
    await until(() => !p.tmux.sessions().includes('w1'), 30_000, 'w1 stopped');
    const kept = (p.session('w1') as SessionJson).conditions?.find((c) => c.type === 'Ready');
    expect(kept).toMatchObject({ status: 'False', reason: 'WorktreeDirty' });
    expect(kept?.message).toContain('?? draft.md');
    expect(readFileSync(join(wt.w1, 'draft.md'), 'utf8')).toBe('not committed yet\n');
    expect(p.tmux.sessions()).toEqual(['w2']);
    const describe = await runCli(['describe', 'session', 'w1', '--state-dir', p.stateDir]);
    expect(describe.stdout).toContain('WorktreeDirty');

    // Committed: the next pass removes the worktree; the branch keeps the work.
    git(wt.w1, 'add', '-A');
    git(wt.w1, 'commit', '-q', '-m', 'agent draft');
    const tip = git(wt.w1, 'rev-parse', 'HEAD');
    await until(() => !existsSync(wt.w1), 60_000, 'w1 worktree removed');
    expect(git(project, 'rev-parse', 'refs/heads/w1')).toBe(tip);
    expect(existsSync(wt.w2)).toBe(true);
    // The inventory is written once the change has run: the worktree is no longer owned.
    const owned = () => (JSON.parse(readFileSync(join(p.stateDir, 'inventory.json'), 'utf8')) as Record<string, unknown>)['Session/w1'];
    await until(() => owned() === undefined, 10_000, 'w1 out of the inventory');
    expect(p.events().filter((e) => e.key === 'Session/w1' && e.reason === 'WorktreeKept')).toHaveLength(1);
    expect(await d.stop()).toBe(0);
  }, 300_000);
});

describe('worktrees with reconcile --once', () => {
  it('shows the worktree in a dry-run without creating it, creates it, and removes it only with --prune once it is clean', async () => {
    const root = tempDir('wt');
    const tmux = new PrivateTmuxServer();
    cleanups.push(async () => {
      tmux.kill();
      await removeAgentTree(root);
    });
    const manifests = writePool(root, { sessions: [{ name: 's1', command: [SIM_BIN, '--dangerously-skip-permissions'], extra: '  worktree:\n    branch: feature/one\n' }] });
    const project = join(root, 'projects', 'p');
    gitRepo(project);
    const wt = join(root, 'projects', 'p-worktrees', 's1');
    const args = ['-f', manifests, '--state-dir', join(root, 'state'), '--tmux-socket', tmux.socket];

    const dry = await runCli(['reconcile', '--once', '--dry-run', '-o', 'json', ...args]);
    const plan = JSON.parse(dry.stdout) as { changes: { key: string; reason: string; effects: { type: string; path?: string; branch?: string; cwd?: string }[] }[] };
    const launch = plan.changes.find((c) => c.key === 'Session/s1');
    expect(launch?.reason).toContain(`creating its git worktree ${wt} (branch feature/one)`);
    expect(launch?.effects[0]).toEqual({ type: 'git.addWorktree', repo: project, path: wt, branch: 'feature/one' });
    expect(launch?.effects.at(-1)).toMatchObject({ type: 'tmux.newSession', cwd: wt });
    expect(existsSync(wt)).toBe(false);
    const text = await runCli(['reconcile', '--once', '--dry-run', ...args]);
    expect(text.stdout).toContain(`creating its git worktree ${wt} (branch feature/one)`);
    expect(text.stdout).toMatch(new RegExp(`\\+ worktree\\s+= "${wt.replace(/[/.-]/g, '\\$&')} \\(branch feature/one\\)"`));

    expect((await runCli(['reconcile', '--once', ...args])).code).not.toBe(1);
    expect(git(wt, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('feature/one');
    expect(tmux.sessions()).toEqual(['s1']);
    writeFileSync(join(wt, 'wip.txt'), 'work in progress\n');

    // Removed from the manifests: without --prune nothing is touched.
    writeFileSync(join(manifests, 'sessions.yaml'), '');
    const orphaned = await runCli(['reconcile', '--once', ...args]);
    expect(orphaned.stdout).toContain(`git worktree ${wt} is orphaned`);
    expect(tmux.sessions()).toEqual(['s1']);
    // --prune: the agent is stopped, the worktree kept while it has changes.
    const refused = await runCli(['reconcile', '--once', '--prune', ...args]);
    expect(refused.stdout).toContain(`the worktree ${wt} has uncommitted changes (1: ?? wip.txt); it is kept`);
    expect(tmux.sessions()).toEqual([]);
    expect(existsSync(join(wt, 'wip.txt'))).toBe(true);
    // Discarded: removed; the branch stays.
    execFileSync('rm', [join(wt, 'wip.txt')]);
    const pruned = await runCli(['reconcile', '--once', '--prune', ...args]);
    expect(pruned.stdout).toContain(`removing its git worktree ${wt} (its branch stays)`);
    expect(existsSync(wt)).toBe(false);
    expect(git(project, 'branch', '--list', 'feature/one')).toContain('feature/one');
    const again = await runCli(['reconcile', '--once', '--prune', ...args]);
    expect(again.stdout).not.toContain(wt);
  }, 120_000);
});
