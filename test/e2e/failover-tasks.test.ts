import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueTask } from '../../src/adapters/queue/index.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('repro', () => {
  it('issue 19 item 0', async () => {
    const p = new SimPool({ accounts: [{ name: 'acct-a', priority: 10 }, { name: 'acct-b', priority: 20 }], sessions: ['s0', 's1'], daemonArgs: ['--failover-grace', '5s'] });
    pools.push(p);
    await p.setup({});
    const d = p.start();
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    await until(() => p.active() === 'acct-a', 30_000, 'a active');
    await p.waitIdle(['s0', 's1'], 'acct-a');
    const queue = join(p.root, 'project', '.agent-queue');
    for (const n of ['long-1', 'long-2']) {
      await enqueueTask(queue, { id: n, body: `# ${n}\n\n#sim work 15000\n` }, { settleMs: 2000 });
    }
    await until(() => p.session('s0')?.activity === 'working' && p.session('s1')?.activity === 'working', 30_000, 'both working');
    const token = readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    const res = await fetch(`${listening.url as string}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'acct-b' }) });
    expect(res.status).toBe(202);
    await until(() => readdirSync(join(queue, 'done')).length + readdirSync(join(queue, 'failed')).length >= 2, 90_000, 'both finished').catch(() => {});
    const ev = p.events().filter((e) => /^Task|^Failover/.test(e.reason));
    console.log(ev.map((e) => `${(e as unknown as {time: string}).time} ${e.reason} ${e.message}`).join('\n'));
    const rec = p.sim().filter((r) => r.type === 'received').map((r) => `${r.time as string} ${r.pid as number} ${(r.preview as string).slice(0, 60)}`);
    console.log(rec.join('\n'));
    console.log(readdirSync(join(queue, 'done')), readdirSync(join(queue, 'failed')), readdirSync(join(queue, 'dispatched')), existsSync(queue));
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
