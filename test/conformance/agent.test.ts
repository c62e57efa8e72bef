/**
 * Conformance with the REAL Claude Code CLI, scenarios f–i of issue 13: the deployed guard, a
 * killed agent, a killed controller, and the stop sequence.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processState } from '../../src/runtime/executor.js';
import { CLI } from '../support/cli.js';
import { describe, expect, it } from 'vitest';
import { messageText, type FakeApiRequest } from '../../src/demo/fake-anthropic-server.js';
import { until } from '../support/daemon.js';
import { realPools } from './real-pool.js';

const pool = realPools();

const A = [{ name: 'a', priority: 10 }];


describe('real Claude Code: tools, crashes, restarts, stop', () => {
  it('f: the real CLI runs the deployed guard: a force push comes back as an error tool_result with the guard\'s reason; ls runs and returns its output', async () => {
    const p = await pool({ accounts: A, sessions: ['s1'] });
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    writeFileSync(join(p.project, 'conformance-marker.txt'), 'x');
    await p.prompt('s1', 'check the guard\n#sim bash git push --force origin main\n#sim write .claude/settings.json {"hooks":{}}\n#sim bash ls\n#sim print guard checked');
    const step = (n: number) => p.api.waitForRequest((r) => r.kind === 'turn' && (r.prompt ?? '').includes('check the guard') && r.step === n, 60_000, `step ${n} of the guard turn`);
    const afterPush = await step(1);
    expect(afterPush.toolResults).toHaveLength(1);
    expect(afterPush.toolResults?.[0]?.isError).toBe(true);
    expect(afterPush.toolResults?.[0]?.text).toMatch(/force/i);
    expect(afterPush.toolResults?.[0]?.text).toMatch(/claude-failover|guard|blocked/i);
    const afterWrite = await step(2);
    expect(afterWrite.toolResults?.[0]?.isError).toBe(true);
    expect(existsSync(join(p.project, '.claude', 'settings.json'))).toBe(false);
    const afterLs = await step(3);
    expect(afterLs.toolResults?.[0]?.isError).toBe(false);
    expect(afterLs.toolResults?.[0]?.text).toContain('conformance-marker.txt');
    await until(() => p.session('s1')?.activity === 'idle' && (p.session('s1')?.turns as number) >= 1, 30_000, 'turn ended');
    const audit = readFileSync(join(p.stateDir, 'audit', 'guard.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { session?: string; tool: string; decision: string; probe?: boolean; command?: string });
    const agent = audit.filter((a) => a.session === 's1' && !a.probe);
    expect(agent.filter((a) => a.decision === 'deny').map((a) => a.tool).sort()).toEqual(['Bash', 'Write']);
    expect(agent.some((a) => a.decision === 'allow' && a.tool === 'Bash')).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 240_000);

  it('the real CLI as the MCP client of `claude-failover mcp`: the API\'s tool_use calls the fleet\'s tools, each next request carries the tool result, and the task added through MCP is done', async () => {
    let config = '';
    const p = await pool({ accounts: A, sessions: ['s1', 's2'] }, (q) => {
      // s1 is the conductor, registered as in docs/conductor.md: Claude Code starts `claude-failover mcp` for it, which finds this
      // pool's controller through the state dir (control-plane.json), like `get` does.
      config = join(q.root, 'mcp.json');
      q.spec.args = ['--mcp-config', config];
    });
    writeFileSync(config, JSON.stringify({ mcpServers: { 'claude-failover': { command: process.execPath, args: [CLI, 'mcp', '--state-dir', p.stateDir] } } }));
    const d = p.start();
    await p.waitReady(['s1', 's2'], 'a', 90_000);
    const add = { project: 'p', title: 'from the conductor', text: 'Say hello from the conductor task.' };
    await p.prompt('s1', `conduct the fleet\n#sim tool mcp__claude-failover__list_sessions {}\n#sim tool mcp__claude-failover__add_task ${JSON.stringify(add)}\n#sim print fleet conducted`);
    const step = (n: number) => p.api.waitForRequest((r) => r.kind === 'turn' && (r.prompt ?? '').includes('conduct the fleet') && r.step === n, 60_000, `step ${n} of the conductor turn`);
    const afterList = await step(1);
    expect(afterList.toolResults).toEqual([{ toolUseId: expect.stringMatching(/^toolu_/), text: expect.any(String), isError: false }]);
    const rows = JSON.parse(afterList.toolResults?.[0]?.text as string) as { name: string; account: string; activity: string }[];
    expect(rows.map((r) => [r.name, r.account]).sort()).toEqual([['s1', 'a'], ['s2', 'a']]);
    // The conductor lists itself at work on this very turn.
    expect(rows.find((r) => r.name === 's1')?.activity).toBe('working');
    const afterAdd = await step(2);
    expect(afterAdd.toolResults).toHaveLength(1);
    expect(afterAdd.toolResults?.[0]?.isError, afterAdd.toolResults?.[0]?.text).toBe(false);
    const id = (JSON.parse(afterAdd.toolResults?.[0]?.text as string) as { id: string }).id;
    expect(id).toMatch(/from-the-conductor/);
    // The task the agent queued through MCP is dispatched to a session of the project and done.
    await until(() => existsSync(join(p.queue, 'done', `${id}.md`)), 90_000, 'the task added through MCP done');
    const ran = p.api.requests.find((r) => r.kind === 'turn' && (r.prompt ?? '').includes('Say hello from the conductor task.'));
    expect(ran).toBeDefined();
    expect(await d.stop()).toBe(0);
  }, 240_000);

  it('g: kill -9 of the real agent: relaunched with --resume, the conversation intact', async () => {
    const p = await pool({ accounts: A, sessions: ['s1'] });
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    await p.prompt('s1', 'remember the word quince');
    await until(() => (p.session('s1')?.turns as number) >= 1 && p.session('s1')?.activity === 'idle', 60_000, 'first turn ended');
    const conversation = p.session('s1')?.conversationId as string;
    const pid = p.panePids().s1 as number;
    process.kill(pid, 'SIGKILL');
    await until(() => (p.panePids().s1 ?? pid) !== pid && p.session('s1')?.activity === 'idle' && (p.session('s1')?.launches as number) >= 2, 90_000, 'relaunched and idle');
    const st = p.session('s1') as { conversationId?: string; launch?: { conversation?: string }; restarts?: number };
    expect(st.conversationId).toBe(conversation);
    expect(st.launch?.conversation).toBe(`--resume ${conversation}`);
    expect(st.restarts).toBe(1);
    const before = p.api.requests.length;
    await p.prompt('s1', 'which word?');
    const r: FakeApiRequest = await p.api.waitForRequest((x) => x.seq > before && x.kind === 'turn' && x.prompt === 'which word?', 60_000, 'the turn after the relaunch');
    expect(r.sessionId).toBe(conversation);
    expect((r.messages ?? []).map(messageText)).toEqual(expect.arrayContaining(['remember the word quince', 'Done: remember the word quince']));
    expect(await d.stop()).toBe(0);
  }, 240_000);

  it('h: kill -9 of the controller and a restart: the real sessions are adopted (same pane pids) and keep working', async () => {
    const sessions = ['s1', 's2'];
    const p = await pool({ accounts: A, sessions });
    const d1 = p.start();
    await p.waitReady(sessions, 'a', 90_000);
    const pids = p.panePids();
    const conversations = sessions.map((s) => p.session(s)?.conversationId);
    await d1.stop('SIGKILL');
    const d2 = p.start();
    await d2.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    await p.waitIdle(sessions, 'a', 60_000);
    expect(p.panePids()).toEqual(pids);
    expect(sessions.map((s) => p.session(s)?.conversationId)).toEqual(conversations);
    expect(sessions.map((s) => p.session(s)?.launches)).toEqual([1, 1]);
    expect(p.events().filter((e) => e.reason === 'Relaunching' || /relaunch/i.test(e.message))).toEqual([]);
    const id = await p.addTask('after restart', 'Say hello after the restart.');
    await until(() => existsSync(join(p.queue, 'done', `${id}.md`)), 90_000, 'task done after the restart');
    expect(p.panePids()).toEqual(pids);
    expect(await d2.stop()).toBe(0);
  }, 240_000);

  it('i: the stop sequence (Ctrl-C, Ctrl-C, /exit, Enter) ends the real TUI within the grace period, idle or in the middle of a turn', async () => {
    const sessions = ['idle1', 'busy1'];
    const p = await pool({ accounts: A, sessions });
    const d = p.start();
    await p.waitReady(sessions, 'a', 90_000);
    await p.prompt('busy1', 'a long turn\n#sim work 600000');
    await p.api.waitForRequest((r) => r.kind === 'turn' && (r.prompt ?? '').includes('a long turn'), 60_000, 'the long turn');
    await until(() => p.session('busy1')?.activity === 'working', 30_000, 'busy1 working');
    const pids = p.panePids();
    // Suspending a Session stops it with the stop sequence (grace 10 s, then kill).
    const manifest = join(p.manifests, 'pool.yaml');
    writeFileSync(manifest, readFileSync(manifest, 'utf8').replace(/^ {2}project: p$/gm, '  project: p\n  suspended: true'));
    await until(() => sessions.every((s) => processState(pids[s] as number) !== 'running'), 30_000, 'both agents exited');
    for (const s of sessions) {
      // Ended by its own exit (SessionEnd reason prompt_input_exit), not killed when the grace period ran out.
      expect(p.sessionEnds(s), `${s} SessionEnd`).toEqual(['prompt_input_exit']);
    }
    await until(() => sessions.every((s) => (p.session(s)?.conditions as { reason: string }[] | undefined)?.some((c) => c.reason === 'Suspended') === true), 30_000, 'Suspended');
    expect(await d.stop()).toBe(0);
  }, 240_000);
});
