/**
 * The guard end to end: the controller deploys it into the project and registers it in the
 * session's settings; the simulator (behaving like Claude Code) runs it before tool calls.
 * The destructive calls used here are harmless if they ever ran (no remote, a temp project).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('guard deployed by the controller', () => {
  it('blocks a destructive Bash call and a Write to .claude/settings.json, audits both, and lets a benign call through', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['g1'], simEnv: { CLAUDE_SIM_WORK_MS: '200' } });
    pools.push(p);
    await p.setup({});
    const d = p.start();
    await until(() => p.session('g1')?.activity === 'idle', 30_000, 'g1 idle');
    const project = join(p.root, 'project');
    const script = join(project, '.claude', 'hooks', 'claude-failover-guard-g1');
    expect(existsSync(script)).toBe(true);
    const settings = JSON.parse(readFileSync(join(p.stateDir, 'sessions', 'g1', 'settings.json'), 'utf8')) as { hooks: { PreToolUse: { matcher: string; hooks: { command: string }[] }[] } };
    expect(settings.hooks.PreToolUse[0]?.hooks[0]?.command).toBe(script);

    await p.prompt('g1', '#sim bash git push --force origin main\n#sim write .claude/settings.json {"hooks":{}}\n#sim bash echo benign > benign.txt');
    await until(() => existsSync(join(project, 'benign.txt')), 20_000, 'benign call ran');
    await until(() => p.session('g1')?.activity === 'idle', 20_000, 'turn ended');

    const tools = p.sim().filter((r) => r.type === 'tool') as { tool: string; blocked?: boolean; input: Record<string, unknown> }[];
    expect(tools.find((t) => t.tool === 'Bash' && String(t.input.command).includes('push --force'))?.blocked).toBe(true);
    expect(tools.find((t) => t.tool === 'Write')?.blocked).toBe(true);
    expect(tools.find((t) => t.tool === 'Bash' && String(t.input.command).includes('benign'))?.blocked).toBeFalsy();
    expect(existsSync(join(project, '.claude', 'settings.json'))).toBe(false);

    const audit = readFileSync(join(p.stateDir, 'audit', 'guard.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { session: string; tool: string; decision: string; rule: string; command?: string; probe?: boolean });
    // The deployment's self-check is audited, marked as a probe (not counted as an agent decision).
    expect(audit.filter((a) => a.probe === true).length).toBeGreaterThanOrEqual(1);
    const denies = audit.filter((a) => a.session === 'g1' && a.decision === 'deny' && !a.probe);
    expect(denies.map((a) => a.tool).sort()).toEqual(['Bash', 'Write']);
    expect(audit.some((a) => a.session === 'g1' && a.decision === 'allow' && a.tool === 'Bash')).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('does not launch a session whose guard cannot be deployed (fail closed on first launch)', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['g2'] });
    pools.push(p);
    await p.setup({});
    // The project's .claude is a file: the hook directory cannot be created.
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(p.root, 'project'), { recursive: true });
    writeFileSync(join(p.root, 'project', '.claude'), 'not a directory');
    const d = p.start();
    await until(() => (p.session('g2')?.conditions as { reason: string; message: string }[] | undefined)?.some((c) => c.reason === 'ApplyFailed' && /CF_ERR_GUARD_DEPLOY|guard hook/.test(c.message)) === true, 30_000, 'ApplyFailed with the guard error');
    expect(p.tmux.sessions()).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 60_000);
});
