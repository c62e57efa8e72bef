/**
 * `make demo` headless: the failover happens, and stopping (on its own, or Ctrl-C) leaves no
 * tmux server, no usage endpoint and no simulator process behind. The demo works in a per-user
 * directory ($XDG_STATE_HOME/claude-failover-demo), never in the repository or the install.
 * `make demo CLAUDE=real` the same with the real Claude Code CLI (these share the demo's tmux
 * socket and directory, so they run one after the other in this file).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRealClaude } from '../../src/demo/real-claude.js';
import { CLI, REPO, runCli } from '../support/cli.js';

/** The pinned real CLI (the test fails, never skips, when it is not installed). */
const REAL_CLAUDE = findRealClaude().path;

const STATE_HOME = mkdtempSync(join(tmpdir(), 'cf-demo-xdg-'));
const DEMO_DIR = join(STATE_HOME, 'claude-failover-demo');
const RUN_DIR = join(DEMO_DIR, 'run');
// Where demos before this change wrote (a developer's clone may still have one).
const repoRunDirBefore = existsSync(join(REPO, 'examples', 'demo', 'run'));

afterAll(() => {
  rmSync(STATE_HOME, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

function runDemo(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'demo', '--log-level', 'info', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', XDG_STATE_HOME: STATE_HOME } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** Processes whose command line or environment points into the demo's run directory. */
function demoProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if ((cmd.includes('claude-sim') || cmd.includes(REAL_CLAUDE)) && env.includes(RUN_DIR)) found.push(`${pid} ${cmd}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function tmuxDemoServerRunning(): Promise<boolean> {
  const r = spawn('tmux', ['-L', 'cf-demo', 'list-sessions'], { stdio: 'ignore' });
  return new Promise<boolean>((resolve) => r.on('exit', (code) => resolve(code === 0)));
}

/** The port of the demo's usage endpoint, as it printed it (18471, or a free one when that was taken). */
function usagePort(out: string): number {
  const m = /(?:usage endpoint|Anthropic API) stand-in on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
  expect(m, out).not.toBeNull();
  return Number(m?.[1]);
}

async function assertNothingLeft(out: string): Promise<void> {
  expect(await tmuxDemoServerRunning()).toBe(false);
  // The demo's own usage endpoint is closed; the dashboard's port died with the demo process.
  expect(await portFree(usagePort(out))).toBe(true);
  const deadline = Date.now() + 5_000;
  while (demoProcesses().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(demoProcesses()).toEqual([]);
}

describe('make demo (headless)', () => {
  it('fails the pool over and stops by itself, leaving nothing behind', async () => {
    const d = runDemo(['--exit-after-failover', '--failover-after', '6s']);
    const code = await Promise.race([d.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 150_000))]);
    if (code === 'timeout') d.child.kill('SIGKILL');
    const out = d.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/attach a session: tmux -L cf-demo attach -t =ccl-0/);
    expect(out).toMatch(/dashboard:\s+http:\/\/127\.0\.0\.1:\d+\/#token=\S+/);
    expect(out).toMatch(/alpha's 5-hour usage is now 93% \(over its 90% threshold\)/);
    expect(out).toMatch(/FailoverStarted|moving the pool from alpha to beta/);
    expect(out).toMatch(/FAILOVER COMPLETE: the pool moved from alpha to beta/);
    expect(out).toMatch(/demo: stopped; nothing left running\./);
    // Its manifests and run dir are in the per-user dir, none in the repository's examples.
    expect(out).toContain(`demo: in ${DEMO_DIR} (manifests/, run/)`);
    expect(readdirSync(join(DEMO_DIR, 'manifests')).sort()).toEqual(['accounts.yaml', 'projects.yaml', 'sessions.yaml']);
    if (!repoRunDirBefore) expect(existsSync(join(REPO, 'examples', 'demo', 'run'))).toBe(false);
    // The state dir's writes must not look like manifest edits.
    const events = readFileSync(join(RUN_DIR, 'state', 'events.jsonl'), 'utf8');
    expect(events).not.toMatch(/"reason":"Manifests(Applied|Rejected)"/);
    await assertNothingLeft(out);
  }, 180_000);

  it('with the real Claude Code CLI (make demo CLAUDE=real): the real agents work on the demo tasks, fail over, and nothing is left behind', async () => {
    const d = runDemo(['--claude', 'real', '--exit-after-failover', '--failover-after', '20s', '--task-every', '3s']);
    const code = await Promise.race([d.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 240_000))]);
    if (code === 'timeout') d.child.kill('SIGKILL');
    const out = d.output();
    expect(code, out).toBe(0);
    expect(out).toMatch(/demo: in .* the real Claude Code CLI \d+\.\d+\.\d+ \(.*claude.*\) against the Anthropic API stand-in on http:\/\/127\.0\.0\.1:\d+/);
    expect(out).toMatch(/FAILOVER COMPLETE: the pool moved from alpha to beta/);
    // The real sessions ran the demo tasks: the agents' turns reached the stand-in and finished tasks.
    const events = readFileSync(join(RUN_DIR, 'state', 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"reason":"TaskCompleted"/);
    await assertNothingLeft(out);
  }, 300_000);

  it('stops everything on Ctrl-C (SIGINT)', async () => {
    const d = runDemo(['--failover-after', '600s']);
    const deadline = Date.now() + 60_000;
    while (!d.output().includes('Ctrl-C stops everything') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(d.output()).toContain('claude-failover demo is running');
    // The command the demo prints works: the control plane's record names the token file.
    const printed = /sessions: +node (\S+) (get sessions --state-dir \S+)/.exec(d.output());
    expect(printed, d.output()).not.toBeNull();
    const record = JSON.parse(readFileSync(join(RUN_DIR, 'state', 'control-plane.json'), 'utf8')) as { tokenFile?: string };
    expect(record.tokenFile).toBe(join(RUN_DIR, 'state', 'api-token'));
    const sessions = await runCli((printed?.[2] ?? '').split(' '), { env: { CLAUDE_FAILOVER_TOKEN: '' } });
    expect(sessions.code, sessions.stderr).toBe(0);
    expect(sessions.stdout).toMatch(/^NAME\s+PROJECT\s+ACCOUNT/);
    expect(sessions.stderr).not.toMatch(/CF_API_UNAUTHORIZED/);
    d.child.kill('SIGINT');
    const code = await Promise.race([d.exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 60_000))]);
    expect(code, d.output()).toBe(0);
    expect(d.output()).toMatch(/demo: stopped; nothing left running\./);
    await assertNothingLeft(d.output());
  }, 120_000);
});
