/**
 * The filesystem task queue adapter. Functions take the queue root (`<project>/<queueDir>`);
 * `createFsTaskQueue` binds them into the `TaskQueue` interface of src/core/task.ts.
 */
import type { Clock } from '../../core/ports.js';
import { systemClock } from '../../core/ports.js';
import type { TaskQueue } from '../../core/task.js';
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

export interface FsTaskQueueOptions {
  /** Settle window for inbox files written in place (default 2 s; 0 disables). */
  settleMs?: number;
  maxTaskBytes?: number;
  /** fsync files and directories (default true). */
  durable?: boolean;
  clock?: Clock;
}

/** A `TaskQueue` on the directory `root`, with the project's settings bound. */
export function createFsTaskQueue(root: string, options: FsTaskQueueOptions = {}): TaskQueue {
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const maxTaskBytes = options.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES;
  const durable = options.durable ?? true;
  const clock = options.clock ?? systemClock;
  return {
    root,
    ensureDirs: () => ensureQueueDirs(root, { durable }),
    count: () => countTasks(root),
    list: (state, opts) => listTasks(root, state, { settleMs, now: clock.now(), ...opts }),
    read: (id, state) => readTask(root, id, state, { maxTaskBytes }),
    scanInbox: (opts) => scanInbox(root, { settleMs, maxTaskBytes, now: clock.now(), ...opts }),
    claim: (id, input) => claimTask(root, id, { ...input, now: input.now ?? clock.now(), durable, maxTaskBytes }),
    readLease: (id) => readLease(root, id),
    listLeases: () => listLeases(root),
    updateLease: (id, patch, expectClaimId) => updateLease(root, id, patch, { durable, ...(expectClaimId ? { expectClaimId } : {}) }),
    complete: (id, footer, opts) => completeTask(root, id, { footer, durable, now: clock.now(), ...opts }),
    fail: (id, opts) => failTask(root, id, { durable, now: clock.now(), ...opts }),
    requeue: (id, opts) => requeueTask(root, id, { durable, maxTaskBytes, now: clock.now(), ...opts }),
    move: (id, from, to) => moveTask(root, id, from, to, { durable }),
    enqueue: (input) => enqueueTask(root, input, { durable, settleMs, now: clock.now() }),
    resolveIdConflict: (id) => resolveIdConflict(root, id, { durable }),
    archiveDone: (opts) => archiveDone(root, { durable, ...opts }),
    cleanupTempFiles: (opts) => cleanupTempFiles(root, opts),
    inspect: () => inspectQueue(root),
    recover: (opts) => recoverQueue(root, { durable, now: clock.now(), ...opts }),
    writeStatus: (status) => writeQueueStatus(root, status, { durable }),
  };
}
