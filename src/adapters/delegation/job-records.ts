/**
 * Durable job records: `<queue root>/jobs/<taskId>.json`, one per delegated task
 * (docs/delegation-api.md, "Lifecycle of a delegated task").
 *
 * The record is written atomically (temp file, fsync, rename, fsync the directory) BEFORE the task
 * is moved into delegated/ and before the job is submitted, so that a restart at any point neither
 * loses the job nor submits it twice:
 *
 * | found after a crash                        | what the controller does                           |
 * |--------------------------------------------|----------------------------------------------------|
 * | pending record, task still in inbox/       | continue: move, submit with the record's key      |
 * | pending record, task in delegated/         | submit again with the SAME Idempotency-Key         |
 * | submitted record (job id), task delegated/ | poll the job                                       |
 * | terminal record, task still in delegated/  | finish again (footer appended once, one rename)    |
 * | task in delegated/ without a record        | new pending record (attempt 1), submit             |
 *
 * Terminal records are kept (for the day's cost and the counters) and pruned after retention.
 * Records are consumer-only files: producers never touch `jobs/`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { DelegationJobRecord } from '../../core/effects.js';
import { invalidTaskIdReason } from '../../core/task.js';
import { TaskParseError } from '../../core/task.js';
import { isEnoent, isOurTempName, unlinkIfExists, writeFileAtomic } from '../queue/fs-util.js';

export const JOBS_DIR = 'jobs';

const stateSchema = z.enum(['pending', 'submitted', 'succeeded', 'failed', 'returned']);

export const JobRecordSchema = z.object({
  version: z.literal(1),
  taskId: z.string().min(1),
  project: z.string(),
  policy: z.string(),
  provider: z.string(),
  attempt: z.number().int().min(1),
  idempotencyKey: z.string().optional(),
  state: stateSchema,
  jobId: z.string().optional(),
  jobStatus: z.string().optional(),
  createdAt: z.string(),
  submittedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  cost: z.number().optional(),
  currency: z.string().optional(),
  error: z.string().optional(),
  submitFailures: z.number().int().min(0).optional(),
  history: z
    .array(
      z.object({
        attempt: z.number().int().min(1),
        jobId: z.string().optional(),
        state: stateSchema,
        cost: z.number().optional(),
        currency: z.string().optional(),
        finishedAt: z.string().optional(),
      }),
    )
    .optional(),
}) satisfies z.ZodType<DelegationJobRecord>;

export function jobsDir(root: string): string {
  return path.join(root, JOBS_DIR);
}

export function jobRecordPath(root: string, taskId: string): string {
  const bad = invalidTaskIdReason(taskId);
  if (bad) throw new TaskParseError(`invalid task id ${JSON.stringify(taskId)}: ${bad}`);
  return path.join(root, JOBS_DIR, `${taskId}.json`);
}

/** A record file that could not be used (kept on disk, reported). */
export interface BadJobRecord {
  taskId: string;
  path: string;
  error: string;
}

export interface JobRecordListing {
  records: DelegationJobRecord[];
  bad: BadJobRecord[];
}

/** Parses a record's text; throws with a human reason. */
export function parseJobRecord(text: string): DelegationJobRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const r = JobRecordSchema.safeParse(data);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; '));
  return r.data as DelegationJobRecord;
}

export async function readJobRecord(root: string, taskId: string): Promise<DelegationJobRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(jobRecordPath(root, taskId), 'utf8');
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
  return parseJobRecord(text);
}

/** Cache of parsed records by path, keyed by (mtime, size): a pass re-reads only what changed. */
export type JobRecordCache = Map<string, { mtimeMs: number; size: number; record: DelegationJobRecord | BadJobRecord }>;

/** Every record of the queue at `root` (missing `jobs/` = none). */
export async function listJobRecords(root: string, cache?: JobRecordCache): Promise<JobRecordListing> {
  const dir = jobsDir(root);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isEnoent(err)) return { records: [], bad: [] };
    throw err;
  }
  const out: JobRecordListing = { records: [], bad: [] };
  const live = new Set<string>();
  for (const name of names.sort()) {
    if (!name.endsWith('.json') || isOurTempName(name) || name.startsWith('.')) continue;
    const taskId = name.slice(0, -'.json'.length);
    const p = path.join(dir, name);
    live.add(p);
    try {
      const st = await fs.stat(p);
      const hit = cache?.get(p);
      let rec: DelegationJobRecord | BadJobRecord;
      if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) rec = hit.record;
      else {
        try {
          rec = parseJobRecord(await fs.readFile(p, 'utf8'));
          if (rec.taskId !== taskId) rec = { taskId, path: p, error: `record names task ${JSON.stringify(rec.taskId)}, not ${JSON.stringify(taskId)}` };
        } catch (err) {
          if (isEnoent(err)) continue;
          rec = { taskId, path: p, error: (err as Error).message };
        }
        cache?.set(p, { mtimeMs: st.mtimeMs, size: st.size, record: rec });
      }
      if ('error' in rec && 'path' in rec && !('state' in rec)) out.bad.push(rec);
      else out.records.push(rec as DelegationJobRecord);
    } catch (err) {
      if (isEnoent(err)) continue;
      throw err;
    }
  }
  if (cache) for (const k of cache.keys()) if (k.startsWith(dir + path.sep) && !live.has(k)) cache.delete(k);
  return out;
}

/** Writes (creates or replaces) a record atomically and durably. */
export async function writeJobRecord(root: string, record: DelegationJobRecord, opts: { durable?: boolean } = {}): Promise<void> {
  const p = jobRecordPath(root, record.taskId);
  await fs.mkdir(path.dirname(p), { recursive: true });
  await writeFileAtomic(p, `${JSON.stringify(record, null, 2)}\n`, { durable: opts.durable ?? true, mode: 0o600 });
}

export async function removeJobRecord(root: string, taskId: string, opts: { durable?: boolean } = {}): Promise<boolean> {
  return unlinkIfExists(jobRecordPath(root, taskId), { durable: opts.durable ?? true });
}
