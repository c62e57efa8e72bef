/**
 * The filesystem task queue (docs/queue-protocol.md). The directory a task file is in is its
 * state; every state change is ONE rename(2) of `<state>/<id>.md`; content changes (footer,
 * attempt counter) are atomic in-place rewrites inside the current state directory (temp file in
 * the same directory + rename over). A task id is therefore in exactly one state directory at
 * every instant, including across crashes.
 *
 * Concurrency model: any number of producers write into inbox/ (by rename, or in place subject to
 * the settle rule); ONE consumer process moves tasks between states (the controller holds the
 * state-dir lock). Within it, the free functions below expect one mutation of a given task at a
 * time — `createFsTaskQueue` (index.ts) enforces that with a per-task lock. Concurrent claims are
 * safe even without it: the exclusive lease create and the rename arbitrate, exactly one wins.
 */
import type { Stats } from 'node:fs';
import { closeSync, constants as fsConstants, fstatSync, lstatSync, openSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../core/ports.js';
import { systemClock } from '../../core/ports.js';
import {
  DEFAULT_MAX_TASK_BYTES,
  DEFAULT_SETTLE_MS,
  FinishIntentSchema,
  INTENTS_DIR,
  LEASES_DIR,
  LeaseSchema,
  STATUS_FILE,
  TASK_STATES,
  TEMP_DIR,
  TaskConflictError,
  TaskNotFoundError,
  TaskParseError,
  decodeTaskBytes,
  effectiveMaxAttempts,
  emptyCounts,
  formatFailedFooter,
  invalidTaskIdReason,
  makeTaskId,
  parseTask,
  planRecovery,
  setFrontmatterFields,
  sortTasks,
  taskFileName,
  taskIdFromFileName,
} from '../../core/task.js';
import type {
  ClaimResult,
  FinishIntent,
  InboxScan,
  IntentRecord,
  Lease,
  LeasePatch,
  LeaseRecord,
  MoveOutcome,
  Priority,
  QueueCounts,
  QueueSnapshot,
  QueueStatus,
  RecoveryAction,
  RecoveryPlan,
  RequeueResult,
  Task,
  TaskEntry,
  TaskState,
} from '../../core/task.js';
import { createFileExclusive, errnoCode, truncateBytes, exists, fsyncDir, isEnoent, isOurTempName, randomHex, readdirSafe, unlinkIfExists, writeFileAtomic } from './fs-util.js';

// ---------------------------------------------------------------------------------------------
// Paths

const MONTH_RE = /^\d{4}-\d{2}$/;

export function stateDir(root: string, state: TaskState): string {
  return path.join(root, state);
}

/** Path of a task file. Archived tasks live in `archive/YYYY-MM/`, so `month` is required there. */
export function taskPath(root: string, state: TaskState, id: string, month?: string): string {
  if (state === 'archive') {
    if (!month) throw new Error('taskPath: archive needs a YYYY-MM month');
    return path.join(root, 'archive', month, taskFileName(id));
  }
  return path.join(root, state, taskFileName(id));
}

export function leasePath(root: string, id: string): string {
  return path.join(root, LEASES_DIR, `${id}.json`);
}

export function intentPath(root: string, id: string): string {
  return path.join(root, INTENTS_DIR, `${id}.json`);
}

/** `YYYY-MM` (UTC) of an epoch-ms time: the archive subdirectory. */
export function archiveMonth(ms: number): string {
  return new Date(ms).toISOString().slice(0, 7);
}

function assertId(id: string): void {
  const bad = invalidTaskIdReason(id);
  if (bad) throw new TaskParseError(`invalid task id ${JSON.stringify(id)}: ${bad}`);
}

/** Serializes work on one task id (see `withTaskLock`); the default runs `fn` directly. */
export type TaskLock = <T>(id: string, fn: () => Promise<T>) => Promise<T>;
const noLock: TaskLock = (_id, fn) => fn();

export interface DurableOpt {
  /** fsync files and directories (default true). Only benchmarks and throwaway dirs turn it off. */
  durable?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Layout and observation

/** Creates the queue layout (idempotent): the six state dirs, leases/, intents/ and .tmp/. */
export async function ensureQueueDirs(root: string, opts: DurableOpt = {}): Promise<void> {
  await fs.mkdir(root, { recursive: true });
  let created = false;
  for (const d of [...TASK_STATES, LEASES_DIR, INTENTS_DIR, TEMP_DIR]) {
    try {
      await fs.mkdir(path.join(root, d));
      created = true;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
    }
  }
  if (created && (opts.durable ?? true)) await fsyncDir(root);
}

/** Task-file names in one directory (readdir only). */
async function taskNames(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdirSafe(dir)) if (taskIdFromFileName(e.name) !== undefined) out.push(e.name);
  return out;
}

async function archiveMonths(root: string): Promise<string[]> {
  return (await readdirSafe(path.join(root, 'archive'))).filter((e) => e.isDirectory() && MONTH_RE.test(e.name)).map((e) => e.name).sort();
}

/**
 * Counts task files per state with readdir only (no stat, no read): cheap for 10,000 files.
 * Missing directories count 0 (safe on a machine where the queue does not exist yet).
 */
export async function countTasks(root: string): Promise<QueueCounts> {
  const counts = emptyCounts();
  await Promise.all(
    TASK_STATES.filter((s) => s !== 'archive').map(async (s) => {
      counts[s] = (await taskNames(stateDir(root, s))).length;
    }),
  );
  for (const m of await archiveMonths(root)) counts.archive += (await taskNames(path.join(root, 'archive', m))).length;
  return counts;
}

export interface ListOptions {
  /** Epoch ms for the settle rule (default: now). */
  now?: number;
  /** Settle window for inbox/ (default 2000 ms; 0 disables). */
  settleMs?: number;
}

/** Is a file with this mtime still settling (possibly being written in place)? */
export function isSettling(mtimeMs: number, now: number, settleMs: number): boolean {
  return settleMs > 0 && Math.abs(now - mtimeMs) < settleMs;
}

async function entriesIn(dir: string, state: TaskState, now: number, settleMs: number, month?: string): Promise<TaskEntry[]> {
  const names = await taskNames(dir);
  const out: TaskEntry[] = [];
  // Synchronous lstat: for thousands of small files, one syscall each on this thread is an order
  // of magnitude faster than a round trip through libuv's threadpool. Yield now and then so a
  // large inbox does not stall the event loop.
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
    const fileName = names[i] as string;
    const p = path.join(dir, fileName);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (err) {
      if (isEnoent(err)) continue; // moved away between readdir and lstat
      throw err;
    }
    const id = fileName.slice(0, -3);
    const entry: TaskEntry = { id, state, fileName, path: p, mtimeMs: st.mtimeMs, size: st.size, settling: state === 'inbox' && isSettling(st.mtimeMs, now, settleMs) };
    if (month) entry.month = month;
    if (!st.isFile()) entry.notRegular = true;
    out.push(entry);
  }
  return out;
}

/** Files handled between two yields to the event loop in synchronous scans. */
const YIELD_EVERY = 500;

/**
 * Lists task files (readdir + lstat, no reads) in one state or all. Ignores hidden and temp files
 * and names not ending in `.md`. Inbox entries younger than the settle window are `settling`.
 * Sorted by mtime, then id.
 */
export async function listTasks(root: string, state?: TaskState, opts: ListOptions = {}): Promise<TaskEntry[]> {
  const now = opts.now ?? Date.now();
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  const states = state ? [state] : TASK_STATES;
  const out: TaskEntry[] = [];
  for (const s of states) {
    if (s === 'archive') {
      for (const m of await archiveMonths(root)) out.push(...(await entriesIn(path.join(root, 'archive', m), 'archive', now, settleMs, m)));
    } else {
      out.push(...(await entriesIn(stateDir(root, s), s, now, settleMs)));
    }
  }
  return out.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface TaskLocation {
  state: TaskState;
  path: string;
  month?: string;
}

/** Every place a task id is found (normally exactly one; [] when it does not exist). */
export async function locateTask(root: string, id: string): Promise<TaskLocation[]> {
  assertId(id);
  const out: TaskLocation[] = [];
  for (const s of TASK_STATES) {
    if (s === 'archive') {
      for (const m of await archiveMonths(root)) {
        const p = taskPath(root, 'archive', id, m);
        if (await exists(p)) out.push({ state: 'archive', path: p, month: m });
      }
    } else {
      const p = taskPath(root, s, id);
      if (await exists(p)) out.push({ state: s, path: p });
    }
  }
  return out;
}

export interface ReadOptions {
  maxTaskBytes?: number;
}

async function statAndRead(p: string, maxBytes: number): Promise<{ bytes: Buffer; mtimeMs: number; size: number }> {
  // One descriptor, opened without following links (O_NOFOLLOW), then fstat and read on it:
  // the checks and the read see the same file. Synchronous for speed (see entriesIn).
  let fd: number;
  try {
    fd = openSync(p, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    if (isEnoent(err)) throw err;
    if (errnoCode(err) === 'ELOOP') throw new TaskParseError('task file is a symbolic link (not accepted)');
    throw new TaskParseError(`task file is unreadable: ${errnoCode(err) ?? String(err)}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TaskParseError('task is not a regular file');
    if (st.size > maxBytes) throw new TaskParseError(`task file is ${st.size} bytes, larger than the limit of ${maxBytes}`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(fd);
    } catch (err) {
      throw new TaskParseError(`task file is unreadable: ${errnoCode(err) ?? String(err)}`, { cause: err });
    }
    return { bytes, mtimeMs: st.mtimeMs, size: bytes.byteLength };
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and parses a task. Without `state`, the task is located first. Throws TaskNotFoundError
 * when it does not exist, TaskParseError when it is malformed (fail it with the error's reason).
 */
export async function readTask(root: string, id: string, state?: TaskState, opts: ReadOptions & { month?: string } = {}): Promise<Task> {
  assertId(id);
  let loc: TaskLocation | undefined;
  if (state && state !== 'archive') loc = { state, path: taskPath(root, state, id) };
  else if (state === 'archive' && opts.month) loc = { state, path: taskPath(root, state, id, opts.month), month: opts.month };
  else {
    const all = (await locateTask(root, id)).filter((l) => !state || l.state === state);
    loc = all[0];
  }
  if (!loc) throw new TaskNotFoundError(id, state ? `${state}/` : 'any state directory');
  const maxBytes = opts.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES;
  let file: { bytes: Buffer; mtimeMs: number; size: number };
  try {
    file = await statAndRead(loc.path, maxBytes);
  } catch (err) {
    if (isEnoent(err)) throw new TaskNotFoundError(id, `${loc.state}/`);
    throw err;
  }
  const text = decodeTaskBytes(file.bytes, maxBytes);
  return parseTask(text, { id, state: loc.state, fileName: taskFileName(id), path: loc.path, mtimeMs: file.mtimeMs, size: file.size });
}

/**
 * Parsed inbox files by path, valid while (mtimeMs, size) are unchanged. Lets a long-running
 * consumer re-scan a large inbox with readdir + lstat only; `scanInbox` prunes stale entries.
 */
export type ScanCache = Map<string, { mtimeMs: number; size: number; result: Task | TaskParseError }>;

export interface ScanOptions extends ListOptions, ReadOptions {
  cache?: ScanCache;
  /** Files read in parallel (default 32). */
  concurrency?: number;
}

/**
 * Observes inbox/ for dispatch: settled tasks parsed and ordered (priority, then age); settling
 * entries; malformed ones (to fail) with reasons; ids that collide with another state directory.
 * Read-only: safe for dry-run.
 */
export async function scanInbox(root: string, opts: ScanOptions = {}): Promise<InboxScan> {
  const entries = await listTasks(root, 'inbox', opts);
  const scan: InboxScan = { ready: [], settling: [], malformed: [], conflicts: [] };
  const cache = opts.cache;
  if (cache) {
    const live = new Set(entries.map((e) => e.path));
    for (const k of cache.keys()) if (!live.has(k)) cache.delete(k);
  }
  if (entries.length === 0) return scan;
  const elsewhere = new Map<string, TaskState[]>();
  for (const s of TASK_STATES) {
    if (s === 'inbox') continue;
    const dirs = s === 'archive' ? (await archiveMonths(root)).map((m) => path.join(root, 'archive', m)) : [stateDir(root, s)];
    for (const d of dirs) {
      for (const n of await taskNames(d)) {
        const id = n.slice(0, -3);
        const list = elsewhere.get(id) ?? [];
        if (!list.includes(s)) list.push(s);
        elsewhere.set(id, list);
      }
    }
  }
  const maxBytes = opts.maxTaskBytes ?? DEFAULT_MAX_TASK_BYTES;
  const toRead: TaskEntry[] = [];
  for (const entry of entries) {
    const other = elsewhere.get(entry.id);
    if (other) scan.conflicts.push({ entry, existingIn: other });
    else if (entry.settling) scan.settling.push(entry);
    else toRead.push(entry);
  }
  const results: (Task | TaskParseError | undefined)[] = new Array<Task | TaskParseError | undefined>(toRead.length);
  const readOne = async (entry: TaskEntry): Promise<Task | TaskParseError | undefined> => {
    const hit = cache?.get(entry.path);
    if (hit && hit.mtimeMs === entry.mtimeMs && hit.size === entry.size) return hit.result;
    try {
      if (entry.notRegular) throw new TaskParseError('task is not a regular file (directory, symbolic link or device)');
      const file = await statAndRead(entry.path, maxBytes);
      const text = decodeTaskBytes(file.bytes, maxBytes);
      const task = parseTask(text, { id: entry.id, state: 'inbox', fileName: entry.fileName, path: entry.path, mtimeMs: file.mtimeMs, size: file.size });
      cache?.set(entry.path, { mtimeMs: file.mtimeMs, size: file.size, result: task });
      return task;
    } catch (err) {
      if (isEnoent(err)) return undefined; // taken meanwhile
      if (err instanceof TaskParseError) {
        cache?.set(entry.path, { mtimeMs: entry.mtimeMs, size: entry.size, result: err });
        return err;
      }
      throw err;
    }
  };
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 32, toRead.length)) }, async () => {
    while (next < toRead.length) {
      const i = next++;
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
      results[i] = await readOne(toRead[i] as TaskEntry);
    }
  });
  await Promise.all(workers);
  toRead.forEach((entry, i) => {
    const r = results[i];
    if (r instanceof TaskParseError) scan.malformed.push({ entry, error: r });
    else if (r) scan.ready.push(r);
  });
  scan.ready = sortTasks(scan.ready);
  return scan;
}

// ---------------------------------------------------------------------------------------------
// Moves

export interface MoveOptions extends DurableOpt {
  /** For `to = archive`: the YYYY-MM subdirectory (created when missing). */
  month?: string;
  /** For `from = archive`. */
  fromMonth?: string;
}

/**
 * Moves a task between state directories with ONE rename(). Idempotent: when the task is no longer
 * in `from` but is in `to`, the move already happened → 'already'. Never overwrites: a different
 * file with the same id in `to` → TaskConflictError. Neither → TaskNotFoundError. With `durable`
 * (default) both directories are fsynced, so the move survives power loss.
 */
export async function moveTask(root: string, id: string, from: TaskState, to: TaskState, opts: MoveOptions = {}): Promise<MoveOutcome> {
  assertId(id);
  const src = taskPath(root, from, id, opts.fromMonth);
  const dst = taskPath(root, to, id, opts.month);
  if (from === to && src === dst) return (await exists(src)) ? 'already' : Promise.reject(new TaskNotFoundError(id, `${from}/`));
  if (to === 'archive') {
    await fs.mkdir(path.dirname(dst), { recursive: true });
  }
  if (await exists(dst)) {
    if (await exists(src)) throw new TaskConflictError(id, to);
    return 'already';
  }
  try {
    await fs.rename(src, dst);
  } catch (err) {
    if (isEnoent(err)) {
      if (await exists(dst)) return 'already';
      throw new TaskNotFoundError(id, `${from}/ (nor ${to}/)`);
    }
    throw err;
  }
  if (opts.durable ?? true) {
    await fsyncDir(path.dirname(src));
    await fsyncDir(path.dirname(dst));
    if (to === 'archive') await fsyncDir(path.join(root, 'archive'));
  }
  return 'moved';
}

// ---------------------------------------------------------------------------------------------
// Leases

export async function readLease(root: string, id: string): Promise<Lease | undefined> {
  let text: string;
  try {
    text = await fs.readFile(leasePath(root, id), 'utf8');
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
  const r = LeaseSchema.safeParse(safeJson(text));
  return r.success ? r.data : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

type RecordSchema<T> = { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } } };
type RawRecord<T> = { taskId: string; value?: T; error?: string; mtimeMs: number };

/** One lease or intent file; undefined when it does not exist. */
async function readRecord<T>(p: string, taskId: string, schema: RecordSchema<T>): Promise<RawRecord<T> | undefined> {
  try {
    const [text, st] = await Promise.all([fs.readFile(p, 'utf8'), fs.stat(p)]);
    const r = schema.safeParse(safeJson(text));
    return r.success ? { taskId, value: r.data, mtimeMs: st.mtimeMs } : { taskId, error: 'not a valid record', mtimeMs: st.mtimeMs };
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
}

async function readRecords<T>(dir: string, schema: RecordSchema<T>): Promise<RawRecord<T>[]> {
  const out: RawRecord<T>[] = [];
  for (const e of await readdirSafe(dir)) {
    if (!e.isFile() || !e.name.endsWith('.json') || e.name.startsWith('.')) continue;
    const r = await readRecord(path.join(dir, e.name), e.name.slice(0, -5), schema);
    if (r) out.push(r);
  }
  return out;
}

const toLeaseRecord = (r: RawRecord<Lease>): LeaseRecord => ({ taskId: r.taskId, mtimeMs: r.mtimeMs, ...(r.value ? { lease: r.value } : {}), ...(r.error ? { error: r.error } : {}) });
const toIntentRecord = (r: RawRecord<FinishIntent>): IntentRecord => ({ taskId: r.taskId, mtimeMs: r.mtimeMs, ...(r.value ? { intent: r.value } : {}), ...(r.error ? { error: r.error } : {}) });

/** All lease records (unreadable ones included, with `error`). */
export async function listLeases(root: string): Promise<LeaseRecord[]> {
  return (await readRecords(path.join(root, LEASES_DIR), LeaseSchema)).map(toLeaseRecord);
}

export async function listIntents(root: string): Promise<IntentRecord[]> {
  return (await readRecords(path.join(root, INTENTS_DIR), FinishIntentSchema)).map(toIntentRecord);
}

/**
 * Records delivery facts on a task's lease (atomic replace). Returns the new lease. Throws
 * TaskNotFoundError when there is no lease, TaskConflictError when `expectClaimId` does not match.
 */
export async function updateLease(root: string, id: string, patch: LeasePatch, opts: DurableOpt & { expectClaimId?: string } = {}): Promise<Lease> {
  assertId(id);
  const lease = await readLease(root, id);
  if (!lease) throw new TaskNotFoundError(id, `${LEASES_DIR}/ (no lease)`);
  if (opts.expectClaimId && lease.claimId !== opts.expectClaimId) throw new TaskConflictError(id, 'dispatched', `lease of task ${JSON.stringify(id)} belongs to another claim (${lease.claimId})`);
  const next: Lease = { ...lease, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
  await writeFileAtomic(leasePath(root, id), `${JSON.stringify(next, null, 2)}\n`, opts);
  return next;
}

export interface ClaimOptions extends DurableOpt, ReadOptions {
  session: string;
  account: string;
  /** Epoch ms (default Date.now()). */
  now?: number;
}

/**
 * Claims an inbox task for a session. Protocol (durable before delivery):
 * 1. refuse when a finish intent is pending;
 * 2. read + parse the task (TaskParseError propagates: fail it);
 * 3. create `leases/<id>.json` EXCLUSIVELY (temp + fsync + link + fsync dir); an existing lease
 *    means another claim holds it → `leased` — except a leftover of an ended attempt
 *    (lease.attempt ≤ the task's recorded `attempts`), which is replaced;
 * 4. rename inbox/<id>.md → dispatched/<id>.md (the arbiter); ENOENT → our lease is removed, `gone`;
 * 5. fsync inbox/ and dispatched/.
 * The attempt number is the task's `attempts` + 1.
 */
export async function claimTask(root: string, id: string, opts: ClaimOptions): Promise<ClaimResult> {
  assertId(id);
  const durable = opts.durable ?? true;
  if (await exists(intentPath(root, id))) return { claimed: false, reason: 'finishing' };
  let task: Task;
  try {
    task = await readTask(root, id, 'inbox', opts);
  } catch (err) {
    if (err instanceof TaskNotFoundError) return { claimed: false, reason: 'gone' };
    throw err;
  }
  const now = opts.now ?? Date.now();
  const lease: Lease = {
    version: 1,
    taskId: id,
    claimId: randomHex(8),
    session: opts.session,
    account: opts.account,
    attempt: task.attempts + 1,
    claimedAt: new Date(now).toISOString(),
  };
  const leaseText = `${JSON.stringify(lease, null, 2)}\n`;
  let created = await createFileExclusive(leasePath(root, id), leaseText, { durable });
  if (!created) {
    const existing = await readLease(root, id);
    if (existing && existing.attempt <= task.attempts) {
      // Leftover of an attempt that already ended (requeue wrote `attempts` before moving).
      await unlinkIfExists(leasePath(root, id), { durable });
      created = await createFileExclusive(leasePath(root, id), leaseText, { durable });
    }
    if (!created) {
      const holder = await readLease(root, id);
      return { claimed: false, reason: 'leased', ...(holder ? { lease: holder } : {}) };
    }
  }
  const src = taskPath(root, 'inbox', id);
  const dst = taskPath(root, 'dispatched', id);
  const dropOurLease = async () => {
    const cur = await readLease(root, id);
    if (cur?.claimId === lease.claimId) await unlinkIfExists(leasePath(root, id), { durable });
  };
  if (await exists(dst)) {
    await dropOurLease();
    throw new TaskConflictError(id, 'dispatched');
  }
  try {
    await fs.rename(src, dst);
  } catch (err) {
    await dropOurLease();
    if (isEnoent(err)) return { claimed: false, reason: 'gone' };
    throw err;
  }
  if (durable) {
    await fsyncDir(path.dirname(src));
    await fsyncDir(path.dirname(dst));
  }
  return { claimed: true, lease, task: { ...task, state: 'dispatched', path: dst } };
}

// ---------------------------------------------------------------------------------------------
// Finishing: done / failed

export interface FinishOptions extends DurableOpt {
  from: 'inbox' | 'dispatched' | 'delegated';
  to: 'done' | 'failed';
  /** Footer text appended exactly once (see formatDoneFooter & co in core/task.ts). */
  text: string;
  now?: number;
  /** Refuse unless the task's lease carries this claim id (a late hook of an older attempt). */
  expectClaimId?: string;
}

/**
 * Finishes a task: `from` → `to` with `text` appended. Steps, each idempotent:
 * 1. write the finish intent `intents/<id>.json` (atomic, durable);
 * 2. append `text` to the task IN ITS CURRENT DIRECTORY (temp + fsync + rename over), unless it
 *    already ends with it; an unreadable file gets `to/<id>.reason.txt` instead;
 * 3. ONE rename `from/<id>.md` → `to/<id>.md` (+ fsync both directories);
 * 4. remove the lease and the intent.
 * The task is in exactly one state directory throughout, and appears in `to/` already complete
 * (watchers of done/ never see a footer-less task). A crash anywhere is rolled forward by
 * `recoverQueue` from the intent. Returns 'already' when the task was already in `to`.
 */
export async function finishTask(root: string, id: string, opts: FinishOptions): Promise<MoveOutcome> {
  assertId(id);
  const durable = opts.durable ?? true;
  const src = taskPath(root, opts.from, id);
  const dst = taskPath(root, opts.to, id);
  if (opts.expectClaimId) {
    const lease = await readLease(root, id);
    if (lease && lease.claimId !== opts.expectClaimId) {
      throw new TaskConflictError(id, opts.from, `task ${JSON.stringify(id)} is held by another claim (${lease.claimId}, attempt ${lease.attempt}); not finishing it`);
    }
  }
  const srcThere = await exists(src);
  if (!srcThere) {
    if (await exists(dst)) {
      await cleanupRecords(root, id, durable);
      return 'already';
    }
    throw new TaskNotFoundError(id, `${opts.from}/ (nor ${opts.to}/)`);
  }
  const intent: FinishIntent = { version: 1, taskId: id, from: opts.from, to: opts.to, text: opts.text, at: new Date(opts.now ?? Date.now()).toISOString() };
  await fs.mkdir(path.join(root, INTENTS_DIR), { recursive: true });
  await writeFileAtomic(intentPath(root, id), `${JSON.stringify(intent, null, 2)}\n`, { durable });
  await appendInPlace(root, id, src, opts.to, opts.text, durable);
  const outcome = await moveTask(root, id, opts.from, opts.to, { durable });
  await cleanupRecords(root, id, durable);
  return outcome;
}

async function cleanupRecords(root: string, id: string, durable: boolean): Promise<void> {
  await unlinkIfExists(leasePath(root, id), { durable });
  await unlinkIfExists(intentPath(root, id), { durable });
}

async function appendInPlace(root: string, id: string, file: string, to: 'done' | 'failed', text: string, durable: boolean): Promise<void> {
  let st: Stats;
  let bytes: Buffer | undefined;
  try {
    st = await fs.lstat(file);
    if (st.isFile()) bytes = await fs.readFile(file);
  } catch (err) {
    if (isEnoent(err)) return; // moved meanwhile; the move step decides
    bytes = undefined;
  }
  if (bytes !== undefined) {
    const textBytes = Buffer.from(text, 'utf8');
    if (bytes.byteLength >= textBytes.byteLength && bytes.subarray(bytes.byteLength - textBytes.byteLength).equals(textBytes)) return;
    const needsNl = bytes.byteLength > 0 && bytes[bytes.byteLength - 1] !== 0x0a;
    const next = Buffer.concat([bytes, needsNl ? Buffer.from('\n') : Buffer.alloc(0), textBytes]);
    try {
      await writeFileAtomic(file, next, { durable, mustExist: true });
      return;
    } catch (err) {
      if (isEnoent(err)) return;
      // fall through to the sidecar
    }
  }
  // Not a regular file or not readable/writable: keep the reason beside it.
  await writeFileAtomic(path.join(root, to, `${id}.reason.txt`), text.trimStart(), { durable });
}

export interface CompleteOptions extends DurableOpt {
  /** Footer text (formatDoneFooter / formatDelegatedFooter). */
  footer: string;
  from?: 'dispatched' | 'delegated';
  now?: number;
  expectClaimId?: string;
}

/** Completes a task: dispatched (or delegated) → done/ with the footer. See finishTask. */
export async function completeTask(root: string, id: string, opts: CompleteOptions): Promise<MoveOutcome> {
  return finishTask(root, id, { from: opts.from ?? 'dispatched', to: 'done', text: opts.footer, ...pick(opts) });
}

function pick(opts: { durable?: boolean; now?: number; expectClaimId?: string }): { durable?: boolean; now?: number; expectClaimId?: string } {
  const o: { durable?: boolean; now?: number; expectClaimId?: string } = {};
  if (opts.durable !== undefined) o.durable = opts.durable;
  if (opts.now !== undefined) o.now = opts.now;
  if (opts.expectClaimId !== undefined) o.expectClaimId = opts.expectClaimId;
  return o;
}

export interface FailOptions extends DurableOpt {
  from: 'inbox' | 'dispatched' | 'delegated';
  reason: string;
  now?: number;
  attempts?: number;
  session?: string;
  account?: string;
  expectClaimId?: string;
}

/** Dead-letters a task: → failed/ with a footer carrying the reason. Never deletes anything. */
export async function failTask(root: string, id: string, opts: FailOptions): Promise<MoveOutcome> {
  const now = opts.now ?? Date.now();
  const text = formatFailedFooter({
    taskId: id,
    reason: opts.reason,
    failedAt: now,
    ...(opts.attempts !== undefined ? { attempts: opts.attempts } : {}),
    ...(opts.session ? { session: opts.session } : {}),
    ...(opts.account ? { account: opts.account } : {}),
  });
  return finishTask(root, id, { from: opts.from, to: 'failed', text, ...pick({ ...opts, now }) });
}

// ---------------------------------------------------------------------------------------------
// Requeue

export interface RequeueOptions extends DurableOpt, ReadOptions {
  /** Why the delivery ended (session died, stale dispatch, ...). */
  reason: string;
  /** The project's maxAttempts (the task's `max_attempts` wins). */
  maxAttempts?: number;
  now?: number;
  expectClaimId?: string;
}

/**
 * Ends a dispatched delivery without completion. When the ended attempt reached the task's max
 * attempts → failed/ ("gave up after N attempts: <reason>"). Otherwise:
 * 1. rewrite the task in dispatched/ with `attempts: <ended attempt>` and `last_error` in its
 *    frontmatter (atomic, keeps the mtime so the task keeps its age) — a value, not an increment,
 *    so repeating it is harmless;
 * 2. ONE rename dispatched/ → inbox/;
 * 3. remove the lease.
 * Idempotent: a task already back in inbox/ (or already failed) → 'already'.
 */
export async function requeueTask(root: string, id: string, opts: RequeueOptions): Promise<RequeueResult> {
  assertId(id);
  const durable = opts.durable ?? true;
  const lease = await readLease(root, id);
  if (opts.expectClaimId && lease && lease.claimId !== opts.expectClaimId) {
    throw new TaskConflictError(id, 'dispatched', `task ${JSON.stringify(id)} is held by another claim (${lease.claimId}); not requeueing it`);
  }
  const src = taskPath(root, 'dispatched', id);
  if (!(await exists(src))) {
    const where = await locateTask(root, id);
    const loc = where[0];
    if (loc && (loc.state === 'inbox' || loc.state === 'failed')) {
      if (loc.state === 'inbox' && lease) {
        const t = await readTask(root, id, 'inbox', opts).catch(() => undefined);
        if (t && lease.attempt <= t.attempts) await unlinkIfExists(leasePath(root, id), { durable });
      }
      return { outcome: 'already', attempt: lease?.attempt ?? 0, state: loc.state };
    }
    throw new TaskNotFoundError(id, 'dispatched/');
  }
  const now = opts.now ?? Date.now();
  let task: Task;
  try {
    task = await readTask(root, id, 'dispatched', opts);
  } catch (err) {
    if (err instanceof TaskParseError) {
      await failTask(root, id, { from: 'dispatched', reason: `malformed on requeue: ${err.reason}; last delivery ended: ${opts.reason}`, now, durable });
      return { outcome: 'failed', attempt: lease?.attempt ?? 0, state: 'failed' };
    }
    throw err;
  }
  const attempt = lease?.attempt ?? task.attempts + 1;
  const max = effectiveMaxAttempts(task, opts.maxAttempts);
  if (attempt >= max) {
    await failTask(root, id, {
      from: 'dispatched',
      reason: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} (max ${max}); last: ${opts.reason}`,
      now,
      attempts: attempt,
      ...(lease ? { session: lease.session, account: lease.account } : {}),
      durable,
    });
    return { outcome: 'failed', attempt, state: 'failed' };
  }
  const content = (await fs.readFile(src)).toString('utf8');
  const next = setFrontmatterFields(content, { attempts: attempt, last_error: opts.reason.replace(/\s+/g, ' ').trim().slice(0, 500) });
  if (next !== content) await writeFileAtomic(src, next, { durable, mtimeMs: task.mtimeMs, mustExist: true });
  await moveTask(root, id, 'dispatched', 'inbox', { durable });
  // Remove the lease of the attempt that ended — not one a new claim may have written since.
  const cur = await readLease(root, id);
  if (cur && (!lease || cur.claimId === lease.claimId)) await unlinkIfExists(leasePath(root, id), { durable });
  return { outcome: 'requeued', attempt, state: 'inbox' };
}

/**
 * Sets frontmatter fields of a task in place (atomic, same state directory); `undefined` removes a
 * field. Keeps the mtime unless `touch` is set. Used for routing overrides (e.g. back to local
 * after a delegation timed out: `{allow_delegation: false}`).
 */
export async function updateTaskFrontmatter(root: string, id: string, state: Exclude<TaskState, 'archive'>, set: Record<string, unknown>, opts: DurableOpt & { touch?: boolean } = {}): Promise<void> {
  assertId(id);
  const p = taskPath(root, state, id);
  let st: Stats;
  let content: string;
  try {
    st = await fs.stat(p);
    content = (await fs.readFile(p)).toString('utf8');
  } catch (err) {
    if (isEnoent(err)) throw new TaskNotFoundError(id, `${state}/`);
    throw err;
  }
  const next = setFrontmatterFields(content, set);
  if (next === content) return;
  await writeFileAtomic(p, next, { durable: opts.durable ?? true, mustExist: true, ...(opts.touch ? {} : { mtimeMs: st.mtimeMs }) });
}

// ---------------------------------------------------------------------------------------------
// Producers

export interface EnqueueInput {
  /** Markdown body; may itself start with frontmatter. */
  body: string;
  title?: string;
  priority?: Priority;
  /** Extra frontmatter fields (merged over any in `body`). */
  frontmatter?: Record<string, unknown>;
  /** Explicit id (must be valid and unused); default: a fresh `YYYYMMDD-HHMMSS-<hex>[-slug]`. */
  id?: string;
}

export interface EnqueueOptions extends DurableOpt {
  now?: number;
  /**
   * The file's mtime is set this far in the past so the consumer's settle window (which exists
   * for producers that write in place) does not delay a task that arrives complete. Default 2 s
   * (the default settle window); pass the project's window when it differs.
   */
  settleMs?: number;
  clock?: Clock;
}

/**
 * Enqueues a task atomically: validated (malformed → TaskParseError, nothing written), written and
 * fsynced in `<root>/.tmp/`, then link()ed into inbox/ (never overwrites) and the temp removed.
 * Returns the task id and its inbox path.
 */
export async function enqueueTask(root: string, input: EnqueueInput, opts: EnqueueOptions = {}): Promise<{ id: string; path: string }> {
  const durable = opts.durable ?? true;
  const now = opts.now ?? (opts.clock ?? systemClock).now();
  const set: Record<string, unknown> = { ...(input.frontmatter ?? {}) };
  if (input.title !== undefined) set.title = input.title;
  if (input.priority !== undefined) set.priority = input.priority;
  const content = Object.keys(set).length > 0 ? setFrontmatterFields(input.body, set) : input.body.replace(/^\uFEFF/, '');
  const bytes = Buffer.from(content, 'utf8');
  if (input.id !== undefined) assertId(input.id);
  const probe = parseTask(decodeTaskBytes(bytes), { id: input.id ?? 'probe', state: 'inbox', fileName: 'probe.md', path: '', mtimeMs: now, size: bytes.byteLength });
  await ensureQueueDirs(root, { durable });
  const settleMs = opts.settleMs ?? DEFAULT_SETTLE_MS;
  for (let i = 0; i < 5; i++) {
    const id = input.id ?? makeTaskId(now, randomHex(3), input.title ?? probe.frontmatter.title);
    if ((await locateTask(root, id)).length > 0) {
      if (input.id !== undefined) throw new TaskConflictError(id, (await locateTask(root, id))[0]?.state ?? 'inbox');
      continue;
    }
    const tmp = path.join(root, TEMP_DIR, `${id}.md.${process.pid}.${randomHex(4)}`);
    const fh = await fs.open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(bytes);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    const when = new Date(now - settleMs);
    await fs.utimes(tmp, when, when);
    const dst = taskPath(root, 'inbox', id);
    try {
      await fs.link(tmp, dst);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      if (errnoCode(err) === 'EEXIST') {
        if (input.id !== undefined) throw new TaskConflictError(id, 'inbox');
        continue;
      }
      throw err;
    }
    await fs.rm(tmp, { force: true });
    if (durable) await fsyncDir(stateDir(root, 'inbox'));
    return { id, path: dst };
  }
  throw new Error('enqueueTask: could not find an unused task id after 5 tries');
}

/**
 * Gives an inbox task whose id collides with another state directory a fresh id `<id>-dup-<hex>`
 * (one rename inside inbox/, so the task stays in exactly one state under one name). Returns it.
 */
export async function resolveIdConflict(root: string, id: string, opts: DurableOpt = {}): Promise<string> {
  assertId(id);
  for (let i = 0; i < 5; i++) {
    const base = truncateBytes(id, 180);
    const fresh = `${base}-dup-${randomHex(3)}`;
    if ((await locateTask(root, fresh)).length > 0) continue;
    const dst = taskPath(root, 'inbox', fresh);
    // One rename inside inbox/: the task has one name at every instant. The fresh name carries
    // random hex, so no producer can be writing it; the existence check guards against our own.
    if (await exists(dst)) continue;
    try {
      await fs.rename(taskPath(root, 'inbox', id), dst);
    } catch (err) {
      if (isEnoent(err)) throw new TaskNotFoundError(id, 'inbox/');
      throw err;
    }
    if (opts.durable ?? true) await fsyncDir(stateDir(root, 'inbox'));
    return fresh;
  }
  throw new Error('resolveIdConflict: could not find an unused id');
}

// ---------------------------------------------------------------------------------------------
// Janitor: archive, temp files

/** Moves one done/ task to archive/<month>/. */
export async function archiveTask(root: string, id: string, month: string, opts: DurableOpt = {}): Promise<MoveOutcome> {
  if (!MONTH_RE.test(month)) throw new Error(`archiveTask: month must be YYYY-MM, got ${month}`);
  return moveTask(root, id, 'done', 'archive', { ...opts, month });
}

/** done/ tasks finished (mtime) at least `olderThanMs` before `now`, with their archive month. */
export function selectArchivable(entries: readonly TaskEntry[], now: number, olderThanMs: number): { id: string; month: string }[] {
  return entries.filter((e) => e.state === 'done' && now - e.mtimeMs >= olderThanMs).map((e) => ({ id: e.id, month: archiveMonth(e.mtimeMs) }));
}

/** Archives every done/ task older than `olderThanMs` into archive/YYYY-MM/ (month of its mtime, UTC). */
export async function archiveDone(root: string, opts: DurableOpt & { olderThanMs: number; now: number; lock?: TaskLock }): Promise<{ archived: { id: string; month: string }[]; conflicts: string[] }> {
  const lock = opts.lock ?? noLock;
  const picks = selectArchivable(await listTasks(root, 'done', { now: opts.now, settleMs: 0 }), opts.now, opts.olderThanMs);
  const archived: { id: string; month: string }[] = [];
  const conflicts: string[] = [];
  for (const p of picks) {
    try {
      await lock(p.id, () => archiveTask(root, p.id, p.month, { durable: opts.durable ?? true }));
      archived.push(p);
    } catch (err) {
      if (err instanceof TaskConflictError) conflicts.push(p.id);
      else if (!(err instanceof TaskNotFoundError)) throw err;
    }
  }
  return { archived, conflicts };
}

export interface TempFile {
  path: string;
  mtimeMs: number;
}

/** Temp files: everything in `.tmp/`, and `.cf-tmp.*` files in the state and record directories. */
export async function listTempFiles(root: string): Promise<TempFile[]> {
  const out: TempFile[] = [];
  const add = async (p: string) => {
    try {
      const st = await fs.lstat(p);
      if (st.isFile()) out.push({ path: p, mtimeMs: st.mtimeMs });
    } catch (err) {
      if (!isEnoent(err)) throw err;
    }
  };
  for (const e of await readdirSafe(path.join(root, TEMP_DIR))) await add(path.join(root, TEMP_DIR, e.name));
  const dirs = [...TASK_STATES.filter((s) => s !== 'archive').map((s) => stateDir(root, s)), path.join(root, LEASES_DIR), path.join(root, INTENTS_DIR), root];
  for (const m of await archiveMonths(root)) dirs.push(path.join(root, 'archive', m));
  for (const d of dirs) for (const e of await readdirSafe(d)) if (isOurTempName(e.name)) await add(path.join(d, e.name));
  return out;
}

/** Removes temp files older than `olderThanMs` (younger ones may belong to a running writer). */
export async function cleanupTempFiles(root: string, opts: { olderThanMs: number; now: number }): Promise<string[]> {
  const removed: string[] = [];
  for (const t of await listTempFiles(root)) {
    if (opts.now - t.mtimeMs < opts.olderThanMs) continue;
    await fs.rm(t.path, { force: true });
    removed.push(t.path);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// status.json

/** Writes `<root>/status.json` atomically (temp + fsync + rename + fsync dir). */
export async function writeQueueStatus(root: string, status: QueueStatus, opts: DurableOpt = {}): Promise<void> {
  await writeFileAtomic(path.join(root, STATUS_FILE), `${JSON.stringify(status, null, 2)}\n`, opts);
}

export async function readQueueStatus(root: string): Promise<QueueStatus | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(root, STATUS_FILE), 'utf8')) as QueueStatus;
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Recovery

/** Observes the queue for recovery: locations of every task id, leases, intents. Read-only. */
export async function inspectQueue(root: string): Promise<QueueSnapshot> {
  const locations = new Map<string, TaskState[]>();
  const note = (id: string, s: TaskState) => {
    const l = locations.get(id) ?? [];
    if (!l.includes(s)) l.push(s);
    locations.set(id, l);
  };
  for (const s of TASK_STATES) {
    const dirs = s === 'archive' ? (await archiveMonths(root)).map((m) => path.join(root, 'archive', m)) : [stateDir(root, s)];
    for (const d of dirs) for (const n of await taskNames(d)) note(n.slice(0, -3), s);
  }
  return { locations, leases: await listLeases(root), intents: await listIntents(root) };
}

/** `inspectQueue` for one task id: its locations, its lease and its finish intent. Read-only. */
export async function inspectTask(root: string, id: string): Promise<QueueSnapshot> {
  const locations = new Map<string, TaskState[]>();
  const where = [...new Set((await locateTask(root, id)).map((l) => l.state))];
  if (where.length > 0) locations.set(id, where);
  const lease = await readRecord(leasePath(root, id), id, LeaseSchema);
  const intent = await readRecord(intentPath(root, id), id, FinishIntentSchema);
  return { locations, leases: lease ? [toLeaseRecord(lease)] : [], intents: intent ? [toIntentRecord(intent)] : [] };
}

export interface RecoveryReport extends RecoveryPlan {
  applied: RecoveryAction[];
  /** Planned actions a transition made unnecessary before they ran (re-checked under the task's lock). */
  superseded: RecoveryAction[];
  errors: { action: RecoveryAction; error: string }[];
}

/** Applies a recovery plan; each action is idempotent; failures are reported, not thrown. */
export async function applyRecovery(root: string, plan: RecoveryPlan, opts: DurableOpt & { now?: number; lock?: TaskLock } = {}): Promise<RecoveryReport> {
  const durable = opts.durable ?? true;
  const lock = opts.lock ?? noLock;
  const applied: RecoveryAction[] = [];
  const superseded: RecoveryAction[] = [];
  const errors: { action: RecoveryAction; error: string }[] = [];
  const now = opts.now ?? Date.now();
  for (const a of plan.actions) {
    try {
      await lock(a.taskId, async () => {
        // The plan came from a snapshot taken without the lock: a claim, completion or failure of
        // this task may have run since. Look again under the lock; act only if still warranted.
        const fresh = planRecovery(await inspectTask(root, a.taskId), now, 0).actions.find((x) => x.taskId === a.taskId && x.type === a.type);
        if (!fresh) {
          superseded.push(a);
          return;
        }
        await applyAction(fresh);
        applied.push(a);
      });
    } catch (err) {
      errors.push({ action: a, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return { ...plan, applied, superseded, errors };

  async function applyAction(a: RecoveryAction): Promise<void> {
    if (a.type === 'rollForward') {
      await finishTask(root, a.taskId, { from: a.intent.from, to: a.intent.to, text: a.intent.text, durable, now: Date.parse(a.intent.at) });
    } else if (a.type === 'dropLease') {
      await unlinkIfExists(leasePath(root, a.taskId), { durable });
    } else if (a.type === 'dropIntent') {
      await unlinkIfExists(intentPath(root, a.taskId), { durable });
    } else {
      await moveTask(root, a.taskId, 'dispatched', 'inbox', { durable });
    }
  }
}

/**
 * Crash recovery: inspect, plan (core `planRecovery`), apply. Run at start with `graceMs` 0 before
 * dispatching; the janitor may run it with a grace period.
 */
export async function recoverQueue(root: string, opts: DurableOpt & { now?: number; graceMs?: number; lock?: TaskLock } = {}): Promise<RecoveryReport> {
  const now = opts.now ?? Date.now();
  const plan = planRecovery(await inspectQueue(root), now, opts.graceMs ?? 0);
  return applyRecovery(root, plan, { ...opts, now });
}
