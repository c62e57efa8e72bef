import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrivateTmuxServer } from '../../test/support/tmux.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import type { SequenceStep, TmuxPort } from '../core/ports.js';
import { EFFECT_TYPES } from '../core/effects.js';
import { systemTimers } from '../core/ports.js';
import { Executor, processState, STOP_SEQUENCE, stopSessionGracefully, type Sleep } from './executor.js';
import { wire } from './wiring.js';

const servers: PrivateTmuxServer[] = [];
const dirs: string[] = [];
afterEach(() => {
  servers.splice(0).forEach((s) => s.kill());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const sleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A real adapter on a private server, with a count of list-sessions round trips. */
function setup() {
  const server = new PrivateTmuxServer();
  servers.push(server);
  const real = new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null' });
  const calls = { list: 0 };
  const tmux: TmuxPort = {
    listSessions: () => { calls.list++; return real.listSessions(); },
    newSession: (s) => real.newSession(s),
    killSession: (n) => real.killSession(n),
    sendKeys: (n, k) => real.sendKeys(n, k),
    pasteText: (n, t) => real.pasteText(n, t),
    sendSequence: (n, st) => real.sendSequence(n, st),
    capturePane: (n, h) => real.capturePane(n, h),
    setOption: (n, o, v) => real.setOption(n, o, v),
  };
  const dir = mkdtempSync(join(tmpdir(), 'cf-stop-'));
  dirs.push(dir);
  return { server, tmux, calls, dir };
}

/**
 * A TUI stand-in: ignores Ctrl-C, and on a `/exit` line takes `exitDelay` seconds to shut down
 * (writing `exited` just before it exits), or never exits when `exitDelay` is `never`.
 */
function agent(dir: string, exitDelay: string): string[] {
  const onExit = exitDelay === 'never' ? `echo asked > ${dir}/asked` : `echo asked > ${dir}/asked; sleep ${exitDelay}; echo done > ${dir}/exited; exit 0`;
  return ['sh', '-c', `trap '' INT; echo ready > ${dir}/ready; while read -r l; do case "$l" in /exit) ${onExit};; esac; done; sleep 60`];
}

async function launch(tmux: TmuxPort, dir: string, exitDelay: string): Promise<void> {
  await tmux.newSession({ name: 'agent-1', cwd: dir, argv: agent(dir, exitDelay), env: {}, unsetEnv: [], owner: 'Session/agent-1', options: {} });
  const end = Date.now() + 5000;
  while (!existsSync(join(dir, 'ready'))) {
    if (Date.now() > end) throw new Error('agent did not start');
    await sleep(20);
  }
}

describe('processState', () => {
  it('tells running, exited-but-unreaped and gone processes apart', async () => {
    expect(processState(process.pid)).toBe('running');
    expect(processState(1)).toBe('running'); // exists (EPERM when not root)
    expect(processState(2 ** 22 + 1)).toBe('gone'); // beyond pid_max
    const { spawn } = await import('node:child_process');
    const child = spawn('sh', ['-c', 'exit 0'], { stdio: 'ignore' });
    // Until node reaps it the child is a zombie: it has exited. Look before the exit event fires.
    const seen: string[] = [];
    const end = Date.now() + 3000;
    while (seen.at(-1) !== 'exited' && Date.now() < end) {
      seen.push(processState(child.pid as number));
      const t = Date.now();
      while (Date.now() - t < 5) { /* busy-wait: no event loop turn, so node does not reap it */ }
    }
    expect(seen.at(-1)).toBe('exited');
    await new Promise((r) => child.on('exit', r));
    expect(processState(child.pid as number)).toBe('gone');
  });
});

/**
 * The real Claude Code's key handling (2.1.332, test/conformance/agent.test.ts): Ctrl-C interrupts
 * a turn (a turn without an answer yet puts its prompt back into the input box), else clears the
 * input and arms, else (armed) exits; Enter submits the input (`/exit` exits).
 */
function claudeKeys(start: { working: boolean; answered?: boolean; input?: string }, steps: readonly SequenceStep[]): { exited: boolean; submitted: string[] } {
  let { working } = start;
  let input = start.input ?? '';
  let armed = false;
  const submitted: string[] = [];
  for (const step of steps) {
    if ('delayMs' in step) continue;
    if ('literal' in step) {
      input += step.literal;
      armed = false;
      continue;
    }
    for (const key of step.keys) {
      if (key === 'C-c') {
        if (working) {
          working = false;
          if (!start.answered) input = 'the interrupted task prompt';
        } else if (input !== '') {
          input = '';
          armed = true;
        } else if (armed) return { exited: true, submitted };
        else armed = true;
      } else if (key === 'Enter') {
        if (input === '/exit') return { exited: true, submitted };
        if (input !== '') {
          submitted.push(input);
          working = true;
        }
        input = '';
      }
    }
  }
  return { exited: false, submitted };
}

describe('STOP_SEQUENCE', () => {
  it.each([
    ['idle, empty input', { working: false }],
    ['idle, half-typed input', { working: false, input: 'half typ' }],
    ['working, no answer yet (the prompt comes back into the input box)', { working: true }],
    ['working, answer streaming', { working: true, answered: true }],
  ])('makes Claude Code exit without submitting anything: %s', (_name, start) => {
    expect(claudeKeys(start, STOP_SEQUENCE)).toEqual({ exited: true, submitted: [] });
  });
});

describe('stopSessionGracefully', () => {
  it('asks the agent to exit, waits for it by its pid, then removes the session', async () => {
    const { server, tmux, calls, dir } = setup();
    await launch(tmux, dir, '0.8');
    await stopSessionGracefully(tmux, 'agent-1', 'Session/agent-1', 10_000, sleep);
    expect(existsSync(join(dir, 'exited'))).toBe(true); // it was allowed to finish its shutdown
    expect(server.sessions()).toEqual([]);
    // The 0.8 s wait was watched through /proc: one look before, one after the process was gone
    // (a 50 ms tmux poll would have made ~16).
    expect(calls.list).toBeLessThanOrEqual(3);
  });

  it('falls back to one command per step on a tmux without `run-shell -d` (before 3.2)', async () => {
    const { server, dir } = setup();
    // tmux 3.1 answers `run-shell -d` with "unknown flag -d" and runs nothing of that command line.
    const bin = join(dir, 'tmux-3.1');
    writeFileSync(bin, '#!/bin/sh\nfor a in "$@"; do [ "$a" = run-shell ] && { echo "command run-shell: unknown flag -d" >&2; exit 1; }; done\nexec tmux "$@"\n', { mode: 0o755 });
    const old = new TmuxAdapter({ socketName: server.socket, configFile: '/dev/null', tmuxBin: bin });
    await launch(old, dir, '0.2');
    await stopSessionGracefully(old, 'agent-1', 'Session/agent-1', 10_000, sleep);
    expect(existsSync(join(dir, 'exited'))).toBe(true); // asked to exit, and allowed to
    expect(server.sessions()).toEqual([]);
  });

  it('trusts tmux over a probe that reports the process gone while it still runs', async () => {
    const { server, tmux, dir } = setup();
    await launch(tmux, dir, '0.6');
    await stopSessionGracefully(tmux, 'agent-1', 'Session/agent-1', 10_000, sleep, { processState: () => 'gone' });
    expect(existsSync(join(dir, 'exited'))).toBe(true);
    expect(server.sessions()).toEqual([]);
  });

  it('notices the exit through tmux when the pid names another process (another pid namespace)', async () => {
    const { server, tmux, dir } = setup();
    await launch(tmux, dir, '0.3');
    const t0 = Date.now();
    await stopSessionGracefully(tmux, 'agent-1', 'Session/agent-1', 30_000, sleep, { processState: () => 'running' });
    expect(existsSync(join(dir, 'exited'))).toBe(true);
    expect(server.sessions()).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(15_000); // tmux is asked once a second, not only at the 30 s deadline
  });

  it('kills an agent that does not exit within the grace period', async () => {
    const { server, tmux, dir } = setup();
    await launch(tmux, dir, 'never');
    const t0 = Date.now();
    await stopSessionGracefully(tmux, 'agent-1', 'Session/agent-1', 700, sleep);
    expect(existsSync(join(dir, 'asked'))).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(server.sessions()).toEqual([]);
  });

  it('refuses to stop a session it does not own, and does nothing for a missing one', async () => {
    const { server, tmux, dir } = setup();
    server.run(['new-session', '-d', '-s', 'agent-1', 'sleep', '30']);
    await expect(stopSessionGracefully(tmux, 'agent-1', 'Session/agent-1', 1000, sleep)).rejects.toThrow(/owned by nobody/);
    expect(server.sessions()).toEqual(['agent-1']);
    await expect(stopSessionGracefully(tmux, 'agent-2', 'Session/agent-2', 1000, sleep)).resolves.toBeUndefined();
    expect(existsSync(join(dir, 'asked'))).toBe(false);
  });
});

describe('the typed effect registry', () => {
  it('has a built-in handler for tmux, fs and state effects and lists the types still without one', () => {
    const ex = new Executor({ tmux: {} as TmuxPort, store: { dir: '/x', read: async () => undefined, write: async () => {}, append: async () => {}, readLines: async () => [] }, timers: systemTimers });
    const missing = ex.missing();
    expect(missing).not.toContain('tmux.newSession');
    expect(missing).not.toContain('state.record');
    expect(missing).toEqual(EFFECT_TYPES.filter((t) => !/^(tmux\.(newSession|killSession|stopSession)|fs\.|state\.)/.test(t)));
  });

  it('dispatches each effect to the handler of its type, with its own shape; an unregistered type is an error', async () => {
    const ex = new Executor({ tmux: {} as TmuxPort, store: { dir: '/x', read: async () => undefined, write: async () => {}, append: async () => {}, readLines: async () => [] }, timers: systemTimers });
    const seen: string[] = [];
    ex.register('queue.fail', async (e) => {
      seen.push(`${e.taskId}:${e.from}:${e.reason}`); // typed: no cast, no re-check of e.type
    });
    await ex.apply({ key: 'Project/p', action: 'update', resource: 'task t-1', reason: 'test', effects: [{ type: 'queue.fail', root: '/q', taskId: 't-1', from: 'inbox', reason: 'malformed' }] }, {});
    expect(seen).toEqual(['t-1:inbox:malformed']);
    await expect(ex.apply({ key: 'Project/p', action: 'update', resource: 'x', reason: 'test', effects: [{ type: 'queue.archive', root: '/q', tasks: [] }] }, {})).rejects.toMatchObject({ code: 'CF_ERR_EFFECT_UNKNOWN' });
  });

  it('a wired controller has a handler for every effect type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-wire-'));
    dirs.push(dir);
    expect(wire({ stateDir: dir, dryRun: true }).executor.missing()).toEqual([]);
  });
});
