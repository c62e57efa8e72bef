/**
 * The controller's secrets and the hook: which files they are (from --state-dir, the control-plane
 * record, --protect-read, --config) and that reading them is denied while the rest stays readable.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHookArgs, runPreToolUseHook, STATE_SECRET_FILES, stateSecrets } from '../../src/guard/hook.js';
import { CONTROL_PLANE_RECORD, TOKEN_FILE } from '../../src/runtime/control-plane.js';
import { APPLIED_MANIFESTS_RECORD } from '../../src/runtime/manifest-set.js';
import { ENV, PROJECT } from './corpus.js';

let dir: string;
let state: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cf-guard-secrets-'));
  state = join(dir, 'state');
  await mkdir(state, { recursive: true });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function hook(args: string[], tool: string, toolInput: Record<string, unknown>): Promise<{ code: number; err: string }> {
  const stdin = new PassThrough();
  stdin.end(JSON.stringify({ tool_name: tool, tool_input: toolInput, cwd: PROJECT }));
  const err: string[] = [];
  const code = await runPreToolUseHook(args, { stdin, stderr: { write: (s: string) => err.push(s) }, env: ENV });
  return { code, err: err.join('') };
}

describe('secrets of the state dir', () => {
  it('are the files the runtime writes them to (the guard keeps its own copy of the names)', () => {
    expect([...STATE_SECRET_FILES].sort()).toEqual([TOKEN_FILE, CONTROL_PLANE_RECORD, APPLIED_MANIFESTS_RECORD].sort());
  });

  it('are the token, the control-plane record, the applied manifests, and the token file the record names', async () => {
    const base = [join(state, 'api-token'), join(state, 'control-plane.json'), join(state, 'applied-manifests.json')];
    expect(stateSecrets(state)).toEqual(base);
    await writeFile(join(state, 'control-plane.json'), JSON.stringify({ url: 'http://127.0.0.1:7777', tokenFile: '/etc/cf/token' }));
    expect(stateSecrets(state)).toEqual([...base, '/etc/cf/token']);
    // a relative or missing tokenFile is ignored, a broken record too
    await writeFile(join(state, 'control-plane.json'), '{"tokenFile": "relative/token"}');
    expect(stateSecrets(state)).toEqual(base);
    await writeFile(join(state, 'control-plane.json'), '{not json');
    expect(stateSecrets(state)).toEqual(base);
  });

  it('reading them is denied through Bash and the Read tool; the audit log stays readable', async () => {
    const args = ['--state-dir', state];
    expect(await hook(args, 'Bash', { command: `cat ${join(state, 'api-token')}` })).toMatchObject({ code: 2, err: expect.stringContaining('[secret-read]') });
    expect(await hook(args, 'Read', { file_path: join(state, 'api-token') })).toMatchObject({ code: 2, err: expect.stringContaining('[secret-read]') });
    expect(await hook(args, 'Bash', { command: `jq . ${join(state, 'applied-manifests.json')}` })).toMatchObject({ code: 2, err: expect.stringContaining('[secret-read]') });
    expect(await hook(args, 'Read', { file_path: join(state, 'applied-manifests.json') })).toMatchObject({ code: 2, err: expect.stringContaining('[secret-read]') });
    expect(await hook(args, 'Grep', { pattern: 'x', path: state })).toMatchObject({ code: 2 });
    expect(await hook(args, 'Read', { file_path: join(state, 'audit', 'guard.jsonl') })).toEqual({ code: 0, err: '' });
    expect(await hook(args, 'Bash', { command: `ls -la ${state}` })).toEqual({ code: 0, err: '' });
  });

  it('--protect-read and readProtectedPaths in --config add files', async () => {
    expect(await hook(['--protect-read', '/srv/secrets/bot-token'], 'Bash', { command: 'base64 /srv/secrets/bot-token' })).toMatchObject({ code: 2 });
    const cfg = join(dir, 'guard.json');
    await writeFile(cfg, JSON.stringify({ readProtectedPaths: ['/srv/secrets/webhook'] }));
    expect(parseHookArgs(['--config', cfg]).readProtectedPaths).toEqual(['/srv/secrets/webhook']);
    expect(await hook(['--config', cfg], 'Read', { file_path: '/srv/secrets/webhook' })).toMatchObject({ code: 2 });
    expect(await hook([], 'Read', { file_path: '/srv/secrets/webhook' })).toEqual({ code: 0, err: '' });
  });
});
