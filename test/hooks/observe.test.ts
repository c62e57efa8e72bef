/**
 * The shell observer (hooks/claude-failover-observe), run by real /bin/sh the way Claude Code runs
 * a hook command, and its lines read back through the controller's parser.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordFromLine } from '../../src/core/activity.js';
import { SessionEventsReader } from '../../src/adapters/session-events.js';
import { observeCommand } from '../../src/runtime/wiring.js';
import { runCli } from '../support/cli.js';

const OBSERVE = observeCommand();
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cf-observe-'));
  dirs.push(d);
  return d;
}

function run(args: string[], input: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/bin/sh', ['-c', [OBSERVE, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')], { input, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(dir: string): unknown[] {
  return readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
}

const statusInput = { session_id: 'c0ffee00-0000-4000-8000-000000000001', hook_event_name: 'Status', cwd: '/srv/app', rate_limits: { five_hour: { used_percentage: 23.5, resets_at: 1738425600 }, seven_day: { used_percentage: 7, resets_at: 1738900000 } } };

describe('claude-failover-observe', () => {
  it('is executable and shipped in the package', () => {
    expect(statSync(OBSERVE).mode & 0o111).not.toBe(0);
    expect((JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { files: string[] }).files).toContain('hooks/');
  });

  it('appends a hook input as one record the controller parses', () => {
    const dir = join(stateDir(), 'sessions', 's1');
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // the controller makes it before the launch
    const before = Date.now();
    const r = run(['hook', dir], JSON.stringify({ session_id: 'c0ffee00-0000-4000-8000-000000000001', hook_event_name: 'SessionStart', source: 'resume', transcript_path: '/x.jsonl', cwd: '/srv/app' }));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const [line] = lines(dir);
    const rec = recordFromLine(line);
    expect(rec).toMatchObject({ event: 'SessionStart', source: 'resume', sessionId: 'c0ffee00-0000-4000-8000-000000000001', transcriptPath: '/x.jsonl', cwd: '/srv/app' });
    expect(rec?.t).toBeGreaterThanOrEqual(before - 1000); // epoch milliseconds
    expect(rec?.t).toBeLessThanOrEqual(Date.now() + 1000);
    // A new events file is private to the controller's user.
    expect(statSync(join(dir, 'events.jsonl')).mode & 0o777).toBe(0o600);
  });

  it.each([
    ['both windows and a task (rounded)', statusInput, 'T-42', 's1 · a · 5h 24% · 7d 7% · task T-42'],
    ['no rate limits yet', { ...statusInput, rate_limits: undefined }, undefined, 's1 · a · 5h – · 7d –'],
    ['a window missing', { ...statusInput, rate_limits: { seven_day: { used_percentage: 99.9 } } }, undefined, 's1 · a · 5h – · 7d 100%'],
    ['over 100', { ...statusInput, rate_limits: { five_hour: { used_percentage: 104 } } }, undefined, 's1 · a · 5h 104% · 7d –'],
  ])('status line: %s', (_n, input, task, want) => {
    const dir = join(stateDir(), 'sessions', 's1');
    mkdirSync(dir, { recursive: true });
    if (task) writeFileSync(join(dir, 'task'), `${task}\n`);
    const r = run(['statusline', dir, 's1 · a'], JSON.stringify(input));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${want}\n`);
    const rec = recordFromLine(lines(dir)[0]);
    expect(rec?.event).toBe('StatusLine');
    expect(rec?.rateLimits).toEqual((input as { rate_limits?: unknown }).rate_limits);
  });

  it('records the account it was launched under, which the controller attributes the report to', () => {
    const dir = stateDir();
    run(['statusline', dir, 's1 · b', 'b'], JSON.stringify(statusInput));
    run(['hook', dir, '', 'b'], JSON.stringify({ hook_event_name: 'StopFailure', error: 'rate_limit', error_message: "You've hit your session limit · resets 3pm" }));
    run(['hook', dir, '', 'not"valid'], JSON.stringify({ hook_event_name: 'SessionEnd' }));
    const [status, failure, end] = lines(dir).map((l) => recordFromLine(l));
    expect(status).toMatchObject({ event: 'StatusLine', account: 'b' });
    expect(failure).toMatchObject({ event: 'StopFailure', error: 'rate_limit', account: 'b' });
    expect(end?.event).toBe('SessionEnd');
    expect(end?.account).toBeUndefined(); // a name that is not an account name is left out
  });

  it('writes nothing, and makes no directory, when the session directory is gone', () => {
    const state = stateDir();
    mkdirSync(join(state, 'sessions'));
    expect(run(['hook', join(state, 'sessions', 's1'), '', 'a'], '{"hook_event_name":"SessionEnd"}').status).toBe(0);
    expect(existsSync(join(state, 'sessions', 's1'))).toBe(false);
    rmSync(state, { recursive: true });
    expect(run(['hook', join(state, 'sessions', 's1'), '', 'a'], '{"hook_event_name":"SessionEnd"}').status).toBe(0);
    expect(existsSync(state)).toBe(false);
  });

  it('writes what `claude-failover hook statusline` (the CLI fallback) writes, and prints the same line', async () => {
    const state = stateDir();
    const dir = join(state, 'sessions', 's1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'task'), 'T-7\n');
    const sh = run(['statusline', dir, 's1 · b', 'b'], JSON.stringify(statusInput));
    const cli = await runCli(['hook', 'statusline', '--session', 's1', '--state-dir', state, '--account', 'b'], { input: JSON.stringify(statusInput) });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(sh.stdout);
    const [viaSh, viaCli] = (await new SessionEventsReader(state).read('s1')).records.map(({ t: _t, ...rest }) => rest);
    expect(viaCli).toEqual(viaSh);
    expect(viaSh).toMatchObject({ event: 'StatusLine', account: 'b', rateLimits: statusInput.rate_limits });
  });

  it('folds a multi-line JSON input into one parseable line', () => {
    const dir = stateDir();
    run(['hook', dir], JSON.stringify({ hook_event_name: 'Notification', notification_type: 'idle_prompt', message: 'a' }, null, 2));
    const all = lines(dir);
    expect(all).toHaveLength(1);
    expect(recordFromLine(all[0])).toMatchObject({ event: 'Notification', notificationType: 'idle_prompt' });
  });

  it('writes null for input that is not a JSON object, which the reader skips; exits 0', async () => {
    const state = stateDir();
    const dir = join(state, 'sessions', 's1');
    mkdirSync(dir, { recursive: true });
    expect(run(['hook', dir], 'not json').status).toBe(0);
    expect(run(['hook', dir], '').status).toBe(0);
    expect(lines(dir)).toHaveLength(2);
    expect((await new SessionEventsReader(state).read('s1')).records).toEqual([]);
  });

  it('never fails the agent: an unwritable session directory still exits 0 and prints the status line', () => {
    // Below a regular file: no directory can be made there, not even by root.
    const file = join(stateDir(), 'f');
    writeFileSync(file, '');
    const r = run(['statusline', join(file, 'sessions', 's1'), 's1'], JSON.stringify(statusInput));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('s1 · 5h 24% · 7d 7%\n');
  });

  it('keeps every line whole when many hooks of one session write at once', async () => {
    const state = stateDir();
    const dir = join(state, 'sessions', 's1');
    mkdirSync(dir, { recursive: true });
    const big = 'x'.repeat(3000); // a long notification message: still one write
    await Promise.all(Array.from({ length: 40 }, (_, i) => new Promise<void>((resolve) => {
      const c = spawn(OBSERVE, [i % 2 ? 'hook' : 'statusline', dir, 's1'], { stdio: ['pipe', 'ignore', 'ignore'] });
      c.on('close', () => resolve());
      c.stdin.end(JSON.stringify(i % 2 ? { hook_event_name: 'Notification', notification_type: 'idle_prompt', message: `${i} ${big}` } : statusInput));
    })));
    const records = (await new SessionEventsReader(state).read('s1')).records;
    expect(records).toHaveLength(40);
    expect(records.filter((r) => r.event === 'Notification')).toHaveLength(20);
  });
});
