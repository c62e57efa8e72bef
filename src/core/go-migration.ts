/**
 * `migrate --from-go`, the pure part: what the Go system left in a task queue, and what claude-failover
 * makes of it (docs/migrating.md, "5. See what `migrate --from-go` will carry over").
 *
 * The Go system marked a task in flight with a marker file beside (or instead of) the task:
 * - `<task>.md.delegated` (or `<task>.delegated`): submitted to the job API (secutools);
 * - `<task>.md.dispatched` (or `<task>.dispatched`): handed to an agent (a tmux session).
 * A marker holds a small record (JSON, `key: value` / `key=value` lines, or a single token: the job
 * id of a `.delegated`, the session of a `.dispatched`), or nothing, or — when the Go system renamed
 * the task itself — the task's text. The parser accepts all of these and never guesses beyond them:
 * a marker whose content is unknown is imported by its name (the task id), and the job of such a
 * delegation is looked up at the job API by the task id.
 *
 * What becomes of a marker (`planGoMigration`):
 * - `.delegated` with a known job → a job record (state submitted) and the task in delegated/: the
 *   DelegationPolicy controller polls the job and finishes the task as if it had submitted it;
 * - `.dispatched` naming a declared Session of the project → a lease for that session (not yet
 *   delivered): the Project controller delivers the task to that session once it is idle;
 * - `.dispatched` whose session is unknown → back to inbox/ (delivered again; `last_error` says why);
 * - a marker of a task already in done/ or failed/ → the stale marker is removed;
 * - anything else is not carried over and reported with what to do (never deleted).
 */
import { createHash } from 'node:crypto';
import type { DelegationJobRecord } from './effects.js';
import { invalidTaskIdReason, parseFrontmatter, setFrontmatterFields, type Lease, type TaskState } from './task.js';

export type GoMarkerKind = 'delegated' | 'dispatched';

/** `<id>.md.delegated`, `<id>.delegated`, `<id>.md.dispatched`, `<id>.dispatched` → kind and task id. */
export function goMarkerOf(name: string): { kind: GoMarkerKind; taskId: string } | undefined {
  if (name.startsWith('.')) return undefined;
  const m = /^(.+?)(?:\.md)?\.(delegated|dispatched)$/.exec(name);
  if (!m) return undefined;
  return { kind: m[2] as GoMarkerKind, taskId: m[1] as string };
}

/** What a marker's record says (every field optional). */
export interface GoMarkerRecord {
  jobId?: string;
  provider?: string;
  session?: string;
  account?: string;
  /** ISO time of the submit / dispatch. */
  at?: string;
  attempt?: number;
}

export type GoMarkerContent =
  | { form: 'record'; record: GoMarkerRecord }
  /** Empty, or a record with no field we know: imported by name. */
  | { form: 'unknown' }
  /** Not a record: the task's own text (the Go system renamed the task). */
  | { form: 'text' };

const FIELD_ALIASES: Record<string, keyof GoMarkerRecord> = {
  jobid: 'jobId', job: 'jobId', id: 'jobId', secutoolsjob: 'jobId', secutoolsjobid: 'jobId', secutoolsid: 'jobId',
  provider: 'provider', ai: 'provider', preferredai: 'provider', model: 'provider',
  session: 'session', agent: 'session', tmuxsession: 'session', tmux: 'session', target: 'session', sessionname: 'session',
  account: 'account', accountname: 'account',
  at: 'at', time: 'at', timestamp: 'at', since: 'at', submittedat: 'at', dispatchedat: 'at', delegatedat: 'at', createdat: 'at', startedat: 'at', date: 'at',
  attempt: 'attempt', attempts: 'attempt', try: 'attempt',
};

const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$/;
const normKey = (k: string) => k.toLowerCase().replace(/[-_\s]/g, '');

function isoOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return new Date(v < 1e12 ? v * 1000 : v).toISOString();
  if (typeof v === 'string' && v.trim() !== '') {
    const t = v.trim();
    if (/^\d+(\.\d+)?$/.test(t)) return isoOf(Number(t));
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  return undefined;
}

function setField(rec: GoMarkerRecord, key: string, value: unknown): boolean {
  const field = FIELD_ALIASES[normKey(key)];
  if (!field) return false;
  if (field === 'at') {
    const iso = isoOf(value);
    if (iso) rec.at = iso;
    return iso !== undefined;
  }
  if (field === 'attempt') {
    const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
    if (Number.isInteger(n) && n >= 1 && n <= 1000) rec.attempt = n;
    return Number.isInteger(n);
  }
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string') return false;
  const s = value.trim().replace(/^["']|["']$/g, '');
  if (!TOKEN.test(s)) return false;
  rec[field] = s;
  return true;
}

/** Parses a marker's content (see the module comment). Pure. */
export function parseGoMarker(text: string, kind: GoMarkerKind): GoMarkerContent {
  const t = text.replace(/^\uFEFF/, '').trim();
  if (t === '') return { form: 'unknown' };
  if (t.startsWith('{')) {
    try {
      const data: unknown = JSON.parse(t);
      if (data && typeof data === 'object' && !Array.isArray(data)) {
        const rec: GoMarkerRecord = {};
        let known = 0;
        for (const [k, v] of Object.entries(data as Record<string, unknown>)) if (setField(rec, k, v)) known += 1;
        return known > 0 ? { form: 'record', record: rec } : { form: 'unknown' };
      }
    } catch {
      // not JSON: a task may start with "{"
    }
  }
  const lines = t.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 1 && TOKEN.test(lines[0] as string) && !/[:=]/.test(lines[0] as string)) {
    return { form: 'record', record: kind === 'delegated' ? { jobId: lines[0] as string } : { session: lines[0] as string } };
  }
  const kv = lines.map((l) => /^([A-Za-z][\w -]{0,40}?)\s*[:=]\s*(.*)$/.exec(l));
  if (lines.length > 0 && lines.length <= 20 && kv.every((m) => m !== null)) {
    const rec: GoMarkerRecord = {};
    let known = 0;
    for (const m of kv) if (m && setField(rec, m[1] as string, m[2] as string)) known += 1;
    if (known > 0) return { form: 'record', record: rec };
    return { form: 'unknown' };
  }
  return { form: 'text' };
}

// ---------------------------------------------------------------------------------------------
// Planning

/** Where a task or marker sits: a state directory of the queue, or the queue root itself. */
export type QueuePlace = TaskState | 'root';

export interface ObservedMarker {
  project: string;
  root: string;
  kind: GoMarkerKind;
  taskId: string;
  /** Absolute path of the marker. */
  path: string;
  place: QueuePlace;
  mtimeMs: number;
  content: GoMarkerContent;
  /** The marker's own text, when it is the task (`content.form === 'text'`). */
  text?: string;
}

/** A task file `<id>.md` found in the queue (for the markers beside it). */
export interface ObservedTaskFile {
  path: string;
  place: QueuePlace;
  text: string;
}

/** The job behind a delegation marker, as the job API answered. */
export type JobLookup =
  | { found: true; jobId: string; status: string; provider?: string; createdAt?: string; via: 'marker' | 'task id'; others?: number }
  | { found: false; why: string };

export interface MigrationProject {
  name: string;
  root: string;
  /** The DelegationPolicy the project uses (declared, or given by `--compat secutools-key`). */
  policy?: { name: string; providers: string[]; defaultProvider?: string };
  /** Declared sessions of the project, with their pinned account. */
  sessions: { name: string; account?: string }[];
}

export interface MigrationInput {
  projects: MigrationProject[];
  /** Declared accounts, by priority. */
  accounts: string[];
  /** The pool's active account, when a controller recorded one. */
  activeAccount?: string;
  markers: ObservedMarker[];
  /** `<root>\0<task id>` → task files of that id in the queue. */
  tasks: Map<string, ObservedTaskFile[]>;
  /** `<root>\0<task id>` → the job record / lease already there. */
  jobRecords: Map<string, { jobId?: string }>;
  leases: Map<string, { claimId: string }>;
  /** `<root>\0<task id>` → the job lookup (delegation markers only). */
  jobs: Map<string, JobLookup>;
  now: number;
}

interface StepBase {
  project: string;
  root: string;
  taskId: string;
  /** The marker file. */
  marker: string;
  /** The task file to move (the marker itself when it holds the task). */
  from: string;
  /** Human summary of the step. */
  summary: string;
}

export type MigrationStep =
  | (StepBase & { type: 'delegation'; record: DelegationJobRecord })
  | (StepBase & { type: 'lease'; lease: Lease })
  | (StepBase & { type: 'requeue'; text: string })
  | (Omit<StepBase, 'from'> & { type: 'dropMarker' });

export interface MigrationLeftover {
  project: string;
  path: string;
  what: string;
  todo: string;
}

export interface MigrationPlan {
  steps: MigrationStep[];
  leftovers: MigrationLeftover[];
}

export const keyOf = (root: string, taskId: string) => `${root}\0${taskId}`;

/** Where a task's destination is, relative to the queue root (for messages). */
const rel = (root: string, path: string) => (path.startsWith(`${root}/`) ? path.slice(root.length + 1) : path);

/** A deterministic claim id for an imported lease (a re-run recognises its own). */
export function goClaimId(root: string, taskId: string): string {
  return `go-migrate-${createHash('sha256').update(`${root}\0${taskId}`).digest('hex').slice(0, 12)}`;
}

function attemptsOf(text: string): number {
  try {
    return parseFrontmatter(text).fields.attempts ?? 0;
  } catch {
    return 0;
  }
}

function preferredAi(text: string): string | undefined {
  try {
    return parseFrontmatter(text).fields.preferred_ai;
  } catch {
    return undefined;
  }
}

/** The task text of a marker: the task file beside it (sidecar), or the marker itself (renamed task). */
function taskSource(m: ObservedMarker, files: ObservedTaskFile[]): { from: string; text: string; place: QueuePlace } | { finished: QueuePlace } | { problem: string } {
  const finished = files.find((f) => f.place === 'done' || f.place === 'failed' || f.place === 'archive');
  const live = files.filter((f) => f.place !== 'done' && f.place !== 'failed' && f.place !== 'archive');
  if (m.content.form === 'text') {
    if (live.length > 0 || finished) return { problem: `the marker holds a task's text, and ${rel(m.root, (live[0] ?? finished)?.path ?? '')} exists too` };
    return { from: m.path, text: m.text ?? '', place: m.place };
  }
  if (finished && live.length === 0) return { finished: finished.place };
  // A sidecar: the task beside the marker first, then inbox/, dispatched/, delegated/, the root.
  const order: QueuePlace[] = [m.place, 'inbox', 'dispatched', 'delegated', 'root'];
  const pick = order.map((p) => live.find((f) => f.place === p)).find((f) => f !== undefined);
  if (!pick) return { problem: 'no task file beside it (no <task>.md in the queue) and it does not hold the task' };
  if (live.length > 1) return { problem: `the task is in ${live.map((f) => rel(m.root, f.path)).join(' and ')}` };
  return { from: pick.path, text: pick.text, place: pick.place };
}

/** Plans the migration of every marker. Pure. */
export function planGoMigration(input: MigrationInput): MigrationPlan {
  const steps: MigrationStep[] = [];
  const leftovers: MigrationLeftover[] = [];
  const seen = new Set<string>();
  const left = (m: ObservedMarker, what: string, todo: string) => leftovers.push({ project: m.project, path: m.path, what, todo });
  const markers = [...input.markers].sort((a, b) => a.project.localeCompare(b.project) || a.taskId.localeCompare(b.taskId) || a.path.localeCompare(b.path));
  for (const m of markers) {
    const project = input.projects.find((p) => p.name === m.project);
    if (!project) continue;
    const key = keyOf(m.root, m.taskId);
    const bad = invalidTaskIdReason(m.taskId);
    if (bad) {
      left(m, `marker of an invalid task id (${bad})`, 'rename the task and its marker, then run migrate again');
      continue;
    }
    if (seen.has(key)) {
      left(m, `a second marker for task ${m.taskId}`, 'keep one marker (the task is in flight once), then run migrate again');
      continue;
    }
    seen.add(key);
    const src = taskSource(m, input.tasks.get(key) ?? []);
    if ('finished' in src) {
      steps.push({ type: 'dropMarker', project: m.project, root: m.root, taskId: m.taskId, marker: m.path, summary: `stale marker of task ${m.taskId}: the task is already in ${src.finished}/; the marker is removed` });
      continue;
    }
    if ('problem' in src) {
      left(m, `${m.kind} marker of task ${m.taskId}: ${src.problem}`, 'keep one copy of the task (as <task>.md beside the marker), then run migrate again');
      continue;
    }
    const record = m.content.form === 'record' ? m.content.record : {};
    const at = record.at ?? new Date(m.mtimeMs).toISOString();

    if (m.kind === 'delegated') {
      if (!project.policy) {
        left(m, `task ${m.taskId} was delegated to the job API, but project ${m.project} has no DelegationPolicy`, `declare one (or run with --compat secutools-key and SECUTOOLS_API_KEY/SECUTOOLS_API_URL set), then run migrate again; or run it locally: mv ${m.path} ${m.root}/inbox/${m.taskId}.md`);
        continue;
      }
      const dest = `${m.root}/delegated/${m.taskId}.md`;
      const existing = input.jobRecords.get(key);
      const job = input.jobs.get(key);
      if (!job || !job.found) {
        const why = job && !job.found ? job.why : 'the job API was not asked';
        left(m, `task ${m.taskId} was delegated, but its job is unknown: ${why}`, `find the job id in the job platform and write it into the marker (echo JOB_ID > ${m.path}), then run migrate again; or run the task locally: mv ${src.from} ${m.root}/inbox/${m.taskId}.md${src.from === m.path ? '' : ` && rm ${m.path}`}`);
        continue;
      }
      if (existing && existing.jobId !== job.jobId) {
        left(m, `task ${m.taskId} already has a job record (job ${existing.jobId ?? 'not yet submitted'}), not job ${job.jobId}`, `look at ${m.root}/jobs/${m.taskId}.json and the job API; remove the marker once settled`);
        continue;
      }
      if ((input.tasks.get(key) ?? []).some((f) => f.path === dest) && src.from !== dest) {
        left(m, `delegated/${m.taskId}.md exists already`, 'keep one copy of the task, then run migrate again');
        continue;
      }
      const providers = project.policy.providers;
      const wanted = [job.provider, record.provider, preferredAi(src.text)].find((p) => p !== undefined && providers.includes(p));
      const provider = wanted ?? job.provider ?? record.provider ?? project.policy.defaultProvider ?? providers[0] ?? 'unknown';
      const rec: DelegationJobRecord = {
        version: 1,
        taskId: m.taskId,
        project: m.project,
        policy: project.policy.name,
        provider,
        attempt: 1,
        state: 'submitted',
        jobId: job.jobId,
        jobStatus: job.status,
        createdAt: job.createdAt ?? at,
        // The job timeout counts from the import: a Go-era job is not cancelled on the first pass.
        submittedAt: new Date(input.now).toISOString(),
      };
      steps.push({
        type: 'delegation', project: m.project, root: m.root, taskId: m.taskId, marker: m.path, from: src.from, record: rec,
        summary: `task ${m.taskId} -> delegated/ with job ${job.jobId} (${provider}, ${job.status}; job ${job.via === 'marker' ? 'named by the marker' : `found by task id${job.others ? `, newest of ${job.others + 1}` : ''}`})`,
      });
      continue;
    }

    // .dispatched
    const session = record.session ? project.sessions.find((s) => s.name === record.session) : undefined;
    if (!session) {
      const why = record.session ? `its session "${record.session}" is not a Session of project ${m.project}` : 'the marker does not name its session';
      let text = src.text;
      try {
        text = setFrontmatterFields(src.text, { last_error: `in flight in the Go system (${record.session ? `dispatched to ${record.session}` : 'dispatched'}); delivered again` });
      } catch {
        // malformed frontmatter: moved as it is (the controller fails it with the reason)
      }
      const dest = `${m.root}/inbox/${m.taskId}.md`;
      if ((input.tasks.get(key) ?? []).some((f) => f.path === dest) && src.from !== dest) {
        left(m, `inbox/${m.taskId}.md exists already`, 'keep one copy of the task, then run migrate again');
        continue;
      }
      steps.push({ type: 'requeue', project: m.project, root: m.root, taskId: m.taskId, marker: m.path, from: src.from, text, summary: `task ${m.taskId} -> inbox/ (delivered again): ${why}` });
      continue;
    }
    const lease = input.leases.get(key);
    const claimId = goClaimId(m.root, m.taskId);
    if (lease && lease.claimId !== claimId) {
      left(m, `task ${m.taskId} already has a lease (claim ${lease.claimId})`, `look at ${m.root}/leases/${m.taskId}.json; remove the marker once settled`);
      continue;
    }
    const dest = `${m.root}/dispatched/${m.taskId}.md`;
    if ((input.tasks.get(key) ?? []).some((f) => f.path === dest) && src.from !== dest) {
      left(m, `dispatched/${m.taskId}.md exists already`, 'keep one copy of the task, then run migrate again');
      continue;
    }
    const account = [record.account, session.account, input.activeAccount, input.accounts[0]].find((a) => a !== undefined && input.accounts.includes(a)) ?? 'unknown';
    // Claimed at the import (staleDispatchAfter counts from here, not from the Go system's dispatch).
    const l: Lease = { version: 1, taskId: m.taskId, claimId, session: session.name, account, attempt: record.attempt ?? attemptsOf(src.text) + 1, claimedAt: new Date(input.now).toISOString() };
    steps.push({ type: 'lease', project: m.project, root: m.root, taskId: m.taskId, marker: m.path, from: src.from, lease: l, summary: `task ${m.taskId} -> dispatched/ leased to session ${session.name} (account ${account}, attempt ${l.attempt}); delivered to it once it is idle` });
  }
  return { steps, leftovers };
}
