/** The Project controller's effect handlers on real temp directories (delivery is covered by e2e). */
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueTask, readLease } from '../../src/adapters/queue/index.js';
import type { TmuxPort } from '../../src/core/ports.js';
import type { QueueEffect } from '../../src/core/effects.js';
import { ClaimLostError, projectEffectHandlers, QueueRegistry } from '../../src/runtime/project-effects.js';
import { tempDir } from '../support/manifests.js';
import { locations } from './support.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const noTmux = new Proxy({}, { get: () => () => Promise.reject(new Error('no tmux in this test')) }) as TmuxPort;

async function setup() {
  const root = join(tempDir('fx'), 'q');
  dirs.push(root);
  const h = projectEffectHandlers({ tmux: noTmux, queues: new QueueRegistry({ durable: false }) });
  const run = (e: QueueEffect) => (h[e.type] as (e: QueueEffect) => Promise<void>)(e);
  await run({ type: 'queue.ensureDirs', root });
  return { root, run };
}

describe('project effect handlers', () => {
  it('claim writes the lease and moves the task; repeating it for the same session is a no-op; another session loses', async () => {
    const { root, run } = await setup();
    const { id } = await enqueueTask(root, { body: 'x\n' }, { durable: false });
    await run({ type: 'queue.claim', root, taskId: id, session: 's1', account: 'a' });
    expect(locations(root).get(id)).toEqual(['dispatched']);
    expect(await readLease(root, id)).toMatchObject({ session: 's1', account: 'a', attempt: 1 });
    await run({ type: 'queue.claim', root, taskId: id, session: 's1', account: 'a' });
    await expect(run({ type: 'queue.claim', root, taskId: id, session: 's2', account: 'a' })).rejects.toBeInstanceOf(ClaimLostError);
    expect(locations(root).get(id)).toEqual(['dispatched']);
  });

  it('complete and requeue honour the claim id; requeue writes attempts and last_error', async () => {
    const { root, run } = await setup();
    const a = (await enqueueTask(root, { body: 'a\n' }, { durable: false })).id;
    const b = (await enqueueTask(root, { body: 'b\n' }, { durable: false })).id;
    await run({ type: 'queue.claim', root, taskId: a, session: 's1', account: 'x' });
    await run({ type: 'queue.claim', root, taskId: b, session: 's2', account: 'x' });
    await expect(run({ type: 'queue.complete', root, taskId: a, footer: '\n---\nfooter\n', expectClaimId: 'not-it' })).rejects.toThrow(/another claim/);
    const leaseA = await readLease(root, a);
    await run({ type: 'queue.complete', root, taskId: a, footer: '\n---\nfooter\n', expectClaimId: leaseA?.claimId as string });
    await run({ type: 'queue.complete', root, taskId: a, footer: '\n---\nfooter\n' });
    expect(readFileSync(join(root, 'done', `${a}.md`), 'utf8')).toBe('a\n\n---\nfooter\n');
    await run({ type: 'queue.requeue', root, taskId: b, reason: 'session s2 died', maxAttempts: 3 });
    expect(locations(root).get(b)).toEqual(['inbox']);
    expect(readFileSync(join(root, 'inbox', `${b}.md`), 'utf8')).toBe('---\nattempts: 1\nlast_error: session s2 died\n---\nb\n');
    expect(existsSync(join(root, 'leases', `${b}.json`))).toBe(false);
  });

  it('deliver records deliveredAt; a continuation records continuedAt (the paste start) and counts, and is pasted once per planned relaunch', async () => {
    const root = join(tempDir('fx'), 'q');
    dirs.push(root);
    // A pane that shows each paste and changes after each Enter: the port the delivery talks to.
    const pasted: string[] = [];
    let screen = '';
    const pane = new Proxy({}, {
      get: (_t, prop) => {
        if (prop === 'pasteText') return (_s: string, text: string) => (pasted.push(text), (screen += `\n> ${text}`), Promise.resolve());
        if (prop === 'sendKeys') return () => ((screen += '.'), Promise.resolve());
        if (prop === 'capturePane') return () => Promise.resolve(screen);
        return () => Promise.reject(new Error(`tmux.${String(prop)} not expected`));
      },
    }) as TmuxPort;
    const h = projectEffectHandlers({ tmux: pane, queues: new QueueRegistry({ durable: false }), delivery: { enterDelayMs: 0, pollMs: 1 } });
    const run = (e: QueueEffect) => (h[e.type] as (e: QueueEffect) => Promise<void>)(e);
    await run({ type: 'queue.ensureDirs', root });
    const { id } = await enqueueTask(root, { body: 'x\n' }, { durable: false });
    await run({ type: 'queue.claim', root, taskId: id, session: 's1', account: 'a' });
    await run({ type: 'tmux.deliver', session: 's1', text: 'original', task: { root, taskId: id } });
    const first = await readLease(root, id);
    expect(first?.deliveredAt).toBeDefined();
    expect(first?.continuedAt).toBeUndefined();

    const before = Date.now();
    const cont = { claimId: first?.claimId as string };
    await run({ type: 'tmux.deliver', session: 's1', text: 'continue 1', task: { root, taskId: id, continuation: cont } });
    const second = await readLease(root, id);
    expect(second).toMatchObject({ deliveredAt: first?.deliveredAt, continuations: 1 });
    expect(Date.parse(second?.continuedAt as string)).toBeGreaterThanOrEqual(before - 1);
    // The same planned continuation again (a stale plan): nothing is pasted, nothing changes.
    await run({ type: 'tmux.deliver', session: 's1', text: 'continue 1 again', task: { root, taskId: id, continuation: cont } });
    expect(await readLease(root, id)).toEqual(second);
    // Another relaunch: planned after the first continuation, so it names it.
    await run({ type: 'tmux.deliver', session: 's1', text: 'continue 2', task: { root, taskId: id, continuation: { ...cont, previous: second?.continuedAt as string } } });
    expect((await readLease(root, id))?.continuations).toBe(2);
    // A continuation planned for an earlier claim of the task is refused.
    await expect(run({ type: 'tmux.deliver', session: 's1', text: 'old claim', task: { root, taskId: id, continuation: { claimId: 'earlier' } } })).rejects.toBeInstanceOf(ClaimLostError);
    expect(pasted).toEqual(['original', 'continue 1', 'continue 2']);
  });

  it('cleanupTemp removes only temp files of the queue; checkpoint.remove only .json; writeStatus and archive', async () => {
    const { root, run } = await setup();
    const tmp = join(root, '.tmp', 'left.md.123.abcd');
    writeFileSync(tmp, 'x');
    const mine = join(root, 'notes.txt');
    writeFileSync(mine, 'keep');
    await run({ type: 'queue.cleanupTemp', root, paths: [tmp, mine] });
    expect(existsSync(tmp)).toBe(false);
    expect(existsSync(mine)).toBe(true);
    await expect(run({ type: 'checkpoint.remove', path: mine })).rejects.toThrow(/not a checkpoint/);
    await run({ type: 'checkpoint.remove', path: join(root, 'gone.json') });
    await run({ type: 'queue.writeStatus', root, status: { version: 1, updatedAt: 'now', counts: { inbox: 0, dispatched: 0, delegated: 0, done: 1, failed: 0, archive: 0 }, sessions: {} } });
    expect(JSON.parse(readFileSync(join(root, 'status.json'), 'utf8'))).toMatchObject({ counts: { done: 1 } });
    mkdirSync(join(root, 'done'), { recursive: true });
    writeFileSync(join(root, 'done', 'old.md'), 'old\n');
    const t = new Date('2026-01-15T00:00:00Z');
    utimesSync(join(root, 'done', 'old.md'), t, t);
    await run({ type: 'queue.archive', root, tasks: [{ id: 'old', month: '2026-01' }] });
    await run({ type: 'queue.archive', root, tasks: [{ id: 'old', month: '2026-01' }] });
    expect(locations(root).get('old')).toEqual(['archive']);
  });

  it('recover applies planned actions (requeue a dispatched task without a lease)', async () => {
    const { root, run } = await setup();
    writeFileSync(join(root, 'dispatched', 'orphan.md'), 'x\n');
    await run({ type: 'queue.recover', root, actions: [{ type: 'requeueUnleased', taskId: 'orphan', reason: 'no lease' }] });
    expect(locations(root).get('orphan')).toEqual(['inbox']);
  });
});
