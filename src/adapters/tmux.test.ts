import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivateTmuxServer } from '../../test/support/tmux.js';
import { TmuxAdapter } from './tmux.js';

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

  it('keeps a dead pane (remain-on-exit) with its exit status', async () => {
    const { tmux } = setup();
    await tmux.newSession({ name: 'd', cwd: '/tmp', argv: ['sh', '-c', 'exit 7'], env: {}, unsetEnv: [], owner: 'Session/d', options: {} });
    await until(async () => (await tmux.listSessions()).some((s) => s.paneDead));
    const d = (await tmux.listSessions())[0];
    expect(d?.paneDeadStatus).toBe(7);
  });

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
