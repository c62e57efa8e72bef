/**
 * `claude-failover mcp` driven by the MCP SDK's own client over stdio (the built binary, spawned by
 * StdioClientTransport) against a real controller (`run`, default flags) with simulator agents on
 * a private tmux server: every tool, its annotations, and its errors (unknown objects, a refused
 * send and failover, a controller that is down or not yet started).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, REPO } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const p of pools.splice(0)) {
    await p.daemon?.stop('SIGTERM');
    await p.close();
  }
});

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

interface Mcp {
  client: Client;
  stderr: () => string;
  call(name: string, args?: Record<string, unknown>): Promise<{ isError: boolean; text: string }>;
  /** A tool that must succeed, its JSON answer. */
  json<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
}

/** Spawns `node dist/cli/main.js mcp ARGS` and connects the SDK client to it over stdio. */
async function mcp(args: string[]): Promise<Mcp> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', ...args], cwd: REPO, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'claude-failover-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  const call = async (name: string, a: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: a });
    const content = r.content as { type: string; text: string }[];
    expect(content).toHaveLength(1);
    expect(content[0]?.type).toBe('text');
    return { isError: r.isError === true, text: content[0]?.text ?? '' };
  };
  return {
    client,
    stderr: () => stderr,
    call,
    json: async <T,>(name: string, a: Record<string, unknown> = {}) => {
      const r = await call(name, a);
      expect(r.isError, `${name}: ${r.text}`).toBe(false);
      return JSON.parse(r.text) as T;
    },
  };
}

const READ_ONLY = ['list_accounts', 'describe_account', 'list_sessions', 'describe_session', 'list_projects', 'describe_project', 'list_tasks', 'describe_task', 'recent_events', 'get_plan'];
const ACTING: Record<string, boolean> = { add_task: false, send_to_session: false, restart_session: true, failover: true };

describe('claude-failover mcp', () => {
  it('serves every tool against a running controller, with the controller\'s errors as tool errors', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }], sessions: ['s1', 's2'], simEnv: { CLAUDE_SIM_WORK_MS: '3000', CLAUDE_SIM_READ_TASK_FILES: '0' } });
    pools.push(p);
    await p.setup({ a: { fiveHour: 20, sevenDay: 10 }, b: { fiveHour: 5, sevenDay: 5 } });
    const d = p.start();
    await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    await p.waitIdle(['s1', 's2'], 'a');
    const m = await mcp(['--state-dir', p.stateDir]);

    // The tool list: names, descriptions, input schemas (from zod), and the hints.
    const { tools } = await m.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...READ_ONLY, ...Object.keys(ACTING)].sort());
    for (const t of tools) {
      expect(t.description?.length, t.name).toBeGreaterThan(40);
      expect(t.inputSchema.type).toBe('object');
      if (READ_ONLY.includes(t.name)) expect(t.annotations, t.name).toMatchObject({ readOnlyHint: true });
      else {
        expect(t.annotations, t.name).toMatchObject({ readOnlyHint: false, destructiveHint: ACTING[t.name] });
        expect(t.description, t.name).toMatch(/CHANGES: /);
      }
    }
    expect(tools.find((t) => t.name === 'send_to_session')?.inputSchema).toMatchObject({ required: ['name', 'text'], additionalProperties: false });
    expect(tools.find((t) => t.name === 'failover')?.inputSchema).toMatchObject({ required: ['reason'] });

    // Accounts.
    const accounts = await m.json<{ activeAccount: string; accounts: { name: string; active: boolean; fiveHourPercent: number }[] }>('list_accounts');
    expect(accounts.activeAccount).toBe('a');
    expect(accounts.accounts.map((a) => [a.name, a.active])).toEqual([['a', true], ['b', false]]);
    await until(async () => (await m.json<{ accounts: { name: string; fiveHourPercent: number | null }[] }>('list_accounts')).accounts.every((a) => a.fiveHourPercent !== null), 15_000, 'usage polled');
    expect((await m.json<{ accounts: { name: string; fiveHourPercent: number }[] }>('list_accounts')).accounts.find((a) => a.name === 'b')?.fiveHourPercent).toBe(5);
    const acct = await m.json<{ kind: string; spec: { priority: number }; events: { reason: string }[] }>('describe_account', { name: 'b' });
    expect(acct).toMatchObject({ kind: 'Account', spec: { priority: 20 } });
    expect(await m.call('describe_account', { name: 'ghost' })).toEqual({ isError: true, text: 'CF_API_OBJECT_NOT_FOUND (HTTP 404): Account "ghost" not found' });

    // Sessions.
    const sessions = await m.json<{ name: string; project: string; account: string; activity: string; ready: string }[]>('list_sessions');
    expect(sessions.map((s) => [s.name, s.project, s.account, s.activity, s.ready])).toEqual([['s1', 'p', 'a', 'idle', 'True'], ['s2', 'p', 'a', 'idle', 'True']]);
    expect(await m.json('list_sessions', { project: 'other' })).toEqual([]);
    const s1 = await m.json<{ metadata: { name: string }; status: { conversationId: string }; events: { reason: string }[] }>('describe_session', { name: 's1' });
    expect(s1.metadata.name).toBe('s1');
    expect(s1.status.conversationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s1.events.map((e) => e.reason)).toContain('Created');
    expect(await m.call('describe_session', { name: 'ghost' })).toEqual({ isError: true, text: 'CF_API_OBJECT_NOT_FOUND (HTTP 404): Session "ghost" not found' });
    // Invalid arguments never reach the controller: the SDK checks them against the zod schema.
    const badName = await m.call('describe_session', { name: '../etc' });
    expect(badName.isError).toBe(true);
    expect(badName.text).toMatch(/Input validation error: .*not a valid object name/);

    // Projects.
    const projects = await m.json<{ name: string; queue: Record<string, number>; ready: string }[]>('list_projects');
    expect(projects).toHaveLength(1);
    expect(projects[0]).toMatchObject({ name: 'p', ready: 'True', queue: { inbox: 0 } });
    expect(await m.json('describe_project', { name: 'p' })).toMatchObject({ kind: 'Project', spec: { path: join(p.root, 'project') } });
    expect((await m.call('describe_project', { name: 'ghost' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Project "ghost" not found');

    // The plan of a converged fleet, as text and as JSON.
    await until(async () => (await m.call('get_plan')).text.includes('No changes.'), 20_000, 'plan converged');
    const planJson = await m.json<{ changes: unknown[] }>('get_plan', { format: 'json' });
    expect(planJson.changes).toEqual([]);

    // add_task: queued, dispatched to an idle session, done; list_tasks / describe_task follow it.
    const added = await m.json<{ id: string; project: string; state: string }>('add_task', { project: 'p', text: 'Write the release notes.', title: 'Release notes', priority: 'high' });
    expect(added).toMatchObject({ project: 'p', state: 'inbox', id: expect.stringMatching(/-release-notes$/) });
    const task = await m.json<{ spec: { body: string; priority: string } }>('describe_task', { id: added.id });
    expect(task.spec).toMatchObject({ priority: 'high', body: expect.stringContaining('Write the release notes.') });
    await until(async () => (await m.json<{ metadata: { name: string }; status: { state: string } }[]>('list_tasks', { project: 'p', state: 'done' })).some((t) => t.metadata.name === added.id), 30_000, 'task done');
    expect((await m.call('add_task', { project: 'ghost', text: 'x' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Project "ghost" not found');
    const malformed = await m.call('add_task', { project: 'p', text: '---\npriority: high\nnever closed' });
    expect(malformed).toEqual({ isError: true, text: expect.stringMatching(/^CF_API_BAD_REQUEST \(HTTP 400\): task not added: frontmatter opened/) });
    expect((await m.call('describe_task', { id: 'no-such-task' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Task "no-such-task" not found');
    expect((await m.call('list_tasks', { project: 'ghost' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Project "ghost" not found');

    // send_to_session: typed into the agent (the simulator received these bytes), then refused while it works.
    await p.waitIdle(['s1', 's2']);
    // A long turn (`#sim work`): s1 is still working when the next text comes.
    const text = 'From the conductor: after this, run the unit tests.\n#sim work 20000';
    const sent = await m.json<{ delivered: boolean; queued: boolean; sha256: string }>('send_to_session', { name: 's1', text });
    expect(sent).toMatchObject({ delivered: true, queued: false, sha256: sha(text) });
    await until(() => p.sim().some((r) => r.type === 'received' && r.sha256 === sha(text)), 10_000, 'sent text received');
    await until(() => p.session('s1')?.activity === 'working', 15_000, 's1 working on the sent text');
    const refused = await m.call('send_to_session', { name: 's1', text: 'not now' });
    expect(refused.isError).toBe(true);
    expect(refused.text).toMatch(/^CF_API_CONFLICT \(HTTP 409\): session s1 is working; pass queue: true/);
    expect((await m.call('send_to_session', { name: 'ghost', text: 'x' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Session "ghost" not found');
    const audit = readFileSync(join(p.stateDir, 'audit', 'send.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.find((l) => l.sha256 === sha(text))).toMatchObject({ outcome: 'accepted', client: expect.stringMatching(/^claude-failover-mcp\//) });
    expect(audit.find((l) => l.sha256 === sha('not now'))).toMatchObject({ outcome: 'refused' });

    // recent_events: the decisions, filtered by object.
    const evs = await m.json<{ key: string; reason: string }[]>('recent_events', { for: 'Session/s1', limit: 50 });
    expect(evs.every((e) => e.key === 'Session/s1')).toBe(true);
    expect(evs.map((e) => e.reason)).toEqual(expect.arrayContaining(['Created', 'TextSent']));
    expect((await m.json<{ reason: string }[]>('recent_events', { limit: 500 })).map((e) => e.reason)).toEqual(expect.arrayContaining(['ActiveAccountSelected', 'TaskAdded', 'TextSent']));

    // restart_session: s2 relaunched (new pane), s1 untouched.
    const pids = p.tmux.panePids();
    expect(await m.json('restart_session', { name: 's2' })).toMatchObject({ restarted: true });
    await until(() => p.tmux.panePids().s2 !== undefined && p.tmux.panePids().s2 !== pids.s2, 20_000, 's2 relaunched');
    expect(p.tmux.panePids().s1).toBe(pids.s1);
    expect((await m.call('restart_session', { name: 'ghost' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Session "ghost" not found');

    // failover: an unknown target is refused; a real one moves the pool.
    expect((await m.call('failover', { reason: 'test', to: 'ghost' })).text).toBe('CF_API_OBJECT_NOT_FOUND (HTTP 404): Account "ghost" not found');
    const fo = await m.json<{ accepted: boolean; to: string }>('failover', { reason: 'conductor test', to: 'b' });
    expect(fo).toMatchObject({ accepted: true, to: 'b' });
    await until(() => p.active() === 'b', 30_000, 'b active after the failover tool');
    expect(p.events().find((e) => e.reason === 'FailoverRequested')?.data).toMatchObject({ to: 'b', reason: 'conductor test', requestedVia: 'api' });
    await until(async () => (await m.json<{ activeAccount: string }>('list_accounts')).activeAccount === 'b', 10_000, 'list_accounts shows b');
    expect(m.stderr()).toBe('');
  }, 240_000);

  it('answers with a tool error while no controller runs, works once one starts, and reports a refused failover', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['s1'] });
    pools.push(p);
    await p.setup({ a: { fiveHour: 10, sevenDay: 10 } });
    // The MCP server starts before the controller: it runs, and says what is missing.
    const m = await mcp(['--state-dir', p.stateDir]);
    const before = await m.call('list_sessions');
    expect(before.isError).toBe(true);
    expect(before.text).toBe(`CF_ERR_NO_CONTROLLER: no running controller found (state dir ${p.stateDir}): start it with \`claude-failover run\`, or give the MCP server --server URL / --state-dir DIR`);

    const d = p.start();
    const url = (await d.waitForLog((l) => l.msg === 'control plane listening', 30_000)).url as string;
    await p.waitIdle(['s1']);
    expect((await m.json<{ name: string }[]>('list_sessions')).map((s) => s.name)).toEqual(['s1']);
    // One account: nowhere to fail over to. The controller refuses (409) and the tool says why.
    expect(await m.call('failover', { reason: 'try it' })).toEqual({ isError: true, text: 'CF_API_CONFLICT (HTTP 409): no account to fail over to' });
    // A wrong token given explicitly is the controller's 401, not "no controller".
    const wrongToken = join(p.root, 'wrong-token');
    (await import('node:fs')).writeFileSync(wrongToken, 'not-the-token-0123456789\n', { mode: 0o600 });
    const m2 = await mcp(['--server', url, '--token-file', wrongToken]);
    expect((await m2.call('list_accounts')).text).toMatch(/^CF_API_UNAUTHORIZED \(HTTP 401\): invalid bearer token/);

    // The controller goes down: tools say so, and a controller named explicitly is "unreachable".
    expect(await d.stop('SIGTERM')).toBe(0);
    const after = await m.call('list_accounts');
    expect(after).toMatchObject({ isError: true, text: expect.stringMatching(/^CF_ERR_NO_CONTROLLER: no running controller found/) });
    const explicit = await m2.call('get_plan');
    expect(explicit).toMatchObject({ isError: true, text: expect.stringMatching(new RegExp(`^CF_ERR_API_UNREACHABLE: no controller answers at ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`)) });
    expect(m.stderr()).toBe('');
  }, 120_000);
});
