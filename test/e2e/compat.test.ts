/**
 * The Go-system compatibility switches that are not exercised by test/e2e/migrate.test.ts (which
 * runs secutools-key and status-delegated) or test/server/api.test.ts (anonymous-compat-read):
 * default-tmux puts the agents on the default tmux server, where `tmux attach -t ccl-0` finds them;
 * the ccl-delegate bin reads the Go-era SECUTOOLS_* variables (claude-failover delegate only with
 * the switch); an unknown switch and an unsafe combination are refused.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeJobServer } from '../../src/demo/fake-job-server.js';
import { REPO, runCli } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('--compat default-tmux', () => {
  it('runs the agents on the default tmux server: plain `tmux attach -t ccl-0` (no -L) finds them', async () => {
    // The default server of a private TMUX_TMPDIR: this test never touches the host's own.
    const tmuxDir = mkdtempSync(join(tmpdir(), 'cf-deftmux-'));
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8', env: { ...process.env, TMUX: '', TMUX_TMPDIR: tmuxDir } });
    cleanups.push(() => rmSync(tmuxDir, { recursive: true, force: true }), () => tmux('kill-server'));
    const pool = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['ccl-0'] });
    cleanups.push(() => pool.close());
    await pool.setup({});
    const d = new DaemonProcess(['-f', pool.manifests, '--state-dir', pool.stateDir, '--compat', 'default-tmux'], { TMUX_TMPDIR: tmuxDir, CLAUDE_FAILOVER_COMPAT: '' });
    cleanups.push(() => d.stop('SIGKILL'));
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    const warned = await d.waitForLog((l) => l.msg === 'Go-system compatibility switches are on (docs/migrating.md); turn them off once the transition is done');
    expect(warned.compat).toEqual(['default-tmux']);
    await until(() => tmux('list-sessions', '-F', '#{session_name} #{@cf-owner}').stdout.includes('ccl-0 Session/ccl-0'), 30_000, 'ccl-0 on the default server');
    // Where `tmux attach -t ccl-0` looks: the default socket.
    expect(tmux('has-session', '-t', '=ccl-0').status).toBe(0);
    expect(pool.tmux.serverRunning()).toBe(false);
    expect(await d.stop()).toBe(0);
  }, 120_000);
});

describe('ccl-delegate with the Go-era variable names', () => {
  it('ccl-delegate reads SECUTOOLS_API_URL/SECUTOOLS_API_KEY; claude-failover delegate only with --compat ccl-delegate-env', async () => {
    const server = await startFakeJobServer({ apiKey: 'sk-go-era-key' });
    cleanups.push(() => server.close());
    const r0 = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { authorization: 'Bearer sk-go-era-key', 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: JSON.stringify({ task_id: 't1', provider: 'gemini', prompt: 'p' }) });
    const job = ((await r0.json()) as { id: string }).id;
    const env = { SECUTOOLS_API_URL: server.url, SECUTOOLS_API_KEY: 'sk-go-era-key', CF_DELEGATION_ENDPOINT: '', CF_DELEGATION_API_KEY: '', CLAUDE_FAILOVER_COMPAT: '' };
    // Asynchronously: the job API runs in this process.
    const bin = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [join(REPO, 'dist', 'cli', 'ccl-delegate.js'), 'get', job], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (x: Buffer) => (stdout += x.toString()));
      c.stderr.on('data', (x: Buffer) => (stderr += x.toString()));
      c.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    expect(bin.status, bin.stderr).toBe(0);
    expect(bin.stdout).toMatch(new RegExp(`^${job} (queued|running|succeeded) gemini`));
    expect(bin.stdout + bin.stderr).not.toContain('sk-go-era-key');
    const plain = await runCli(['delegate', 'get', job], { env });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('no job API: pass --policy NAME -f PATH, or --endpoint URL (or set CF_DELEGATION_ENDPOINT)');
    const switched = await runCli(['delegate', 'get', job, '--compat', 'ccl-delegate-env'], { env });
    expect(switched.code, switched.stderr).toBe(0);
    expect(switched.stdout).toContain(job);
    // The new names win over the old ones.
    const both = await runCli(['delegate', 'get', job, '--compat', 'ccl-delegate-env'], { env: { ...env, CF_DELEGATION_API_KEY: 'sk-wrong' } });
    expect(both.code).toBe(4);
    expect(both.stderr).toContain('401');
  }, 90_000);
});

describe('refused switches', () => {
  it('an unknown switch names the ones there are; anonymous-compat-read needs a loopback listener; secutools-key needs the URL', async () => {
    const r = await runCli(['reconcile', '--once', '--dry-run', '-f', join(REPO, 'manifests'), '--compat', 'default-tmx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown compatibility switch "default-tmx" (did you mean "default-tmux"?); the switches are secutools-key, ccl-delegate-env, status-delegated, anonymous-compat-read, default-tmux');
    // Even with --allow-remote (without it, a non-loopback --listen is refused first).
    const a = await runCli(['run', '-f', join(REPO, 'manifests'), '--listen', '0.0.0.0:0', '--allow-remote', '--compat', 'anonymous-compat-read', '--state-dir', join(tmpdir(), 'cf-never-used')]);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('--compat anonymous-compat-read needs a loopback --listen (got 0.0.0.0:0)');
    expect(a.stderr).not.toContain('warning');
    const s = await runCli(['reconcile', '--once', '--dry-run', '-f', join(REPO, 'manifests'), '--compat', 'secutools-key'], { env: { SECUTOOLS_API_KEY: 'k', SECUTOOLS_API_URL: '' } });
    expect(s.code).toBe(1);
    expect(s.stderr).toContain('SECUTOOLS_API_KEY is set but SECUTOOLS_API_URL is not');
  }, 90_000);
});
