import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../core/shell-quote.js';
import { buildDist, HOOK_ENTRY } from '../../test/guard/build-dist.js';
import { deployGuard, guardScriptName, GuardDeployError, runScript } from './guard-deploy.js';

let dir: string;

beforeAll(async () => {
  await buildDist();
  dir = await mkdtemp(join(tmpdir(), 'cf-guard-deploy-'));
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function hookInput(project: string, tool: string, toolInput: Record<string, unknown>): string {
  return JSON.stringify({ session_id: 's', cwd: project, hook_event_name: 'PreToolUse', tool_name: tool, tool_input: toolInput });
}

describe('deployGuard', () => {
  it('writes a 0555 launcher with absolute paths into .claude/hooks and returns the settings fragment', async () => {
    const project = join(dir, 'p1');
    const state = join(dir, 'state1');
    const d = await deployGuard({ projectDir: project, sessionName: 'ccl-3', stateDir: state, hookEntry: HOOK_ENTRY, protectedPaths: ['/etc/cf/manifests'] });
    expect(d.scriptPath).toBe(join(project, '.claude', 'hooks', 'claude-failover-guard-ccl-3'));
    expect((await stat(d.scriptPath)).mode & 0o777).toBe(0o555);
    const text = await readFile(d.scriptPath, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toContain(`${shellQuote(process.execPath)} ${shellQuote(HOOK_ENTRY)} --session ccl-3 --state-dir ${shellQuote(state)} --mode enforce --project ${shellQuote(project)} --protect /etc/cf/manifests\n`);
    expect(d.settings).toEqual({ hooks: { PreToolUse: [{ matcher: 'Bash|Write|Edit|MultiEdit|NotebookEdit|Read|Grep|NotebookRead', hooks: [{ type: 'command', command: d.scriptPath, timeout: 30 }] }] } });
  });

  it('rewrites the script on every call, atomically, even over a read-only file', async () => {
    const project = join(dir, 'p2');
    const state = join(dir, 'state2');
    const a = await deployGuard({ projectDir: project, sessionName: 's', stateDir: state, hookEntry: HOOK_ENTRY, mode: 'warn' });
    expect(await readFile(a.scriptPath, 'utf8')).toContain('--mode warn');
    const b = await deployGuard({ projectDir: project, sessionName: 's', stateDir: state, hookEntry: HOOK_ENTRY, mode: 'enforce' });
    expect(b.scriptPath).toBe(a.scriptPath);
    expect(await readFile(b.scriptPath, 'utf8')).toContain('--mode enforce');
    expect((await stat(b.scriptPath)).mode & 0o777).toBe(0o555);
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(join(project, '.claude', 'hooks'))).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('quotes paths with spaces and quotes so the launcher still runs', async () => {
    const project = join(dir, "it's a project");
    const state = join(dir, 'state "3"');
    const d = await deployGuard({ projectDir: project, sessionName: "we'ird name/1", stateDir: state, hookEntry: HOOK_ENTRY });
    expect(d.scriptPath.endsWith(guardScriptName("we'ird name/1"))).toBe(true);
    expect(d.command).toBe(`'${d.scriptPath.replace(/'/g, `'\\''`)}'`);
    const deny = spawnSync('/bin/sh', ['-c', d.command], { input: hookInput(project, 'Bash', { command: 'rm -rf ~' }), env: { PATH: process.env.PATH, HOME: '/home/agent' } });
    expect(deny.status).toBe(2);
    const allow = spawnSync('/bin/sh', ['-c', d.command], { input: hookInput(project, 'Bash', { command: 'ls' }) });
    expect(allow.status).toBe(0);
    const audit = await readFile(join(state, 'audit', 'guard.jsonl'), 'utf8');
    expect(audit).toContain(`"session":"we'ird name/1"`);
  });

  it('fails with CF_ERR_GUARD_DEPLOY when it cannot deploy', async () => {
    const cases: [string, Parameters<typeof deployGuard>[0]][] = [
      ['missing entry', { projectDir: join(dir, 'p4'), sessionName: 's', stateDir: join(dir, 's4'), hookEntry: join(dir, 'nope.js') }],
      ['relative project', { projectDir: 'relative', sessionName: 's', stateDir: join(dir, 's4'), hookEntry: HOOK_ENTRY }],
      ['bad node', { projectDir: join(dir, 'p4'), sessionName: 's', stateDir: join(dir, 's4'), hookEntry: HOOK_ENTRY, nodePath: join(dir, 'no-node') }],
    ];
    for (const [label, opts] of cases) {
      const err = await deployGuard(opts).then(() => null, (e: unknown) => e);
      expect(err, label).toBeInstanceOf(GuardDeployError);
      expect((err as GuardDeployError).code, label).toBe('CF_ERR_GUARD_DEPLOY');
    }
    const blocked = join(dir, 'p5');
    await mkdir(blocked, { recursive: true });
    await writeFile(join(blocked, '.claude'), 'a file where the directory should be');
    const err = await deployGuard({ projectDir: blocked, sessionName: 's', stateDir: join(dir, 's5'), hookEntry: HOOK_ENTRY }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(GuardDeployError);
    expect((err as Error).message).toContain('cannot write the guard hook');
  });

  it('the launcher turns a crashing or missing hook into a deny (exit 2), never another code', async () => {
    const crash = join(dir, 'crash.js');
    await writeFile(crash, 'process.exit(1)\n');
    const project = join(dir, 'p7');
    const d = await deployGuard({ projectDir: project, sessionName: 's', stateDir: join(dir, 's7'), hookEntry: crash, verify: false });
    const r = spawnSync(d.scriptPath, [], { input: hookInput(project, 'Bash', { command: 'ls' }) });
    expect(r.status).toBe(2);
    expect(r.stderr.toString()).toContain('failed (exit 1)');
    const gone = await deployGuard({ projectDir: project, sessionName: 's', stateDir: join(dir, 's7'), hookEntry: crash, nodePath: '/bin/false', verify: false });
    expect(spawnSync(gone.scriptPath, [], { input: '{}' }).status).toBe(2);
    const ok = await deployGuard({ projectDir: project, sessionName: 's', stateDir: join(dir, 's7'), hookEntry: HOOK_ENTRY, verify: false });
    expect(spawnSync(ok.scriptPath, [], { input: hookInput(project, 'Bash', { command: 'ls' }) }).status).toBe(0);
  });

  it('fails closed when the deployed hook does not deny (a hook entry that allows everything)', async () => {
    const fake = join(dir, 'allow-all.js');
    await writeFile(fake, 'process.exit(0)\n');
    await chmod(fake, 0o644);
    const err = await deployGuard({ projectDir: join(dir, 'p6'), sessionName: 's', stateDir: join(dir, 's6'), hookEntry: fake }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(GuardDeployError);
    expect((err as Error).message).toContain('did not block');
  });
});

describe('runScript', () => {
  it('runs a script that is still open for writing elsewhere (ETXTBSY) once that descriptor closes, and gives up when it stays open', async () => {
    const script = join(dir, 'busy.sh');
    await writeFile(script, '#!/bin/sh\ncat >/dev/null\necho ran >&2\nexit 3\n', { mode: 0o755 });
    // A forked child holding the write descriptor until it execs, made to last.
    const writer = await open(script, 'r+');
    const closed = new Promise((r) => setTimeout(r, 60)).then(() => writer.close());
    expect(await runScript(script, 'x', 5_000)).toEqual({ code: 3, stderr: 'ran\n' });
    await closed;
    const held = await open(script, 'r+');
    try {
      await expect(runScript(script, 'x', 5_000)).rejects.toMatchObject({ code: 'ETXTBSY' });
    } finally {
      await held.close();
    }
  });
});
