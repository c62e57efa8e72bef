/** The Project controller end to end: real daemon, real tmux, simulator sessions, real queue dirs. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { until } from '../support/daemon.js';
import type { DaemonProcess } from '../support/daemon.js';
import { addTask, assertOneStateEach, inState, locations, projectPool, readStatusMap, receipts, startDaemon, type ProjectPool } from '../projects/support.js';

const cleanups: (() => void | Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function pool(opts: Parameters<typeof projectPool>[0]): ProjectPool {
  const p = projectPool(opts);
  cleanups.push(() => p.cleanup());
  return p;
}

function daemon(p: ProjectPool, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const d = startDaemon(p, env);
  cleanups.push(() => d.stop('SIGKILL'));
  return d;
}

const idle = (p: ProjectPool, names: string[]) => () => names.every((n) => readStatusMap(p.stateDir)[`Session/${n}`]?.activity === 'idle');

describe('Project controller', () => {
  it('dispatches by priority to idle sessions, completes with a footer, fails malformed tasks, publishes status.json and get tasks', async () => {
    const p = pool({ sessions: [{ name: 's1' }, { name: 's2' }], env: { CLAUDE_SIM_WORK_MS: '400' } });
    // Queued before the controller starts: the first dispatches show the order.
    const low = await addTask(p.queueRoot, 'a low priority chore\n', { priority: 'low' });
    const normal = await addTask(p.queueRoot, 'a normal task\n');
    const high = await addTask(p.queueRoot, 'an urgent task\n', { priority: 'high' });
    writeFileSync(join(p.queueRoot, 'inbox', 'broken.md'), '---\npriority: urgent\n---\nbody\n');
    const d = daemon(p);
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 45_000);
    const viaCli = await runCli(['task', 'add', '--project', 'p', '--manifests', p.manifests, '-', '--priority', 'low'], { input: 'added through the CLI\n' });
    expect(viaCli.code).toBe(0);
    const cliId = viaCli.stdout.trim();
    const ids = [low, normal, high, cliId];
    await until(() => inState(p.queueRoot, 'done').length === 4, 40_000, 'four tasks done');
    assertOneStateEach(p.queueRoot, [...ids, 'broken']);

    const got = receipts(p, ['s1', 's2']);
    expect(got.map((r) => r.taskId).sort()).toEqual([...ids].sort());
    // The two first deliveries (two idle sessions) were the high and the normal task.
    expect(got.slice(0, 2).map((r) => r.taskId).sort()).toEqual([high, normal].sort());
    // One task per session at a time: a session never got a second task before finishing the first.
    expect(got.filter((r) => r.queued)).toEqual([]);

    const text = readFileSync(join(p.queueRoot, 'done', `${high}.md`), 'utf8');
    expect(text).toMatch(/^---\npriority: high\n---\nan urgent task\n\n---\n<!-- claude-failover:done -->\n/);
    expect(text).toMatch(new RegExp(`- task: ${high}\\n- session: s[12]\\n- account: a\\n- conversation: [0-9a-f-]{36}\\n- started: \\S+\\n- finished: \\S+\\n- duration: \\S+\\n- attempts: 1\\n$`));
    expect(readFileSync(join(p.queueRoot, 'failed', 'broken.md'), 'utf8')).toMatch(/claude-failover:failed[\s\S]*reason: frontmatter: priority/);

    await until(() => {
      const s = JSON.parse(readFileSync(join(p.queueRoot, 'status.json'), 'utf8')) as { counts: Record<string, number>; sessions: Record<string, { state: string }> };
      return s.counts.done === 4 && s.counts.failed === 1 && s.sessions.s1?.state === 'idle' && s.sessions.s2?.state === 'idle';
    }, 10_000, 'status.json up to date');
    // The controller's own status is persisted after the pass that wrote status.json.
    await until(() => (readStatusMap(p.stateDir)['Project/p']?.counts as Record<string, number> | undefined)?.done === 4, 10_000, 'Project status');
    const status = readStatusMap(p.stateDir)['Project/p'] as { counts: Record<string, number>; conditions: { type: string; status: string }[] };
    expect(status.counts).toMatchObject({ inbox: 0, dispatched: 0, done: 4, failed: 1 });
    expect(status.conditions.map((c) => `${c.type}=${c.status}`).sort()).toEqual(['QueueReady=True', 'Ready=True']);

    const cp = JSON.parse(readFileSync(join(p.stateDir, 'checkpoints', 's1.json'), 'utf8')) as Record<string, unknown>;
    expect(cp).toMatchObject({ session: 's1', project: 'p', cwd: join(p.root, 'projects', 'p'), lastTask: { state: 'finished' } });
    expect(cp.conversationId).toMatch(/^[0-9a-f-]{36}$/);

    const table = await runCli(['get', 'tasks', '--state-dir', p.stateDir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^PROJECT\s+STATE\s+ID\s+PRIORITY\s+SESSION\s+ATTEMPT\s+AGE\s+TITLE\n/);
    expect(table.stdout).toMatch(new RegExp(`\\np\\s+done\\s+${high}\\s+high\\s+-\\s+-\\s+\\d+s\\s+an urgent task\\n`));
    const json = JSON.parse((await runCli(['get', 'tasks', '--project', 'p', '--state', 'failed', '-o', 'json', '-f', p.manifests, '--state-dir', p.stateDir])).stdout) as { id: string; state: string; error?: string }[];
    expect(json.map((r) => [r.id, r.state])).toEqual([['broken', 'failed']]);
    expect(json[0]?.error).toMatch(/priority/);
    const events = readFileSync(join(p.stateDir, 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"reason":"TaskFailed"[^\n]*broken/);
    expect(events.match(/"reason":"TaskCompleted"/g)).toHaveLength(4);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('reads frontmatter keys spelt with -/_/case as the known field, with a warning; an unknown value goes to failed/ with the allowed ones', async () => {
    const p = pool({ sessions: [{ name: 's1' }], env: { CLAUDE_SIM_WORK_MS: '200' } });
    // A queue made by hand (as the Go system's producers did): inbox/ only; the controller adds the rest.
    mkdirSync(join(p.queueRoot, 'inbox'), { recursive: true });
    writeFileSync(join(p.queueRoot, 'inbox', 'variant.md'), '---\nallow-delegation: false\nMax_Attempts: 2\n---\nA task written for the Go system\n');
    writeFileSync(join(p.queueRoot, 'inbox', 'urgent.md'), '---\npriority: urgent\n---\nbody\n');
    const before = await runCli(['get', 'tasks', '--project', 'p', '-o', 'json', '-f', p.manifests, '--state-dir', p.stateDir]);
    const rows = JSON.parse(before.stdout) as { id: string; warnings?: string[]; error?: string }[];
    expect(rows.find((r) => r.id === 'variant')?.warnings).toEqual([
      'frontmatter field "allow-delegation" read as "allow_delegation" (spell it allow_delegation)',
      'frontmatter field "Max_Attempts" read as "max_attempts" (spell it max_attempts)',
    ]);
    const table = await runCli(['get', 'tasks', '--project', 'p', '-f', p.manifests, '--state-dir', p.stateDir]);
    expect(table.stdout).toMatch(/\bvariant\s+normal\s+-\s+-\s+\S+\s+\(!\) A task written for the Go system\n/);
    const d = daemon(p);
    await until(() => inState(p.queueRoot, 'done').includes('variant'), 45_000, 'the variant task done').catch((err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify([...locations(p.queueRoot)])}\n${readFileSync(join(p.stateDir, 'events.jsonl'), 'utf8')}`);
    });
    assertOneStateEach(p.queueRoot, ['variant', 'urgent']);
    expect(inState(p.queueRoot, 'failed')).toEqual(['urgent']);
    expect(readFileSync(join(p.queueRoot, 'failed', 'urgent.md'), 'utf8')).toContain('- reason: frontmatter: priority must be high, normal or low, got "urgent"');
    const events = readFileSync(join(p.stateDir, 'events.jsonl'), 'utf8');
    expect(events).toMatch(/"reason":"TaskFrontmatterWarning","message":"task variant: frontmatter field \\"allow-delegation\\" read as \\"allow_delegation\\"/);
    expect(events).toMatch(/"reason":"TaskFailed"[^\n]*urgent[^\n]*priority must be high, normal or low/);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('pinned tasks go to their session; a dedicated session takes only pinned tasks', async () => {
    const p = pool({ sessions: [{ name: 'pool1' }, { name: 'ded', mode: 'dedicated' }], env: { CLAUDE_SIM_WORK_MS: '200' } });
    const d = daemon(p);
    await until(idle(p, ['pool1', 'ded']), 45_000, 'sessions idle');
    const a = await addTask(p.queueRoot, 'for anyone 1\n');
    const b = await addTask(p.queueRoot, 'for the dedicated one\n', { frontmatter: { session: 'ded' } });
    const c = await addTask(p.queueRoot, 'for anyone 2\n');
    const e = await addTask(p.queueRoot, 'pinned to pool1\n', { frontmatter: { session: 'pool1' } });
    await until(() => inState(p.queueRoot, 'done').length === 4, 30_000, 'all done');
    const bySession = Object.fromEntries(receipts(p, ['pool1', 'ded']).map((r) => [r.taskId, r.session]));
    expect(bySession).toEqual({ [a]: 'pool1', [b]: 'ded', [c]: 'pool1', [e]: 'pool1' });
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('requeues the task of a session that died and came back without its conversation (attempt 2, last_error)', async () => {
    // resume: false — a relaunch starts a new conversation, so the task cannot be continued
    // (with --resume it would be replayed in the same conversation: test/e2e/failover.test.ts).
    const p = pool({ sessions: [{ name: 'w1', spec: '  resume: false\n' }], env: { CLAUDE_SIM_WORK_MS: '200', CLAUDE_SIM_READ_TASK_FILES: '0' } });
    const d = daemon(p);
    await until(idle(p, ['w1']), 45_000, 'session idle');
    const slow = await addTask(p.queueRoot, 'slow job\n#sim work 2500\n');
    await until(() => readStatusMap(p.stateDir)['Session/w1']?.currentTask === slow, 15_000, 'w1 working on it');
    const pid = p.tmux.panePids().w1 as number;
    process.kill(pid, 'SIGKILL');
    await until(() => inState(p.queueRoot, 'done').includes(slow), 40_000, 'done after requeue');
    const text = readFileSync(join(p.queueRoot, 'done', `${slow}.md`), 'utf8');
    expect(text).toMatch(/^---\nattempts: 1\nlast_error: session w1 (died|was relaunched)[^\n]*\n---\n/);
    expect(text).toMatch(/- attempts: 2\n$/);
    const r = receipts(p, ['w1']).filter((x) => x.taskId === slow);
    expect(r).toHaveLength(2);
    expect(r[0]?.pid).not.toBe(r[1]?.pid);
    expect(readFileSync(join(p.stateDir, 'events.jsonl'), 'utf8')).toMatch(/"reason":"TaskRequeued"/);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('a failing turn is retried, then dead-lettered at maxAttempts with the reason', async () => {
    const p = pool({ sessions: [{ name: 'f1' }], env: { CLAUDE_SIM_WORK_MS: '100', CLAUDE_SIM_READ_TASK_FILES: '0' }, projectSpec: '  maxAttempts: 2\n' });
    const d = daemon(p);
    await until(idle(p, ['f1']), 45_000, 'session idle');
    const bad = await addTask(p.queueRoot, 'this fails\n#sim fail server_error\n');
    await until(() => inState(p.queueRoot, 'failed').includes(bad), 30_000, 'dead-lettered');
    const text = readFileSync(join(p.queueRoot, 'failed', `${bad}.md`), 'utf8');
    expect(text).toMatch(/reason: gave up after 2 attempts \(max 2\); last: the turn ended with an API error \(server_error/);
    expect(receipts(p, ['f1']).filter((x) => x.taskId === bad)).toHaveLength(2);
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('a rate-limited task stays dispatched for the failover replay', async () => {
    const p = pool({ sessions: [{ name: 'r1' }], env: { CLAUDE_SIM_WORK_MS: '100', CLAUDE_SIM_READ_TASK_FILES: '0' } });
    const d = daemon(p);
    await until(idle(p, ['r1']), 45_000, 'session idle');
    const id = await addTask(p.queueRoot, 'hits the limit\n#sim fail rate_limit\n');
    await until(() => (readStatusMap(p.stateDir)['Project/p']?.holds as Record<string, string> | undefined)?.[id] !== undefined, 20_000, 'held');
    await new Promise((r) => setTimeout(r, 1500));
    expect(inState(p.queueRoot, 'dispatched')).toEqual([id]);
    expect(readStatusMap(p.stateDir)['Session/r1']?.activity).toBe('rateLimited');
    const cp = JSON.parse(readFileSync(join(p.stateDir, 'checkpoints', 'r1.json'), 'utf8')) as { lastTask?: { id: string; state: string; path: string } };
    expect(cp.lastTask).toMatchObject({ id, state: 'dispatched', path: join(p.queueRoot, 'dispatched', `${id}.md`) });
    expect(await d.stop()).toBe(0);
  }, 120_000);

  it('dry-run writes nothing: no queue directories, and the plan says they would be created', async () => {
    const p = pool({ sessions: [] });
    const r = await runCli(['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-f', p.manifests, '--state-dir', p.stateDir, '--tmux-socket', p.tmux.socket]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`+ task queue ${p.queueRoot}`);
    expect(existsSync(join(p.root, 'projects'))).toBe(false);
    expect(existsSync(p.stateDir)).toBe(false);
    const json = JSON.parse((await runCli(['reconcile', '--once', '--dry-run', '-o', 'json', '-f', p.manifests, '--state-dir', p.stateDir, '--tmux-socket', p.tmux.socket])).stdout) as { changes: { key: string; effects: { type: string }[] }[] };
    expect(json.changes.find((c) => c.key === 'Project/p')?.effects.map((e) => e.type)).toEqual(['queue.ensureDirs', 'queue.writeStatus']);
    expect(existsSync(join(p.root, 'projects'))).toBe(false);
  }, 120_000);
});
