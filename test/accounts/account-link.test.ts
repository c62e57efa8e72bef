/**
 * `claude-failover account link NAME [--adopt]` on real directories: an account home laid out
 * like the Go system's (projects/ linked, real todos/ and shell-snapshots/), adopted explicitly.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linkSharedState } from '../../src/adapters/shared-state.js';
import { runCli } from '../support/cli.js';
import { removeAgentTree, tempDir } from '../support/manifests.js';

const roots: string[] = [];
afterEach(async () => {
  for (const r of roots.splice(0)) await removeAgentTree(r);
});

/** An account `a` with a Go-era home, and a shared store that already holds some files. */
function goLayout() {
  const root = tempDir('link');
  roots.push(root);
  const cfg = join(root, 'accounts', 'a');
  const shared = join(root, 'shared');
  for (const d of ['projects', 'file-history', 'session-env']) {
    mkdirSync(join(shared, d), { recursive: true });
    mkdirSync(cfg, { recursive: true });
    symlinkSync(join(shared, d), join(cfg, d));
  }
  mkdirSync(join(cfg, 'todos'), { recursive: true });
  mkdirSync(join(cfg, 'shell-snapshots'), { recursive: true });
  mkdirSync(join(shared, 'todos'), { recursive: true });
  writeFileSync(join(cfg, 'todos', 'u1-agent-u1.json'), '[]');
  writeFileSync(join(cfg, 'todos', 'u2-agent-u2.json'), '[{"content":"x"}]');
  writeFileSync(join(cfg, 'todos', 'same.json'), 'same'); // identical to the store's copy
  writeFileSync(join(shared, 'todos', 'same.json'), 'same');
  writeFileSync(join(cfg, 'shell-snapshots', 'snapshot-bash-1-abc.sh'), 'export A=1\n');
  mkdirSync(join(root, 'manifests'));
  writeFileSync(join(root, 'manifests', 'a.yaml'), `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: a\nspec:\n  configDir: ${cfg}\n  sharedStateDir: ${shared}\n`);
  return { root, cfg, shared, manifests: join(root, 'manifests'), stateDir: join(root, 'state') };
}

describe('account link', () => {
  it('reports without --adopt, changes nothing with --dry-run, then adopts: files moved without overwriting, linked, logged', async () => {
    const w = goLayout();
    const base = ['account', 'link', 'a', '-f', w.manifests, '--state-dir', w.stateDir];

    const plain = await runCli(base);
    expect(plain.code).toBe(1);
    expect(plain.stdout).toMatch(/diverged +.*accounts\/a\/todos is a real directory; its files have unique names: run again with --adopt/);
    expect(plain.stdout).toMatch(/linked +.*accounts\/a\/projects already links to/);
    expect(plain.stdout).toMatch(/created +.*accounts\/a\/plans linked to .*shared\/plans/);
    expect(lstatSync(join(w.cfg, 'plans')).isSymbolicLink()).toBe(true); // missing ones are linked, as the controller does
    expect(lstatSync(join(w.cfg, 'todos')).isDirectory()).toBe(true);

    const eventsBefore = readFileSync(join(w.stateDir, 'events.jsonl'), 'utf8');
    const dry = await runCli([...base, '--adopt', '--dry-run', '-o', 'json']);
    expect(dry.code, dry.stderr).toBe(0);
    const report = JSON.parse(dry.stdout) as { dryRun: boolean; accounts: { account: string; linked: boolean; dirs: { dir: string; outcome: string; moved: number; duplicates: number }[] }[] };
    expect(report.dryRun).toBe(true);
    expect(report.accounts[0]?.dirs.find((d) => d.dir === 'todos')).toMatchObject({ outcome: 'adopted', moved: 2, duplicates: 1 });
    expect(readdirSync(join(w.cfg, 'todos')).sort()).toEqual(['same.json', 'u1-agent-u1.json', 'u2-agent-u2.json']);
    expect(readFileSync(join(w.stateDir, 'events.jsonl'), 'utf8')).toBe(eventsBefore);
    expect(existsSync(join(w.stateDir, 'adoptions'))).toBe(false);

    const adopt = await runCli([...base, '--adopt']);
    expect(adopt.code, adopt.stdout + adopt.stderr).toBe(0);
    expect(adopt.stdout).toMatch(/adopted +.*accounts\/a\/todos: 2 moved, 1 identical duplicate\(s\) dropped into .*shared\/todos; replaced by a link/);
    expect(adopt.stdout).toMatch(/every shared directory is linked/);
    for (const d of ['todos', 'shell-snapshots']) expect(readlinkSync(join(w.cfg, d))).toBe(join(w.shared, d));
    expect(readdirSync(join(w.shared, 'todos')).sort()).toEqual(['same.json', 'u1-agent-u1.json', 'u2-agent-u2.json']);
    expect(readFileSync(join(w.shared, 'todos', 'u2-agent-u2.json'), 'utf8')).toBe('[{"content":"x"}]');
    expect(readFileSync(join(w.shared, 'shell-snapshots', 'snapshot-bash-1-abc.sh'), 'utf8')).toBe('export A=1\n');

    const events = readFileSync(join(w.stateDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { key: string; reason: string; type: string; data: { log?: string } });
    const adopted = events.find((e) => e.reason === 'SharedStateAdopted');
    expect(adopted).toMatchObject({ key: 'Account/a', type: 'Normal' });
    const log = readFileSync(adopted?.data.log as string, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { from: string; to: string });
    expect(log.map((m) => m.to).sort()).toEqual([join(w.shared, 'shell-snapshots', 'snapshot-bash-1-abc.sh'), join(w.shared, 'todos', 'u1-agent-u1.json'), join(w.shared, 'todos', 'u2-agent-u2.json')]);

    const again = await runCli(base);
    expect(again.code).toBe(0);
  });

  it('keeps a file that differs from the store\'s copy, reports it, and links once it is resolved', async () => {
    const w = goLayout();
    writeFileSync(join(w.shared, 'todos', 'u1-agent-u1.json'), '[{"content":"other"}]');
    const base = ['account', 'link', 'a', '--adopt', '-f', w.manifests, '--state-dir', w.stateDir];
    const r = await runCli(base);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/conflict +.*accounts\/a\/todos: 1 moved, 1 identical duplicate\(s\) dropped; 1 file\(s\) differ from the store's copy and were kept \(u1-agent-u1\.json\)/);
    expect(readFileSync(join(w.cfg, 'todos', 'u1-agent-u1.json'), 'utf8')).toBe('[]');
    expect(readFileSync(join(w.shared, 'todos', 'u1-agent-u1.json'), 'utf8')).toBe('[{"content":"other"}]');
    expect(lstatSync(join(w.cfg, 'todos')).isDirectory()).toBe(true);
    expect(readlinkSync(join(w.cfg, 'shell-snapshots'))).toBe(join(w.shared, 'shell-snapshots'));
    writeFileSync(join(w.cfg, 'todos', 'u1-agent-u1.json'), '[{"content":"other"}]'); // resolved: now identical
    const fixed = await runCli(base);
    expect(fixed.code, fixed.stdout).toBe(0);
    expect(readlinkSync(join(w.cfg, 'todos'))).toBe(join(w.shared, 'todos'));
  });

  it('never merges projects/ (or a link elsewhere); refuses while sessions run under the account', async () => {
    const w = goLayout();
    const projects = join(w.cfg, 'projects');
    await removeAgentTree(projects);
    mkdirSync(join(projects, '-home-x'), { recursive: true });
    writeFileSync(join(projects, '-home-x', 'c1.jsonl'), '{}\n');
    const r = await runCli(['account', 'link', 'a', '--adopt', '-f', w.manifests, '--state-dir', w.stateDir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/diverged +.*accounts\/a\/projects is a real directory; its contents are never merged automatically: merge it into .*shared\/projects by hand/);
    expect(existsSync(join(projects, '-home-x', 'c1.jsonl'))).toBe(true);
    expect(readlinkSync(join(w.cfg, 'todos'))).toBe(join(w.shared, 'todos')); // the others were still adopted

    mkdirSync(w.stateDir, { recursive: true });
    writeFileSync(join(w.stateDir, 'status.json'), JSON.stringify({ 'Session/s1': { observedGeneration: 'g', conditions: [], account: 'a', activity: 'working' } }));
    const busy = await runCli(['account', 'link', 'a', '--adopt', '-f', w.manifests, '--state-dir', w.stateDir]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/CF_ERR_ACCOUNT_IN_USE: sessions s1 run under account a/);
  });

  it('needs an account name (or --all) and a known account with a shared store', async () => {
    const w = goLayout();
    expect((await runCli(['account', 'link', '-f', w.manifests])).stderr).toMatch(/name an account/);
    expect((await runCli(['account', 'link', 'zz', '-f', w.manifests])).stderr).toMatch(/no Account named "zz" in the manifests \(a\)/);
    expect((await runCli(['account', 'frob'])).stderr).toMatch(/unknown subcommand "frob"; use add, login, check, link/);
    expect((await runCli(['account', 'link', '--help'])).stdout).toMatch(/Adoptable: todos, shell-snapshots, plans, tasks/);
  });
});

describe('linkSharedState', () => {
  it('merges directories both sides have (tasks/<id>/) without overwriting', async () => {
    const root = tempDir('link');
    roots.push(root);
    const cfg = join(root, 'cfg');
    const shared = join(root, 'shared');
    mkdirSync(join(cfg, 'tasks', 't1'), { recursive: true });
    mkdirSync(join(shared, 'tasks', 't1'), { recursive: true });
    writeFileSync(join(cfg, 'tasks', 't1', '1.json'), 'a');
    writeFileSync(join(shared, 'tasks', 't1', '2.json'), 'b');
    const moves: string[] = [];
    const r = await linkSharedState({ account: 'x', configDir: cfg, sharedStateDir: shared, dirs: ['tasks'], adopt: true, onMove: (_f, to) => moves.push(to) });
    expect(r[0]).toMatchObject({ outcome: 'adopted', moved: 1, duplicates: 0, conflicts: [] });
    expect(readdirSync(join(shared, 'tasks', 't1')).sort()).toEqual(['1.json', '2.json']);
    expect(moves).toEqual([join(shared, 'tasks', 't1', '1.json')]);
    expect(readlinkSync(join(cfg, 'tasks'))).toBe(join(shared, 'tasks'));
  });
});
