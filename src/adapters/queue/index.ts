/**
 * The filesystem task queue adapter. Functions take the queue root (`<project>/<queueDir>`);
 * `createFsTaskQueue` binds them into the `TaskQueue` interface of src/core/task.ts.
 */
import path from 'node:path';
import type { Clock } from '../../core/ports.js';
import { systemClock } from '../../core/ports.js';
import type { TaskQueue } from '../../core/task.js';
import type { ScanCache } from './queue.js';
import { DEFAULT_MAX_TASK_BYTES, DEFAULT_SETTLE_MS } from '../../core/task.js';
import {
  archiveDone,
  claimTask,
  cleanupTempFiles,
  completeTask,
  countTasks,
  enqueueTask,
  ensureQueueDirs,
  failTask,
  inspectQueue,
  listLeases,
  listTasks,
  moveTask,
  readLease,
  readTask,
  recoverQueue,
  requeueTask,
  resolveIdConflict,
  scanInbox,
  updateLease,
  writeQueueStatus,
} from './queue.js';

export * from './queue.js';
export { createFileExclusive, fsyncDir, writeFileAtomic } from './fs-util.js';

const locks = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier call with the same key has settled (a per-task mutex within this
 * process). The free functions assume one mutation per task at a time; the bound queue enforces it.
 */
export function withTaskLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  void tail.then(() => {
    if (locks.get(key) === tail) locks.delete(key);
  });
  return run;
}

export interface FsTaskQueueOptions {
  /** Settle window for inbox files written in place (default 2 s; 0 disables). */
  settleMs?: number;
  maxTaskBytes?: number;
  /** fsync files and directories (default true). */
  durable?: boolean;
  clock?: Clock;
}

/**
 * A `TaskQueue` on the directory `root`, with the project's settings bound. Mutations of one task
 * are serialized within the process (per resolved root and task id), so e.g. a completion from a
 * hook and a janitor requeue of the same task cannot interleave their steps.
 */
export function createFsTaskQueue(root: string, options: FsTaskQueueOptions = {}): TaskQueue {
  const base = path.resolve(root);
  const L = <T>(id: string, fn: () => Promise<T>) => withTaskLock(`${base}\0${id}`, fn);
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const maxTaskBytes = options.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES;
  const durable = options.durable ?? true;
  const clock = options.clock ?? systemClock;
  const cache: ScanCache = new Map();
  return {
    root,
    ensureDirs: () => ensureQueueDirs(root, { durable }),
    count: () => countTasks(root),
    list: (state, opts) => listTasks(root, state, { settleMs, now: clock.now(), ...opts }),
    read: (id, state) => readTask(root, id, state, { maxTaskBytes }),
    scanInbox: (opts) => scanInbox(root, { settleMs, maxTaskBytes, now: clock.now(), cache, ...opts }),
    claim: (id, input) => L(id, () => claimTask(root, id, { ...input, now: input.now ?? clock.now(), durable, maxTaskBytes })),
    readLease: (id) => readLease(root, id),
    listLeases: () => listLeases(root),
    updateLease: (id, patch, expectClaimId) => L(id, () => updateLease(root, id, patch, { durable, ...(expectClaimId ? { expectClaimId } : {}) })),
    complete: (id, footer, opts) => L(id, () => completeTask(root, id, { footer, durable, now: clock.now(), ...opts })),
    fail: (id, opts) => L(id, () => failTask(root, id, { durable, now: clock.now(), ...opts })),
    requeue: (id, opts) => L(id, () => requeueTask(root, id, { durable, maxTaskBytes, now: clock.now(), ...opts })),
    move: (id, from, to) => L(id, () => moveTask(root, id, from, to, { durable })),
    enqueue: (input) => enqueueTask(root, input, { durable, settleMs, now: clock.now() }),
    resolveIdConflict: (id) => L(id, () => resolveIdConflict(root, id, { durable })),
    archiveDone: (opts) => archiveDone(root, { durable, lock: L, ...opts }),
    cleanupTempFiles: (opts) => cleanupTempFiles(root, opts),
    inspect: () => inspectQueue(root),
    recover: (opts) => recoverQueue(root, { durable, now: clock.now(), lock: L, ...opts }),
    writeStatus: (status) => writeQueueStatus(root, status, { durable }),
  };
}
