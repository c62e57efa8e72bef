/**
 * Task queues as the API serves them: counts per project and task listings, read from each
 * declared Project's queue directory (`<path>/<queueDir>`) with the queue adapter. Counts are
 * cached briefly so dashboards, scrapes and load do not turn into readdir storms.
 */
import type { DesiredState } from '../api/objects.js';
import { queueRootOf } from '../api/queue-root.js';
import { API_VERSION } from '../api/schemas.js';
import { countTasks, listTasks, locateTask, readTask } from '../adapters/queue/queue.js';
import { errorMessage } from '../core/errors.js';
import { emptyCounts, TASK_STATES, TaskNotFoundError, type QueueCounts, type TaskState } from '../core/task.js';

export class QueueReader {
  readonly #ttlMs: number;
  #cache: { at: number; key: string; value: Promise<Record<string, QueueCounts>> } | undefined;

  constructor(opts: { ttlMs?: number } = {}) {
    this.#ttlMs = opts.ttlMs ?? 1000;
  }

  /** Counts per project (missing queue directories count 0). */
  counts(desired: DesiredState, now = Date.now()): Promise<Record<string, QueueCounts>> {
    const key = desired.projects.map((p) => `${p.metadata.name}=${queueRootOf(p)}`).join('\n');
    const c = this.#cache;
    if (c && c.key === key && now - c.at < this.#ttlMs) return c.value;
    const value = (async () => {
      const out: Record<string, QueueCounts> = {};
      await Promise.all(
        desired.projects.map(async (p) => {
          try {
            out[p.metadata.name] = await countTasks(queueRootOf(p));
          } catch {
            out[p.metadata.name] = emptyCounts();
          }
        }),
      );
      return out;
    })();
    this.#cache = { at: now, key, value };
    return value;
  }
}

export interface TaskObject {
  apiVersion: string;
  kind: 'Task';
  metadata: { name: string; project: string };
  spec: { project: string; file: string; [field: string]: unknown };
  status: { state: TaskState; mtime: string; size: number; settling?: boolean; month?: string; warnings?: string[]; error?: string };
}

/** Task files of the declared projects (readdir + lstat, no reads), newest last. */
export async function listTaskObjects(desired: DesiredState, opts: { project?: string; state?: TaskState; limit: number }): Promise<TaskObject[]> {
  const projects = desired.projects.filter((p) => opts.project === undefined || p.metadata.name === opts.project);
  const states = opts.state ? [opts.state] : TASK_STATES.filter((s) => s !== 'archive');
  const out: TaskObject[] = [];
  for (const p of projects) {
    for (const s of states) {
      for (const e of await listTasks(queueRootOf(p), s)) {
        out.push({
          apiVersion: API_VERSION,
          kind: 'Task',
          metadata: { name: e.id, project: p.metadata.name },
          spec: { project: p.metadata.name, file: e.path },
          status: { state: e.state, mtime: new Date(e.mtimeMs).toISOString(), size: e.size, ...(e.settling ? { settling: true } : {}), ...(e.month ? { month: e.month } : {}) },
        });
      }
    }
  }
  out.sort((a, b) => a.status.mtime.localeCompare(b.status.mtime) || a.metadata.name.localeCompare(b.metadata.name));
  return out.slice(-opts.limit);
}

/** One task with its parsed frontmatter and body, or undefined. A malformed task carries `status.error`. */
export async function getTaskObject(desired: DesiredState, id: string): Promise<TaskObject | undefined> {
  // A task in motion (claimed, completed) can be missed by one scan: the rename lands between the
  // reads of two state directories, or after the locate and before the read. Looked for again.
  for (let attempt = 0; attempt < TASK_LOOKUPS; attempt++) {
    const found = await findTaskObject(desired, id);
    if (found !== 'moved' && (found !== undefined || attempt === TASK_LOOKUPS - 1)) return found;
  }
  return undefined;
}

const TASK_LOOKUPS = 3;

async function findTaskObject(desired: DesiredState, id: string): Promise<TaskObject | 'moved' | undefined> {
  let moved = false;
  for (const p of desired.projects) {
    const root = queueRootOf(p);
    const loc = (await locateTask(root, id))[0];
    if (!loc) continue;
    const base = { apiVersion: API_VERSION, kind: 'Task' as const, metadata: { name: id, project: p.metadata.name } };
    try {
      const t = await readTask(root, id, loc.state, loc.month ? { month: loc.month } : {});
      return {
        ...base,
        spec: { project: p.metadata.name, file: loc.path, title: t.title, priority: t.priority, frontmatter: t.frontmatter, attempts: t.attempts, body: t.body },
        status: { state: loc.state, mtime: new Date(t.mtimeMs).toISOString(), size: t.size, ...(loc.month ? { month: loc.month } : {}), ...(t.warnings.length > 0 ? { warnings: t.warnings } : {}) },
      };
    } catch (err) {
      if (err instanceof TaskNotFoundError) {
        moved = true; // moved meanwhile
        continue;
      }
      return { ...base, spec: { project: p.metadata.name, file: loc.path }, status: { state: loc.state, mtime: '', size: 0, error: errorMessage(err) } };
    }
  }
  return moved ? 'moved' : undefined;
}
