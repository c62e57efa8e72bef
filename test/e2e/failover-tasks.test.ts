/**
 * Issue 19, item 0, as reported: two sessions work on long tasks, a forced failover cuts both
 * turns after the failover grace. Each task is continued once, on its own session, in its resumed
 * conversation, and finished there as attempt 1 (before the fix: requeued 290 ms after the replay,
 * then delivered to the other session, one left in dispatched/).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueTask } from '../../src/adapters/queue/index.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('a task in flight at a failover', () => {
  it('is continued once, on its own session, without using an attempt (forced failover, grace 5 s, default dwell)', async () => {
    // The reproduction, about the end of the failover grace: the turns outlast it and are
    // cut (with the default 2 min grace they would end first and nothing would be cut). The minimum
    // dwell stays at its default: a forced failover is not held by it. Turns cut with every flag at
    // its default (an exhausted account) are continued in test/e2e/failover-chaos.test.ts.
    const p = new SimPool({ accounts: [{ name: 'acct-a', priority: 10 }, { name: 'acct-b', priority: 20 }], sessions: ['s0', 's1'], daemonArgs: ['--failover-grace', '5s'] });
    pools.push(p);
    await p.setup({});
    const d = p.start();
    const url = (await d.waitForLog((l) => l.msg === 'control plane listening', 30_000)).url as string;
    await until(() => p.active() === 'acct-a', 30_000, 'acct-a active');
    await p.waitIdle(['s0', 's1'], 'acct-a');
    const queue = join(p.root, 'project', '.agent-queue');
    for (const id of ['long-1', 'long-2']) await enqueueTask(queue, { id, body: `# ${id}\n\n#sim work 15000\n` }, { settleMs: 2000 });
    await until(() => ['s0', 's1'].every((s) => p.session(s)?.activity === 'working'), 30_000, 'both sessions working on a task');
    const conversations = Object.fromEntries(['s0', 's1'].map((s) => [s, p.session(s)?.conversationId as string]));
    const token = readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    const res = await fetch(`${url}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'acct-b' }) });
    expect(res.status).toBe(202);

    const done = (id: string) => {
      try {
        return readFileSync(join(queue, 'done', `${id}.md`), 'utf8');
      } catch {
        return undefined;
      }
    };
    await until(() => done('long-1') !== undefined && done('long-2') !== undefined, 90_000, 'both tasks done');
    const events = p.events();
    expect(events.find((e) => e.reason === 'FailoverStarted')?.message).toMatch(/forced failover from acct-a to acct-b/);
    expect(events.filter((e) => e.reason === 'TaskRequeued' || e.reason === 'TaskFailed')).toEqual([]);
    const replayed = events.filter((e) => e.reason === 'TaskReplayed').map((e) => e.data);
    expect(replayed).toHaveLength(2);

    // Deliveries per task, from what the agents received: the original and one continuation, one session.
    const sessionOfPid = new Map<number, string>();
    for (const r of p.sim()) {
      const settings = r.type === 'invocation' ? (r.argv as string[]).find((a) => a.endsWith('/settings.json')) : undefined;
      const m = settings ? /\/sessions\/([^/]+)\/settings\.json$/.exec(settings) : null;
      if (m?.[1]) sessionOfPid.set(r.pid as number, m[1]);
    }
    const received = p.sim().filter((r) => r.type === 'received' && typeof r.preview === 'string' && r.preview.startsWith('[cf-task:'));
    for (const id of ['long-1', 'long-2']) {
      const mine = received.filter((r) => (r.preview as string).startsWith(`[cf-task:${id}]`));
      expect(mine.map((r) => ((r.preview as string).includes('Continue task') ? 'continuation' : 'original'))).toEqual(['original', 'continuation']);
      const sessions = new Set(mine.map((r) => sessionOfPid.get(r.pid as number)));
      expect(sessions.size).toBe(1);
      const session = [...sessions][0] as string;
      expect(replayed).toContainEqual(expect.objectContaining({ taskId: id, session, attempt: 1, continuation: 1 }));
      const footer = done(id) as string;
      expect(footer).toContain(`- session: ${session}\n`);
      expect(footer).toContain(`- conversation: ${conversations[session]}\n`);
      expect(footer).toContain('- continued: 1 time(s) after a relaunch; finished on account acct-b\n- attempts: 1\n');
    }
    expect(p.session('s0')?.account).toBe('acct-b');
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
