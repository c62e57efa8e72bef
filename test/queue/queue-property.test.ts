/**
 * Property tests: random sequences of queue transitions (sequential against a model, and
 * concurrent batches) keep every task id in exactly one state directory, and no task is lost.
 * `durable: false` skips the fsync calls only (same code paths) to keep the runs fast.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as freeFns from '../../src/adapters/queue/index.js';
import { claimTask, createFsTaskQueue, enqueueTask, ensureQueueDirs, inspectQueue, recoverQueue } from '../../src/adapters/queue/index.js';
import { TaskConflictError, TaskNotFoundError, formatDoneFooter } from '../../src/core/task.js';
import type { TaskState } from '../../src/core/task.js';
import { taskLocations, tempQueue } from './helpers.js';

type Op =
  | { op: 'enqueue' }
  | { op: 'claim'; t: number; s: number }
  | { op: 'complete'; t: number }
  | { op: 'fail'; t: number }
  | { op: 'requeue'; t: number }
  | { op: 'delegate'; t: number }
  | { op: 'finishDelegated'; t: number }
  | { op: 'archive' }
  | { op: 'recover' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.constant<Op>({ op: 'enqueue' }),
  fc.record({ op: fc.constant('claim' as const), t: fc.nat(7), s: fc.nat(2) }),
  fc.record({ op: fc.constant('complete' as const), t: fc.nat(7) }),
  fc.record({ op: fc.constant('fail' as const), t: fc.nat(7) }),
  fc.record({ op: fc.constant('requeue' as const), t: fc.nat(7) }),
  fc.record({ op: fc.constant('delegate' as const), t: fc.nat(7) }),
  fc.record({ op: fc.constant('finishDelegated' as const), t: fc.nat(7) }),
  fc.constant<Op>({ op: 'archive' }),
  fc.constant<Op>({ op: 'recover' }),
);

const D = { durable: false };
let root: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempQueue());
  await ensureQueueDirs(root);
});
afterEach(async () => {
  await cleanup();
});

/** The operations used, either the free functions or the bound (per-task serialized) queue. */
interface Api {
  archiveDone: typeof freeFns.archiveDone;
  claimTask: typeof freeFns.claimTask;
  completeTask: typeof freeFns.completeTask;
  failTask: typeof freeFns.failTask;
  finishTask: typeof freeFns.finishTask;
  moveTask: typeof freeFns.moveTask;
  recoverQueue: typeof freeFns.recoverQueue;
  requeueTask: typeof freeFns.requeueTask;
}

/** The bound queue's per-task lock applied to the same functions. */
function lockedApi(): Api {
  const q = createFsTaskQueue(root, { durable: false });
  const L = <T>(id: string, fn: () => Promise<T>) => freeFns.withTaskLock(`${root}\0${id}`, fn);
  return {
    archiveDone: (r, o) => q.archiveDone(o),
    claimTask: (r, id, o) => L(id, () => freeFns.claimTask(r, id, o)),
    completeTask: (r, id, o) => L(id, () => freeFns.completeTask(r, id, o)),
    failTask: (r, id, o) => L(id, () => freeFns.failTask(r, id, o)),
    finishTask: (r, id, o) => L(id, () => freeFns.finishTask(r, id, o)),
    moveTask: (r, id, f, t, o) => L(id, () => freeFns.moveTask(r, id, f, t, o)),
    recoverQueue: (r, o) => freeFns.recoverQueue(r, { ...o, lock: L }),
    requeueTask: (r, id, o) => L(id, () => freeFns.requeueTask(r, id, o)),
  };
}

/** Runs one op; returns the state the model expects for the task it touched (if any). */
async function run(op: Op, ids: string[], now: number, api: Api = freeFns): Promise<{ id: string; state: TaskState } | undefined> {
  const { archiveDone, claimTask, completeTask, failTask, finishTask, moveTask, recoverQueue, requeueTask } = api;
  const id = 't' in op ? ids[op.t % Math.max(ids.length, 1)] : undefined;
  switch (op.op) {
    case 'enqueue': {
      const r = await enqueueTask(root, { body: `task ${ids.length}\n`, priority: (['high', 'normal', 'low'] as const)[ids.length % 3] }, { ...D, now });
      ids.push(r.id);
      return { id: r.id, state: 'inbox' };
    }
    case 'archive':
      await archiveDone(root, { ...D, olderThanMs: 0, now: Date.now() + 1000 });
      return undefined;
    case 'recover': {
      const rep = await recoverQueue(root, D);
      expect(rep.errors).toEqual([]);
      return undefined;
    }
  }
  if (!id) return undefined;
  switch (op.op) {
    case 'claim': {
      const r = await claimTask(root, id, { ...D, session: `s${op.s}`, account: 'a', now });
      return r.claimed ? { id, state: 'dispatched' } : undefined;
    }
    case 'complete':
      await completeTask(root, id, { ...D, footer: formatDoneFooter({ taskId: id, session: 's', account: 'a', startedAt: now, finishedAt: now, attempts: 1 }) });
      return { id, state: 'done' };
    case 'fail':
      await failTask(root, id, { ...D, from: 'dispatched', reason: 'random failure' });
      return { id, state: 'failed' };
    case 'requeue': {
      const r = await requeueTask(root, id, { ...D, reason: 'random requeue', maxAttempts: 3 });
      return r.outcome === 'already' ? undefined : { id, state: r.state };
    }
    case 'delegate': {
      const r = await moveTask(root, id, 'inbox', 'delegated', D);
      return r === 'moved' ? { id, state: 'delegated' } : undefined;
    }
    case 'finishDelegated':
      await finishTask(root, id, { ...D, from: 'delegated', to: 'done', text: '\n---\n<!-- claude-failover:delegated -->\nok\n' });
      return { id, state: 'done' };
  }
}

/** Errors a transition may legitimately refuse with (task not in the `from` state). */
function expected(err: unknown): boolean {
  return err instanceof TaskNotFoundError || err instanceof TaskConflictError;
}

async function assertExactlyOne(ids: readonly string[]): Promise<Map<string, TaskState[]>> {
  const locs = await taskLocations(root);
  for (const id of ids) expect(locs.get(id), `task ${id}`).toHaveLength(1);
  expect(locs.size).toBe(ids.length); // nothing appeared from nowhere
  return locs;
}

describe('queue properties', () => {
  it('sequential random transitions: exactly one state per task, and it matches the model', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        await cleanup();
        ({ root, cleanup } = await tempQueue());
        await ensureQueueDirs(root);
        const ids: string[] = [];
        const model = new Map<string, TaskState>();
        let now = Date.UTC(2026, 0, 1);
        for (const op of ops) {
          now += 1000;
          try {
            const r = await run(op, ids, now);
            if (r) model.set(r.id, r.state);
          } catch (err) {
            if (!expected(err)) throw err;
          }
          if (op.op === 'archive') for (const [id, s] of model) if (s === 'done') model.set(id, 'archive');
          const locs = await assertExactlyOne(ids);
          for (const [id, s] of model) expect(locs.get(id)?.[0], `task ${id} after ${JSON.stringify(op)}`).toBe(s);
        }
        const snap = await inspectQueue(root);
        // Leases exist only for dispatched tasks; no intent survives a finished transition.
        for (const l of snap.leases) expect(model.get(l.taskId)).toBe('dispatched');
        expect(snap.intents).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('concurrent batches through the per-task lock never put a task in two states or lose it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 15 }), async (batches) => {
        await cleanup();
        ({ root, cleanup } = await tempQueue());
        await ensureQueueDirs(root);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) await run({ op: 'enqueue' }, ids, Date.now());
        for (const batch of batches) {
          const api = lockedApi();
          const results = await Promise.allSettled(batch.map((op) => run(op, ids, Date.now(), api)));
          for (const r of results) if (r.status === 'rejected' && !expected(r.reason)) throw r.reason;
          await assertExactlyOne(ids);
        }
        // After recovery the bookkeeping is consistent again.
        const rep = await recoverQueue(root, D);
        expect(rep.errors).toEqual([]);
        const locs = await assertExactlyOne(ids);
        const snap = await inspectQueue(root);
        for (const l of snap.leases) expect(locs.get(l.taskId)).toEqual(['dispatched']);
        for (const [id, where] of locs) if (where[0] === 'dispatched') expect(snap.leases.map((l) => l.taskId)).toContain(id);
      }),
      { numRuns: 30 },
    );
  });

  it('unlocked concurrent claims and enqueues (the races the protocol allows) keep the invariant', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.record({ t: fc.nat(5), s: fc.nat(3), add: fc.boolean() }), { minLength: 2, maxLength: 8 }), { minLength: 2, maxLength: 8 }), async (batches) => {
        await cleanup();
        ({ root, cleanup } = await tempQueue());
        await ensureQueueDirs(root);
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await enqueueTask(root, { body: 'x' }, D)).id);
        for (const batch of batches) {
          const claims = await Promise.all(
            batch.map(async (b) => {
              if (b.add) {
                ids.push((await enqueueTask(root, { body: 'y' }, D)).id);
                return undefined;
              }
              const id = ids[b.t % ids.length] as string;
              const r = await claimTask(root, id, { ...D, session: `s${b.s}`, account: 'a' });
              return r.claimed ? { id, session: r.lease.session } : undefined;
            }),
          );
          const won = claims.filter((c): c is { id: string; session: string } => c !== undefined);
          expect(new Set(won.map((w) => w.id)).size).toBe(won.length); // one winner per task
          const locs = await assertExactlyOne(ids);
          const snap = await inspectQueue(root);
          for (const w of won) {
            expect(locs.get(w.id)).toEqual(['dispatched']);
            expect(snap.leases.find((l) => l.taskId === w.id)?.lease?.session).toBe(w.session);
          }
          for (const l of snap.leases) expect(locs.get(l.taskId)).toEqual(['dispatched']);
        }
        expect((await recoverQueue(root, D)).actions).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });
});
