/** `delegate` / `ccl-delegate` as real processes against the fake job server: outputs and exit codes. */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { idempotencyKeyFor } from '../../src/adapters/delegation/client.js';
import { startFakeJobServer, type FakeJobServer } from '../../src/demo/fake-job-server.js';
import { REPO, runCli, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/manifests.js';

const KEY = 'sk-cli-7d41e0c2';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function alias(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'cli', 'ccl-delegate.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function setup(): Promise<{ server: FakeJobServer; dir: string; env: NodeJS.ProcessEnv; task: string }> {
  const server = await startFakeJobServer({ apiKey: KEY, providers: { gemini: { durationMs: 30, cost: 0.2 }, gpu: { durationMs: 10, outcome: 'failed', error: 'CUDA out of memory' }, slow: { durationMs: 60_000 } } });
  const dir = tempDir('deleg-cli');
  cleanups.push(() => server.close(), () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const task = join(dir, 'nightly-audit.md');
  writeFileSync(task, '---\npreferred_ai: gemini\n---\nAudit the dependencies.\n');
  return { server, dir, env: { CF_DELEGATION_ENDPOINT: server.url, CF_DELEGATION_API_KEY: KEY }, task };
}

describe('ccl-delegate / claude-failover delegate', () => {
  it('submit prints the job id (the same id when re-run), get shows it, result --wait prints the result', async () => {
    const { server, env, task } = await setup();
    const a = await alias(['submit', '--file', task], env);
    expect(a).toMatchObject({ code: 0, stderr: '' });
    const id = a.stdout.trim();
    expect(id).toMatch(/^job-\d+$/);
    const again = await alias(['submit', '--file', task, '-o', 'json'], env);
    expect(JSON.parse(again.stdout)).toMatchObject({ jobId: id, taskId: 'nightly-audit', attempt: 1, replayed: true, idempotencyKey: idempotencyKeyFor('nightly-audit', 1) });
    expect(server.jobs).toHaveLength(1);
    const res = await runCli(['delegate', 'result', id, '--wait', '--timeout', '10s', '--poll', '20ms'], { env });
    expect([res.code, res.stdout]).toEqual([0, 'gemini finished task nightly-audit: 24 bytes of prompt, starting "Audit the dependencies."\n']);
    const got = await alias(['get', id], env);
    expect([got.code, got.stdout]).toEqual([0, `${id} succeeded gemini 0.2000 USD\n`]);
  });

  it.each<[string, (s: Awaited<ReturnType<typeof setup>>) => Promise<CliResult>, number, RegExp]>([
    ['a failed job: result exits 2 with the error', async (s) => {
      const id = (await alias(['submit', '--file', s.task, '--provider', 'gpu'], s.env)).stdout.trim();
      return alias(['result', id, '--wait', '--poll', '20ms'], s.env);
    }, 2, /failed: provider_error: CUDA out of memory/],
    ['an unfinished job: result exits 3', async (s) => {
      const id = (await alias(['submit', '--file', s.task, '--provider', 'slow'], s.env)).stdout.trim();
      return alias(['result', id], s.env);
    }, 3, /is running; not finished yet \(use --wait\)/],
    ['--wait timing out exits 3', async (s) => {
      const id = (await alias(['submit', '--file', s.task, '--provider', 'slow'], s.env)).stdout.trim();
      return alias(['result', id, '--wait', '--timeout', '200ms', '--poll', '50ms'], s.env);
    }, 3, /CF_ERR_DELEGATION_WAIT_TIMEOUT: job job-\d+ is still running/],
    ['a refused request (unknown provider) exits 4, not retried', async (s) => {
      const r = await alias(['submit', '--file', s.task, '--provider', 'nope'], s.env);
      expect(s.server.requests).toHaveLength(1);
      return r;
    }, 4, /CF_ERR_DELEGATION_REJECTED: .* answered 400 unknown_provider/],
    ['a wrong key exits 4 and the key is not shown', async (s) => alias(['get', 'job-1'], { ...s.env, CF_DELEGATION_API_KEY: 'wrong-secret-value' }), 4, /answered 401 unauthorized/],
    ['an unreachable API exits 5', async (_s) => alias(['get', 'job-1', '--endpoint', 'http://127.0.0.1:9'], { CF_DELEGATION_API_KEY: KEY }), 5, /CF_ERR_DELEGATION_UNAVAILABLE: http:\/\/127\.0\.0\.1:9 unreachable/],
    ['no endpoint is a usage error (1)', async () => alias(['get', 'job-1'], { CF_DELEGATION_ENDPOINT: '', CF_DELEGATION_API_KEY: '' }), 1, /no job API: pass --policy NAME -f PATH, or --endpoint URL/],
    ['no key is a config error (1) naming the variable', async (s) => alias(['get', 'job-1'], { CF_DELEGATION_ENDPOINT: s.server.url, CF_DELEGATION_API_KEY: '' }), 1, /secret environment variable CF_DELEGATION_API_KEY is empty/],
  ])('%s', async (_name, run, code, stderr) => {
    const s = await setup();
    const r = await run(s);
    expect(r.stderr).toMatch(stderr);
    expect(r.code).toBe(code);
    expect(r.stderr + r.stdout).not.toContain(KEY);
    expect(r.stderr + r.stdout).not.toContain('wrong-secret-value');
  });

  it('--help documents the exit codes and examples', async () => {
    const r = await runCli(['delegate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Exit codes: 0 ok · 1 usage/config error · 2 job failed · 3 job not finished');
    expect(r.stdout).toContain('job=$(ccl-delegate submit --policy secutools -f manifests/ --file task.md)');
    const main = await runCli(['--help']);
    expect(main.stdout).toMatch(/delegate\s+Job API for scripts/);
  });
});
