/**
 * The checkpoint's "last tool call" of a session comes from the guard's audit log: the deployment's
 * self-check (a Write to .claude/settings.json that the guard must block) is audited too, marked as a
 * probe, and must never show as the agent's last call.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLastToolCalls } from '../../src/adapters/checkpoints.js';
import { deployGuard } from '../../src/adapters/guard-deploy.js';
import { readAuditTail } from './audit-lines.js';
import { BUNDLED_HOOK_ENTRY, buildDist } from './build-dist.js';
import { ENV } from './corpus.js';

let dir: string;

beforeAll(async () => {
  await buildDist();
  dir = await mkdtemp(join(tmpdir(), 'cf-guard-probe-'));
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runHook(script: string, input: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(script, [], { stdio: ['pipe', 'ignore', 'ignore'], env: { PATH: process.env.PATH, ...env } });
    child.on('error', reject);
    child.on('close', resolve);
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

describe('last tool call and the deployment probe', () => {
  it('shows no last call after the self-check alone, and the agent\'s call after it', async () => {
    const project = join(dir, 'project');
    const state = join(dir, 'state');
    const deployed = await deployGuard({ projectDir: project, sessionName: 'ccl-probe', stateDir: state, hookEntry: BUNDLED_HOOK_ENTRY });
    // the self-check ran and was audited as a probe, under the session's name
    const lines = await readAuditTail(state);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ session: 'ccl-probe', tool: 'Write', decision: 'deny', probe: true });
    expect(await readLastToolCalls(state)).toEqual({});

    const call = JSON.stringify({ session_id: 'x', cwd: project, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'npm test' }, tool_use_id: 'toolu_1' });
    expect(await runHook(deployed.scriptPath, call, { ...ENV, CLAUDE_PROJECT_DIR: project })).toBe(0);
    const last = await readLastToolCalls(state);
    expect(last['ccl-probe']).toMatchObject({ tool: 'Bash', command: 'npm test' });

    // a redeploy (a relaunch) runs the self-check again: the agent's call stays the last one
    await deployGuard({ projectDir: project, sessionName: 'ccl-probe', stateDir: state, hookEntry: BUNDLED_HOOK_ENTRY });
    expect((await readAuditTail(state)).at(-1)).toMatchObject({ probe: true });
    expect((await readLastToolCalls(state))['ccl-probe']).toMatchObject({ tool: 'Bash', command: 'npm test' });
  }, 60_000);
});
