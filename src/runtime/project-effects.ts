/**
 * Effect handlers of the Project controller (queue.*, tmux.deliver, checkpoint.remove) and the
 * queue registry it observes through. Each handler is idempotent; test crash points
 * (src/adapters/crash-point.ts) mark every step of claim → deliver → complete → requeue.
 */
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  applyRecovery, archiveTask, createFsTaskQueue, ensureQueueDirs, listIntents, listTempFiles, withTaskLock, writeQueueStatus,
} from '../adapters/queue/index.js';
import { crashPoint } from '../adapters/crash-point.js';
import { deliverPrompt, type DeliveryOptions } from '../adapters/delivery.js';
import type { ProjectQueue } from '../controllers/project.js';
import type { HandlersFor, QueueEffect } from '../core/effects.js';
import { ConflictError } from '../core/outcome.js';
import type { TmuxPort } from '../core/ports.js';
import type { Executor } from './executor.js';

export interface QueueRegistryOptions {
  settleMs?: number;
  durable?: boolean;
}

/** One bound queue per root, shared by observation and effects (scan cache, per-task locks). */
export class QueueRegistry {
  readonly #queues = new Map<string, ProjectQueue>();
  readonly #opts: QueueRegistryOptions;

  constructor(opts: QueueRegistryOptions = {}) {
    this.#opts = opts;
  }

  get(root: string): ProjectQueue {
    const key = path.resolve(root);
    let q = this.#queues.get(key);
    if (!q) {
      const base = createFsTaskQueue(key, {
        ...(this.#opts.settleMs !== undefined ? { settleMs: this.#opts.settleMs } : {}),
        ...(this.#opts.durable !== undefined ? { durable: this.#opts.durable } : {}),
      });
      q = {
        ...base,
        listTempFiles: () => listTempFiles(key),
        listIntentIds: async () => (await listIntents(key)).map((i) => i.taskId),
      };
      this.#queues.set(key, q);
    }
    return q;
  }

  get durable(): boolean {
    return this.#opts.durable ?? true;
  }
}

/** The per-task lock the bound queue uses (src/adapters/queue/index.ts), for free functions. */
function lockFor(root: string) {
  const base = path.resolve(root);
  return <T>(id: string, fn: () => Promise<T>) => withTaskLock(`${base}\0${id}`, fn);
}

/**
 * The task's lease is not this change's (claimed by another session, or gone): a conflict, not a
 * fault. The Project key is planned again at once against what the queue now holds (no back-off).
 */
export class ClaimLostError extends ConflictError {
  constructor(taskId: string, why: string) {
    super('CF_ERR_CLAIM_LOST', 'ClaimLost', `task ${taskId}: ${why}`, { retryAfterMs: 0 });
  }
}

export interface ProjectEffectDeps {
  tmux: TmuxPort;
  queues: QueueRegistry;
  log?: Logger;
  delivery?: DeliveryOptions;
}


/** Registers the Project controller's effect handlers on the executor. */
export function registerProjectEffects(executor: Executor, deps: ProjectEffectDeps): void {
  executor.registerAll(projectEffectHandlers(deps));
}

export function projectEffectHandlers(deps: ProjectEffectDeps): HandlersFor<QueueEffect> {
  const { tmux, queues, log } = deps;
  const durable = queues.durable;
  return {
    'queue.ensureDirs': async (e) => {
      await ensureQueueDirs(e.root, { durable });
    },
    'queue.claim': async (e) => {
      const q = queues.get(e.root);
      crashPoint('claim.before');
      const r = await q.claim(e.taskId, { session: e.session, account: e.account });
      if (r.claimed) {
        crashPoint('claim.after');
        return;
      }
      // Idempotent: a claim that already happened for this session stands.
      const lease = await q.readLease(e.taskId);
      if (r.reason === 'gone' && lease?.session === e.session && lease.deliveredAt === undefined) {
        const where = await q.list('dispatched');
        if (where.some((t) => t.id === e.taskId)) return;
      }
      throw new ClaimLostError(e.taskId, `not claimed (${r.reason}${r.lease ? `: held by ${r.lease.session}, attempt ${r.lease.attempt}` : ''})`);
    },
    'tmux.deliver': async (e) => {
      let claimId: string | undefined;
      let continuations = 0;
      const cont = e.task?.continuation;
      if (e.task) {
        const lease = await queues.get(e.task.root).readLease(e.task.taskId);
        if (!lease || lease.session !== e.session) throw new ClaimLostError(e.task.taskId, `not delivering to ${e.session}: the lease is ${lease ? `held by ${lease.session}` : 'gone'}`);
        if (cont && lease.claimId !== cont.claimId) throw new ClaimLostError(e.task.taskId, `not continuing on ${e.session}: the task was claimed again (attempt ${lease.attempt})`);
        if (cont && lease.continuedAt !== cont.previous) {
          // Another continuation was delivered since this one was planned: never paste two for one relaunch.
          log?.info({ session: e.session, taskId: e.task.taskId, continuedAt: lease.continuedAt }, 'continuation already delivered');
          return;
        }
        claimId = lease.claimId;
        continuations = lease.continuations ?? 0;
      }
      const r = await deliverPrompt(tmux, e.session, e.text, {
        ...deps.delivery,
        onStep: (step) => crashPoint(step === 'pasted' ? 'deliver.pasted' : 'deliver.entered'),
      });
      log?.info({ session: e.session, taskId: e.task?.taskId, continuation: cont !== undefined, pasteStartedAt: r.pasteStartedAt, enters: r.enters, bytes: Buffer.byteLength(e.text) }, 'prompt delivered');
      if (e.task) {
        // The paste's start: a turn of this prompt starts after it, and a relaunch decided after it cut it.
        const pasted = new Date(r.pasteStartedAt).toISOString();
        const patch = cont ? { continuedAt: pasted, continuations: continuations + 1 } : { deliveredAt: pasted };
        await queues.get(e.task.root).updateLease(e.task.taskId, patch, claimId);
        crashPoint('deliver.recorded');
      }
    },
    'queue.complete': async (e) => {
      crashPoint('complete.before');
      await queues.get(e.root).complete(e.taskId, e.footer, e.expectClaimId ? { expectClaimId: e.expectClaimId } : {});
      crashPoint('complete.after');
    },
    'queue.requeue': async (e) => {
      crashPoint('requeue.before');
      await queues.get(e.root).requeue(e.taskId, { reason: e.reason, maxAttempts: e.maxAttempts, ...(e.expectClaimId ? { expectClaimId: e.expectClaimId } : {}) });
      crashPoint('requeue.after');
    },
    'queue.fail': async (e) => {
      await queues.get(e.root).fail(e.taskId, { from: e.from, reason: e.reason });
    },
    'queue.resolveConflict': async (e) => {
      const id = await queues.get(e.root).resolveIdConflict(e.taskId);
      log?.info({ taskId: e.taskId, newId: id }, 'inbox task renamed (its id exists in another state)');
    },
    'queue.recover': async (e) => {
      const report = await applyRecovery(e.root, { actions: e.actions, anomalies: [] }, { durable, lock: lockFor(e.root) });
      if (report.errors.length > 0) throw new Error(`queue recovery: ${report.errors.map((x) => `${x.action.type} ${x.action.taskId}: ${x.error}`).join('; ')}`);
    },
    'queue.archive': async (e) => {
      const lock = lockFor(e.root);
      for (const t of e.tasks) await lock(t.id, () => archiveTask(e.root, t.id, t.month, { durable }));
    },
    'queue.cleanupTemp': async (e) => {
      // Only what the queue layer itself calls a temp file, and only inside this queue.
      const known = new Set((await listTempFiles(e.root)).map((t) => path.resolve(t.path)));
      for (const p of e.paths) {
        if (!known.has(path.resolve(p))) continue;
        await unlink(p).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
    },
    'queue.writeStatus': async (e) => {
      await writeQueueStatus(e.root, e.status, { durable });
    },
    'checkpoint.remove': async (e) => {
      if (!e.path.endsWith('.json')) throw new Error(`checkpoint.remove: not a checkpoint file: ${e.path}`);
      await unlink(e.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  };
}
