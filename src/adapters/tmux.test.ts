import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { PrivateTmuxServer } from '../../test/support/tmux.js';
import { paneArgv, TmuxAdapter, zombieExit } from './tmux.js';

const servers: PrivateTmuxServer[] = [];
const dirs: string[] = [];
afterEach(() => {
  servers.splice(0).forEach((s) => s.kill());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function setup() {
  const server = new PrivateTmuxServer();
  servers.push(server);
  return { server, tmux: new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null' }) };
}

/** The real tmux behind a wrapper that logs each client's arguments, to count round trips. */
function counted() {
  const server = new PrivateTmuxServer();
  servers.push(server);
  const dir = mkdtempSync(join(tmpdir(), 'cf-tmux-'));
  dirs.push(dir);
  const log = join(dir, 'calls');
  const bin = join(dir, 'tmux');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${log}'\nexec tmux "$@"\n`, { mode: 0o755 });
  /** Clients run so far (those whose arguments contain `command`, when given). */
  const clients = (command?: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l && (command === undefined || l.includes(command))).length : 0);
  return { server, dir, tmux: new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null', tmuxBin: bin }), clients };
}

async function until(cond: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('TmuxAdapter', () => {
  it('lists nothing (and starts no server) when no server runs', async () => {
    const { server, tmux } = setup();
    expect(await tmux.listSessions()).toEqual([]);
    expect(server.serverRunning()).toBe(false);
  });

  it('lists nothing on a running server without sessions (the tmux unit\'s, before the first launch)', async () => {
    const { server, tmux } = setup();
    expect(server.run(['start-server', ';', 'set-option', '-g', 'exit-empty', 'off']).status).toBe(0);
    expect(await tmux.listSessions()).toEqual([]);
    await tmux.newSession({ name: 'first', cwd: '/tmp', argv: ['sleep', '30'], env: {}, unsetEnv: [], owner: 'Session/first', options: {} });
    expect((await tmux.listSessions()).map((s) => s.name)).toEqual(['first']);
  });

  it('creates sessions with owner tag, options, env, and exact names', async () => {
    const { server, tmux } = setup();
    await tmux.newSession({ name: 'ccl-1', cwd: '/tmp', argv: ['sh', '-c', 'echo "v=$CF_X"; sleep 30'], env: { CF_X: 'yes' }, unsetEnv: ['CLAUDECODE'], owner: 'Session/ccl-1', options: { 'cf-account': 'a' } });
    server.run(['new-session', '-d', '-s', 'ccl-10', 'sleep', '30']);
    const list = await tmux.listSessions();
    const mine = list.find((s) => s.name === 'ccl-1');
    expect(mine?.owner).toBe('Session/ccl-1');
    expect(mine?.options['cf-account']).toBe('a');
    expect(list.find((s) => s.name === 'ccl-10')?.owner).toBeUndefined();
    await until(async () => (await tmux.capturePane('ccl-1')).includes('v=yes'));
    await tmux.killSession('ccl-1');
    await tmux.killSession('ccl-1'); // idempotent
    expect(server.sessions()).toEqual(['ccl-10']);
  });

  describe('the environment of the server and of panes is explicit', () => {
    /** `NAME=value` lines of a file written by `env` in a pane, as a map. */
    const envFile = (path: string) => Object.fromEntries(readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const procEnv = (pid: number) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

    it('a server the adapter starts holds only the explicit environment, never the controller\'s', async () => {
      const { server } = setup();
      const tmux = new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', CF_BASE: 'b' } });
      process.env.CF_TEST_CONTROLLER_SECRET = 'controller-only';
      try {
        await tmux.newSession({ name: 's', cwd: '/tmp', argv: ['sleep', '30'], env: {}, unsetEnv: [], owner: 'Session/s', options: {} });
      } finally {
        delete process.env.CF_TEST_CONTROLLER_SECRET;
      }
      const global = server.run(['show-environment', '-g']).stdout.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf('='))).sort();
      // PWD is tmux's own (the starting client's directory).
      expect(global).toEqual(['CF_BASE', 'HOME', 'PATH', 'PWD']);
    });

    it('a pane gets the base, its env and tmux\'s own variables, and nothing of a server started elsewhere', async () => {
      const server = new PrivateTmuxServer();
      servers.push(server);
      const dir = mkdtempSync(join(tmpdir(), 'cf-tmux-env-'));
      dirs.push(dir);
      // A server started by hand from a shell that holds a secret: its global environment has it.
      spawnSync('tmux', ['-L', server.socket, '-f', '/dev/null', 'start-server', ';', 'set-option', '-g', 'exit-empty', 'off'], { env: { ...process.env, TMUX: '', CF_SHELL_SECRET: 'sk-leak' } });
      expect(server.run(['show-environment', '-g', 'CF_SHELL_SECRET']).stdout).toContain('sk-leak');
      const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' };
      const tmux = new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null', env: base });
      const out = join(dir, 'env');
      await tmux.newSession({ name: 'agent', cwd: dir, argv: ['sh', '-c', `env > '${out}'; sleep 30`], env: { CF_X: 'a b "c"', CLAUDECODE: '1', TERM: 'xterm-256color' }, unsetEnv: ['CLAUDECODE'], owner: 'Session/agent', options: {} });
      await until(() => existsSync(out) && readFileSync(out, 'utf8').includes('TMUX_PANE='));
      const env = envFile(out);
      expect(env.CF_SHELL_SECRET).toBeUndefined();
      expect(env.CLAUDECODE).toBeUndefined();
      expect(env).toMatchObject({ ...base, CF_X: 'a b "c"', TERM: 'xterm-256color' });
      expect(env.TMUX).toMatch(new RegExp(`/${server.socket},\\d+,\\d+$`));
      expect(env.TMUX_PANE).toMatch(/^%\d+$/);
      const known = new Set([...Object.keys(base), 'CF_X', 'TERM', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'COLORTERM', 'PWD', 'TMUX', 'TMUX_PANE', 'SHLVL', '_', 'OLDPWD']);
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      // The pane's process is the program itself (sh and env exec), with the same environment.
      const pid = (await tmux.listSessions()).find((x) => x.name === 'agent')?.panePid as number;
      expect(procEnv(pid).CF_SHELL_SECRET).toBeUndefined();
      expect(procEnv(pid).CF_X).toBe('a b "c"');
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sh');
    });

    it('removes named variables from the server\'s global environment (none when no server runs)', async () => {
      const { server, tmux } = setup();
      expect(await tmux.unsetGlobalEnvironment(['CF_JOBS_KEY'])).toEqual([]);
      expect(server.serverRunning()).toBe(false);
      spawnSync('tmux', ['-L', server.socket, '-f', '/dev/null', 'start-server', ';', 'set-option', '-g', 'exit-empty', 'off'], { env: { PATH: process.env.PATH, CF_JOBS_KEY: 'k', CF_TG: 't', KEEP: 'x' } });
      expect(await tmux.unsetGlobalEnvironment(['CF_JOBS_KEY', 'CF_TG', 'CF_ABSENT'])).toEqual(['CF_JOBS_KEY', 'CF_TG']);
      const names = server.run(['show-environment', '-g']).stdout.split('\n').filter(Boolean).map((l) => l.slice(0, l.indexOf('=')));
      expect(names).toContain('KEEP');
      expect(names.filter((n) => n.startsWith('CF_'))).toEqual([]);
    });

    it.each([
      ['drops TMUX/TMUX_PANE and unsetEnv from the explicit variables', { argv: ['/bin/claude', '-x'], env: { TMUX: 'x', TMUX_PANE: '%9', CLAUDECODE: '1', A: '1' }, unsetEnv: ['CLAUDECODE'] }, ['HOME=/h', 'A=1', '/bin/claude', '-x']],
      ['the session env overrides the base', { argv: ['/bin/claude'], env: { HOME: '/h2' }, unsetEnv: [] }, ['HOME=/h2', '/bin/claude']],
    ] as const)('paneArgv %s', (_name, spec, tail) => {
      const argv = paneArgv({ HOME: '/h' }, { argv: [...spec.argv], env: { ...spec.env }, unsetEnv: [...spec.unsetEnv] });
      expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
      expect(argv[2]).toMatch(/^exec \/usr\/bin\/env -i -- /);
      expect(argv.slice(4)).toEqual(tail);
    });

    it.each([
      ['a command containing "="', { argv: ['/opt/a=b/claude'], env: {} }, 'CF_ERR_TMUX_COMMAND'],
      ['a variable name env(1) cannot take', { argv: ['/bin/claude'], env: { 'A=B': '1' } }, 'CF_ERR_TMUX_ENV'],
    ] as const)('paneArgv refuses %s', (_name, spec, code) => {
      expect(() => paneArgv({}, { argv: [...spec.argv], env: { ...spec.env }, unsetEnv: [] })).toThrow(expect.objectContaining({ code }) as Error);
    });
  });

  it('keeps a dead pane (remain-on-exit) with its exit status', async () => {
    const { tmux } = setup();
    await tmux.newSession({ name: 'd', cwd: '/tmp', argv: ['sh', '-c', 'exit 7'], env: {}, unsetEnv: [], owner: 'Session/d', options: {} });
    // tmux marks the pane dead when its pty closes and records the status when it reaps the child:
    // either can come first, so a listing may briefly show a dead pane without its status.
    await until(async () => (await tmux.listSessions()).some((s) => s.paneDead && s.paneDeadStatus !== undefined), 15_000);
    const d = (await tmux.listSessions())[0];
    expect(d?.paneDeadStatus).toBe(7);
  }, 20_000);

  it('refuses to paste into a dead pane instead of crashing the tmux server', async () => {
    const { server, tmux } = setup();
    await tmux.newSession({ name: 'live', cwd: '/tmp', argv: ['sleep', '30'], env: {}, unsetEnv: [], owner: 'Session/live', options: {} });
    await tmux.newSession({ name: 'dead', cwd: '/tmp', argv: ['true'], env: {}, unsetEnv: [], owner: 'Session/dead', options: {} });
    await until(async () => (await tmux.listSessions()).find((s) => s.name === 'dead')?.paneDead === true);
    await expect(tmux.pasteText('dead', '/exit')).rejects.toMatchObject({ code: 'CF_ERR_TMUX_PANE_DEAD' });
    await tmux.sendKeys('dead', ['Enter']);
    expect(server.sessions()).toEqual(['dead', 'live']);
    expect(server.run(['list-buffers']).stdout).toBe('');
  });

  it('pastes text byte-exactly, including a trailing ";" and a leading "-"', async () => {
    const { tmux } = setup();
    await tmux.newSession({ name: 'cat', cwd: '/tmp', argv: ['sh', '-c', 'stty -echo; IFS= read -r line; printf "[%s]\\n" "$line"; sleep 30'], env: {}, unsetEnv: [], owner: 'Session/cat', options: {} });
    await new Promise((r) => setTimeout(r, 300));
    await tmux.pasteText('cat', '-n $(x) "q" \'s\' end;');
    await tmux.sendKeys('cat', ['Enter']);
    await until(async () => (await tmux.capturePane('cat')).includes('[-n $(x) "q" \'s\' end;]'));
  });

  it('rejects text passed as key names', async () => {
    const { tmux } = setup();
    await expect(tmux.sendKeys('x', ['hello world'])).rejects.toMatchObject({ code: 'CF_ERR_TMUX_KEY' });
  });

  it('shares list-panes runs between concurrent callers, each getting a listing taken after its call', async () => {
    const { server, tmux, clients } = counted();
    server.run(['new-session', '-d', '-s', 'first', 'sleep', '30']);
    const calls = () => clients('list-panes');

    const lists = await Promise.all(Array.from({ length: 20 }, () => tmux.listSessions()));
    expect(lists.every((l) => l.map((x) => x.name).join() === 'first')).toBe(true);
    expect(calls()).toBeLessThanOrEqual(2);

    // A session created while a listing runs is in the listing of every later call.
    const early = tmux.listSessions();
    server.run(['new-session', '-d', '-s', 'second', 'sleep', '30']);
    const late = await tmux.listSessions();
    await early;
    expect(late.map((x) => x.name).sort()).toEqual(['first', 'second']);
  });

  it('reports a missing tmux binary as CF_ERR_TMUX_MISSING', async () => {
    const tmux = new TmuxAdapter({ socketName: 'cf-none', tmuxBin: '/nonexistent/tmux' });
    await expect(tmux.killSession('x')).rejects.toMatchObject({ code: 'CF_ERR_TMUX_MISSING' });
  });

  describe('sendSequence', () => {
    it('sends keys, text and pauses in order, in one tmux client', async () => {
      const { dir, tmux, clients } = counted();
      const out = join(dir, 'line');
      await tmux.newSession({ name: 'agent', cwd: dir, argv: ['sh', '-c', `trap '' INT; IFS= read -r l; printf '%s' "$l" > '${out}'; sleep 30`], env: {}, unsetEnv: [], owner: 'o', options: {} });
      await new Promise((r) => setTimeout(r, 300));
      const before = clients();
      const t0 = Date.now();
      await tmux.sendSequence('agent', [{ keys: ['C-c'] }, { delayMs: 100 }, { literal: '/exit; now' }, { delayMs: 100 }, { keys: ['Enter'] }]);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190); // the pauses ran inside the server
      expect(clients() - before).toBe(1);
      await until(() => existsSync(out));
      expect(readFileSync(out, 'utf8')).toBe('/exit; now');
    });

    it('sends nothing to a dead pane, leaves no buffer behind, and the server lives on', async () => {
      const { server, dir, tmux } = counted();
      await tmux.newSession({ name: 'dead', cwd: dir, argv: ['sh', '-c', 'exit 3'], env: {}, unsetEnv: [], owner: 'o', options: {} });
      await until(async () => (await tmux.listSessions()).some((s) => s.paneDead));
      await tmux.sendSequence('dead', [{ keys: ['C-c'] }, { literal: '/exit' }, { keys: ['Enter'] }]);
      expect(server.run(['list-buffers']).stdout).toBe('');
      expect(server.sessions()).toEqual(['dead']);
    });

    it.each([
      ['text ending in ";" (tmux would take it as a separator)', [{ literal: 'ls;' }], 'CF_ERR_TMUX_TEXT'],
      ['text with a line break', [{ literal: 'a\nb' }], 'CF_ERR_TMUX_TEXT'],
      ['text as a key name', [{ keys: ['hello world'] }], 'CF_ERR_TMUX_KEY'],
    ])('refuses %s before running tmux', async (_n, steps, code) => {
      const { tmux, clients } = counted();
      await expect(tmux.sendSequence('x', steps)).rejects.toMatchObject({ code });
      expect(clients()).toBe(0);
    });
  });
});

describe('zombieExit (the exit of a process its parent has not reaped yet)', () => {
  /** A child of a `sleep` that never reaps it: it stays a zombie while the sleep runs. */
  async function zombie(script: string): Promise<{ pid: number; stop: () => void }> {
    // The child exits after its parent has become the `sleep` (a shell would reap it first).
    const parent = spawn('sh', ['-c', `sh -c 'sleep 0.3; ${script}' & echo $!; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number.parseInt(d.toString(), 10))));
    for (let i = 0; i < 300 && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); i++) await new Promise((r) => setTimeout(r, 10));
    return { pid, stop: () => parent.kill('SIGKILL') };
  }

  it.each([
    ['exit 3', { paneDeadStatus: 3 }],
    ['exit 0', { paneDeadStatus: 0 }],
    ['kill -9 $$', { paneDeadSignal: 9 }],
  ])('%s', async (script, expected) => {
    const z = await zombie(script);
    try {
      expect(await zombieExit(z.pid)).toEqual(expected);
    } finally {
      z.stop();
    }
  });

  it('a live process or no process: nothing', async () => {
    expect(await zombieExit(process.pid)).toEqual({});
    expect(await zombieExit(2 ** 22 + 12345)).toEqual({});
  });
});
