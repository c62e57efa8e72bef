/**
 * Tasks in a project's queue (docs/queue-protocol.md): the types, the pure parsing of
 * a task file (optional YAML frontmatter + markdown body), the task id rule, ordering, the footers
 * appended on completion/failure, the on-disk record formats (lease, finish intent, status.json)
 * and the pure crash-recovery planner. Nothing here touches the filesystem: the adapter in
 * src/adapters/queue/ does, and controllers reach it through the `TaskQueue` interface below.
 */
import { isMap, isScalar, LineCounter, parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { CfError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// States and layout

/** The directory a task file sits in is its state. */
export type TaskState = 'inbox' | 'dispatched' | 'delegated' | 'done' | 'failed' | 'archive';

export const TASK_STATES: readonly TaskState[] = ['inbox', 'dispatched', 'delegated', 'done', 'failed', 'archive'];

/** Bookkeeping directories beside the state directories (not states). */
export const LEASES_DIR = 'leases';
export const INTENTS_DIR = 'intents';
export const TEMP_DIR = '.tmp';
export const STATUS_FILE = 'status.json';

/** Default settle window for inbox files written in place (see the producer contract). */
export const DEFAULT_SETTLE_MS = 2_000;
/** Default `max_attempts` when neither the task nor the project sets one (Project.maxAttempts). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Task files larger than this are failed ("too large") instead of being pasted into a pane. */
export const DEFAULT_MAX_TASK_BYTES = 1024 * 1024;

export function isTaskState(s: string): s is TaskState {
  return (TASK_STATES as readonly string[]).includes(s);
}

// ---------------------------------------------------------------------------------------------
// Errors (codes proposed for src/core/errors.ts's catalogue)

/** A task file that cannot be used: malformed frontmatter, invalid UTF-8, bad name, too large. */
export class TaskParseError extends CfError {
  /** Human reason, written into the failed/ footer. */
  readonly reason: string;
  /** 1-based line in the task file, when known. */
  readonly line: number | undefined;
  constructor(reason: string, options?: { line?: number; cause?: unknown }) {
    super('CF_ERR_TASK_MALFORMED', reason, options);
    this.reason = reason;
    this.line = options?.line;
  }
}

export class TaskNotFoundError extends CfError {
  readonly taskId: string;
  constructor(taskId: string, where: string) {
    super('CF_ERR_TASK_NOT_FOUND', `task ${JSON.stringify(taskId)} not found in ${where}`);
    this.taskId = taskId;
  }
}

/** A move would overwrite another file with the same task id (never done: tasks are not lost). */
export class TaskConflictError extends CfError {
  readonly taskId: string;
  readonly existingIn: TaskState;
  constructor(taskId: string, existingIn: TaskState, message?: string) {
    super('CF_ERR_TASK_CONFLICT', message ?? `task ${JSON.stringify(taskId)} already exists in ${existingIn}/; refusing to overwrite it`);
    this.taskId = taskId;
    this.existingIn = existingIn;
  }
}

// ---------------------------------------------------------------------------------------------
// Task id rule

/**
 * Task id rule: the id is the file name without its `.md` suffix, so it is stable across state
 * directories (a transition renames the directory, never the file). A task file name:
 * - ends in `.md` (lowercase); other names are not tasks and are ignored;
 * - does not start with `.` (hidden names are temp files and are ignored);
 * - yields an id of 1..200 UTF-8 bytes without control characters (otherwise the file is a
 *   malformed task and goes to failed/ with the reason).
 * `enqueueTask` generates ids `YYYYMMDD-HHMMSS-<6 hex>[-<slug>]` (UTC), unique and time-sortable.
 */
export const TASK_SUFFIX = '.md';
export const MAX_TASK_ID_BYTES = 200;

/** Is this directory entry name a task file (as opposed to a temp, hidden or foreign file)? */
export function isTaskFileName(name: string): boolean {
  return name.endsWith(TASK_SUFFIX) && !name.startsWith('.') && name.length > TASK_SUFFIX.length;
}

export function taskIdFromFileName(name: string): string | undefined {
  return isTaskFileName(name) ? name.slice(0, -TASK_SUFFIX.length) : undefined;
}

export function taskFileName(id: string): string {
  return `${id}${TASK_SUFFIX}`;
}

// eslint-disable-next-line no-control-regex -- control characters are exactly what we reject
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Returns a human reason when `id` is not a valid task id, undefined when it is. */
export function invalidTaskIdReason(id: string): string | undefined {
  if (id.length === 0) return 'empty task id';
  if (id.startsWith('.')) return 'task id starts with "."';
  if (id.includes('/') || id.includes('\\')) return 'task id contains a path separator';
  if (CONTROL_CHARS.test(id)) return 'task file name contains control characters';
  if (Buffer.byteLength(id, 'utf8') > MAX_TASK_ID_BYTES) return `task file name longer than ${MAX_TASK_ID_BYTES} bytes`;
  return undefined;
}

/** Builds a fresh id for `enqueueTask`: `YYYYMMDD-HHMMSS-<hex>[-<slug>]`. `randomHex` is injected. */
export function makeTaskId(now: number, randomHex: string, title?: string): string {
  const iso = new Date(now).toISOString(); // 2026-05-01T12:01:02.345Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
  const slug = title ? slugify(title) : '';
  return slug ? `${stamp}-${randomHex}-${slug}` : `${stamp}-${randomHex}`;
}

export function slugify(text: string, max = 40): string {
  const s = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return s.slice(0, max).replace(/-+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Frontmatter

export type Priority = 'high' | 'normal' | 'low';
export const PRIORITIES: readonly Priority[] = ['high', 'normal', 'low'];

/** Known frontmatter fields, parsed and typed. Field names are the on-disk snake_case names. */
export interface TaskFrontmatter {
  /** Routing: must run in a local Claude Code session. */
  needs_claude_code?: boolean;
  /** Routing: `claude-code`, or a provider name of the project's DelegationPolicy. */
  preferred_ai?: string;
  /** Routing: `false` forbids delegation. */
  allow_delegation?: boolean;
  /** Routing hint, free text (numbers are kept as their text). */
  complexity_hint?: string;
  priority?: Priority;
  /** Pin: only this session may take the task. */
  session?: string;
  /** Deliveries before the task is failed (dead letter). Integer >= 1. */
  max_attempts?: number;
  title?: string;
  /** Written by the controller on requeue: deliveries that ended without completion. */
  attempts?: number;
  /** Written by the controller on requeue: why the last delivery ended. */
  last_error?: string;
}

export const KNOWN_FRONTMATTER_FIELDS = [
  'needs_claude_code',
  'preferred_ai',
  'allow_delegation',
  'complexity_hint',
  'priority',
  'session',
  'max_attempts',
  'title',
  'attempts',
  'last_error',
] as const satisfies readonly (keyof TaskFrontmatter)[];

export interface ParsedFrontmatter {
  /** True when the file starts with a `---` frontmatter block. */
  present: boolean;
  fields: TaskFrontmatter;
  /** Unknown fields, kept as parsed (producers may carry their own metadata). */
  extra: Record<string, unknown>;
  /** Human warnings (unknown fields kept, spelling variants read as a known field). Never fatal. */
  warnings: string[];
  /** Everything after the frontmatter block, byte-exact (a leading BOM is dropped). */
  body: string;
  /** 1-based line number where the body starts. */
  bodyLine: number;
}

const YAML11_TRUE = new Set(['true', 'yes', 'on', 'y']);
const YAML11_FALSE = new Set(['false', 'no', 'off', 'n']);

function boolField(name: string) {
  return z.preprocess(
    (v) => {
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (YAML11_TRUE.has(s)) return true;
        if (YAML11_FALSE.has(s)) return false;
      }
      return v;
    },
    z.boolean({ error: (iss) => `${name} must be true or false, got ${describe(iss.input)}` }),
  );
}

function stringField(name: string, opts: { allowNumber?: boolean } = {}) {
  return z.preprocess(
    (v) => (opts.allowNumber && typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : v),
    z
      .string({ error: (iss) => `${name} must be text, got ${describe(iss.input)}` })
      .min(1, { error: `${name} must not be empty` })
      .refine((s) => !CONTROL_CHARS.test(s.replace(/[\t\n\r]/g, '')), { error: `${name} contains control characters` }),
  );
}

function intField(name: string, min: number) {
  return z
    .number({ error: (iss) => `${name} must be a whole number, got ${describe(iss.input)}` })
    .int({ error: (iss) => `${name} must be a whole number, got ${describe(iss.input)}` })
    .min(min, { error: `${name} must be at least ${min}` })
    .max(1000, { error: `${name} must be at most 1000` });
}

const FIELD_SCHEMAS: Record<(typeof KNOWN_FRONTMATTER_FIELDS)[number], z.ZodType> = {
  needs_claude_code: boolField('needs_claude_code'),
  preferred_ai: stringField('preferred_ai'),
  allow_delegation: boolField('allow_delegation'),
  complexity_hint: stringField('complexity_hint', { allowNumber: true }),
  priority: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
    z.enum(['high', 'normal', 'low'], { error: (iss) => `priority must be high, normal or low, got ${describe(iss.input)}` }),
  ),
  session: stringField('session'),
  max_attempts: intField('max_attempts', 1),
  title: stringField('title', { allowNumber: true }),
  attempts: intField('attempts', 0),
  last_error: z.string({ error: (iss) => `last_error must be text, got ${describe(iss.input)}` }),
};

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

/** Levenshtein distance, small strings only. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}

const normKey = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '');

/**
 * The known field `key` spells differently only by `-`/`_`/space or case (`allow-delegation`,
 * `Allow_Delegation`, `needsClaudeCode`): such a key is read as that field, with a warning.
 */
export function variantOfField(key: string): (typeof KNOWN_FRONTMATTER_FIELDS)[number] | undefined {
  if ((KNOWN_FRONTMATTER_FIELDS as readonly string[]).includes(key)) return undefined;
  return KNOWN_FRONTMATTER_FIELDS.find((known) => normKey(known) === normKey(key));
}

/**
 * A known field this unknown key was probably meant to be. Unknown keys that are near-misses of a
 * known field (beyond a spelling variant, which is accepted: `variantOfField`) are errors, not
 * warnings: `need_claude_code: true` silently ignored would let a task that must stay local be
 * delegated.
 */
export function nearMissField(key: string): string | undefined {
  for (const known of KNOWN_FRONTMATTER_FIELDS) {
    if (normKey(known) === normKey(key)) return known;
  }
  let best: { field: string; d: number } | undefined;
  for (const known of KNOWN_FRONTMATTER_FIELDS) {
    const d = editDistance(key.toLowerCase(), known);
    const limit = known.length >= 8 ? 2 : 1;
    if (d <= limit && (!best || d < best.d)) best = { field: known, d };
  }
  return best?.field;
}

const OPEN_RE = /^---[ \t]*$/;
const CLOSE_RE = /^(---|\.\.\.)[ \t]*$/;

/**
 * Splits and validates frontmatter. A file has frontmatter when its first line is `---`; the block
 * ends at the next line that is `---` or `...`. Throws TaskParseError with a human reason.
 */
export function parseFrontmatter(text: string): ParsedFrontmatter {
  const content = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const firstEnd = content.indexOf('\n');
  const firstLine = (firstEnd === -1 ? content : content.slice(0, firstEnd)).replace(/\r$/, '');
  if (!OPEN_RE.test(firstLine)) {
    return { present: false, fields: {}, extra: {}, warnings: [], body: content, bodyLine: 1 };
  }
  if (firstEnd === -1) throw new TaskParseError('frontmatter opened with "---" on line 1 but never closed', { line: 1 });
  // Find the closing delimiter line.
  let pos = firstEnd + 1;
  let line = 2;
  let closeStart = -1;
  let closeEnd = -1;
  while (pos <= content.length) {
    const nl = content.indexOf('\n', pos);
    const lineText = (nl === -1 ? content.slice(pos) : content.slice(pos, nl)).replace(/\r$/, '');
    if (CLOSE_RE.test(lineText)) {
      closeStart = pos;
      closeEnd = nl === -1 ? content.length : nl + 1;
      break;
    }
    if (nl === -1) break;
    pos = nl + 1;
    line += 1;
  }
  if (closeStart === -1) throw new TaskParseError('frontmatter opened with "---" on line 1 but never closed (expected a line "---")', { line: 1 });
  const yamlText = content.slice(firstEnd + 1, closeStart);
  const body = content.slice(closeEnd);
  const bodyLine = line + 1;

  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { uniqueKeys: true, prettyErrors: false, strict: true, lineCounter });
  const firstError = doc.errors[0];
  if (firstError) {
    const errLine = lineCounter.linePos(firstError.pos[0]).line;
    const fileLine = errLine !== undefined ? errLine + 1 : undefined;
    const msg = firstError.message.split('\n')[0] ?? firstError.message;
    throw new TaskParseError(`invalid YAML in frontmatter${fileLine !== undefined ? ` (line ${fileLine})` : ''}: ${msg}`, fileLine !== undefined ? { line: fileLine } : {});
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    throw new TaskParseError(`invalid YAML in frontmatter: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (data === null || data === undefined) return { present: true, fields: {}, extra: {}, warnings: [], body, bodyLine };
  if (typeof data !== 'object' || Array.isArray(data) || data instanceof Date) {
    throw new TaskParseError(`frontmatter must be a mapping of fields (key: value), got ${describe(data)}`, { line: 2 });
  }
  const fields: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  const warnings: string[] = [];
  const problems: string[] = [];
  // Which key each known field was read from (a field given twice, in two spellings, is an error).
  const readFrom = new Map<string, string>();
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const variant = variantOfField(key);
    const field = variant ?? ((KNOWN_FRONTMATTER_FIELDS as readonly string[]).includes(key) ? (key as (typeof KNOWN_FRONTMATTER_FIELDS)[number]) : undefined);
    if (field) {
      const earlier = readFrom.get(field);
      if (earlier !== undefined) {
        problems.push(`"${key}" and "${earlier}" both set ${field}; keep one`);
        continue;
      }
      readFrom.set(field, key);
      if (variant) warnings.push(`frontmatter field "${key}" read as "${field}" (spell it ${field})`);
      if (value === null) continue; // `field:` with no value = absent
      const r = FIELD_SCHEMAS[field].safeParse(value);
      if (r.success) fields[field] = r.data;
      else problems.push(r.error.issues[0]?.message ?? `${field} is invalid`);
      continue;
    }
    const near = nearMissField(key);
    if (near) {
      problems.push(`unknown field "${key}" (did you mean "${near}"?)`);
      continue;
    }
    extra[key] = value;
    warnings.push(`unknown frontmatter field "${key}" (kept, ignored)`);
  }
  if (problems.length > 0) throw new TaskParseError(`frontmatter: ${problems.join('; ')}`);
  return { present: true, fields: fields as TaskFrontmatter, extra, warnings, body, bodyLine };
}

/**
 * Returns `content` with the given frontmatter fields set (`undefined` removes a field), keeping
 * other fields, comments and the body byte-exact. Adds a frontmatter block when there is none.
 * Throws TaskParseError when the existing frontmatter is not valid YAML.
 */
export function setFrontmatterFields(content: string, set: Record<string, unknown>): string {
  const text = content.startsWith('\uFEFF') ? content.slice(1) : content;
  const parsed = parseFrontmatter(text); // validates
  if (!parsed.present) {
    const values = Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
    if (Object.keys(values).length === 0) return text;
    return `---\n${stringify(values)}---\n${text}`;
  }
  const firstEnd = text.indexOf('\n');
  const bodyStart = text.length - parsed.body.length;
  // The YAML text is between the opening line and the closing delimiter line.
  const block = text.slice(firstEnd + 1, bodyStart);
  const closeLineStart = block.replace(/\r?\n$/, '').lastIndexOf('\n') + 1;
  const yamlText = block.slice(0, closeLineStart);
  const doc = parseDocument(yamlText);
  if (doc.contents === null) {
    const values = Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined));
    return `---\n${Object.keys(values).length ? stringify(values) : ''}---\n${parsed.body}`;
  }
  for (const [k, v] of Object.entries(set)) {
    // A field written in a spelling variant (`allow-delegation`) is replaced, not duplicated.
    const keys = isMap(doc.contents) ? doc.contents.items.map((it) => (isScalar(it.key) ? String(it.key.value) : undefined)) : [];
    for (const key of keys) if (key !== undefined && key !== k && variantOfField(key) === k) doc.delete(key);
    if (v === undefined) doc.delete(k);
    else doc.set(k, v);
  }
  return `---\n${doc.toString()}---\n${parsed.body}`;
}

// ---------------------------------------------------------------------------------------------
// Tasks

/** A task file as seen by a directory listing (no read). */
export interface TaskEntry {
  id: string;
  state: TaskState;
  fileName: string;
  path: string;
  mtimeMs: number;
  size: number;
  /** inbox only: modified less than the settle window ago; not to be taken yet. */
  settling: boolean;
  /** archive only: the `YYYY-MM` subdirectory. */
  month?: string;
  /** Not a regular file (directory, symlink, ...): it is failed, never read. */
  notRegular?: boolean;
}

export interface Task {
  id: string;
  state: TaskState;
  fileName: string;
  path: string;
  /** frontmatter.title, else the first markdown heading, else the first non-empty line (≤ 80 chars), else the id. */
  title: string;
  /** The prompt text: everything after the frontmatter, byte-exact. */
  body: string;
  hasFrontmatter: boolean;
  frontmatter: TaskFrontmatter;
  /** Unknown frontmatter fields, kept. */
  extra: Record<string, unknown>;
  warnings: string[];
  priority: Priority;
  /** Age basis for ordering: the file's mtime (kept across requeues). */
  mtimeMs: number;
  size: number;
  /** Completed deliveries that ended without completion (frontmatter `attempts`, default 0). */
  attempts: number;
  maxAttempts: number | undefined;
}

export interface TaskFileMeta {
  id: string;
  state: TaskState;
  fileName: string;
  path: string;
  mtimeMs: number;
  size: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes task bytes as strict UTF-8 (a task must reach the pane byte-identical). */
export function decodeTaskBytes(bytes: Uint8Array, maxBytes = DEFAULT_MAX_TASK_BYTES): string {
  if (bytes.byteLength > maxBytes) throw new TaskParseError(`task file is ${bytes.byteLength} bytes, larger than the limit of ${maxBytes}`);
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new TaskParseError('task file is not valid UTF-8', { cause: err });
  }
}

/** Parses a task file's text. Throws TaskParseError (malformed → failed/ with `reason`). */
export function parseTask(text: string, meta: TaskFileMeta): Task {
  const bad = invalidTaskIdReason(meta.id);
  if (bad) throw new TaskParseError(bad);
  const fm = parseFrontmatter(text);
  if (fm.body.trim().length === 0) throw new TaskParseError('task has no body (nothing to do)', { line: fm.bodyLine });
  return {
    ...meta,
    title: fm.fields.title ?? deriveTitle(fm.body) ?? meta.id,
    body: fm.body,
    hasFrontmatter: fm.present,
    frontmatter: fm.fields,
    extra: fm.extra,
    warnings: fm.warnings,
    priority: fm.fields.priority ?? 'normal',
    attempts: fm.fields.attempts ?? 0,
    maxAttempts: fm.fields.max_attempts,
  };
}

export function deriveTitle(body: string): string | undefined {
  const lines = body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const heading = lines.find((l) => /^#{1,6}\s+\S/.test(l));
  const line = heading ? heading.replace(/^#{1,6}\s+/, '') : lines[0];
  if (!line) return undefined;
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}

// ---------------------------------------------------------------------------------------------
// Ordering

const PRIORITY_RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };

/** Dispatch order: priority (high first), then age (oldest mtime first), then id. */
export function compareTasks(a: Pick<Task, 'priority' | 'mtimeMs' | 'id'>, b: Pick<Task, 'priority' | 'mtimeMs' | 'id'>): number {
  return PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] || a.mtimeMs - b.mtimeMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export function sortTasks<T extends Pick<Task, 'priority' | 'mtimeMs' | 'id'>>(tasks: readonly T[]): T[] {
  return [...tasks].sort(compareTasks);
}

/** Effective max attempts: the task's `max_attempts`, else the project's, else 3. */
export function effectiveMaxAttempts(task: Pick<Task, 'maxAttempts'>, projectMax?: number): number {
  return task.maxAttempts ?? projectMax ?? DEFAULT_MAX_ATTEMPTS;
}

// ---------------------------------------------------------------------------------------------
// Footers

export interface DoneFooter {
  taskId: string;
  session: string;
  account: string;
  conversationId?: string;
  /** Epoch ms. */
  startedAt: number;
  finishedAt: number;
  attempts: number;
  /** Continuation prompts of the finishing attempt (relaunches with `--resume` that cut its turn). */
  continuations?: number;
  /** The account the task finished on, when not the one it was claimed on (a failover). */
  finishedOnAccount?: string;
}

export interface FailedFooter {
  taskId: string;
  reason: string;
  failedAt: number;
  attempts?: number;
  session?: string;
  account?: string;
}

export interface DelegatedFooter {
  taskId: string;
  provider: string;
  jobId: string;
  /** In `currency` units (default USD). */
  cost?: number;
  currency?: string;
  startedAt: number;
  finishedAt: number;
  attempts?: number;
}

export const FOOTER_MARKER_PREFIX = '<!-- claude-failover:';

/** `850ms`, `42s`, `4m 05s`, `2h 03m 10s`, `1d 02h 00m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const p = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${p(h)}h ${p(m)}m`;
  if (h > 0) return `${h}h ${p(m)}m ${p(sec)}s`;
  if (m > 0) return `${m}m ${p(sec)}s`;
  return `${sec}s`;
}

function oneLine(s: string): string {
  return s.replace(/\r?\n|\r/g, ' ').replace(/\s+/g, ' ').trim();
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : 'unknown';
}

function renderFooter(kind: string, heading: string, rows: [string, string | undefined][]): string {
  const lines = rows.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `- ${k}: ${v}`);
  return `\n---\n${FOOTER_MARKER_PREFIX}${kind} -->\n**claude-failover: ${heading}**\n\n${lines.join('\n')}\n`;
}

export function formatDoneFooter(f: DoneFooter): string {
  return renderFooter('done', 'done', [
    ['task', oneLine(f.taskId)],
    ['session', oneLine(f.session)],
    ['account', oneLine(f.account)],
    ['conversation', f.conversationId ? oneLine(f.conversationId) : undefined],
    ['started', iso(f.startedAt)],
    ['finished', iso(f.finishedAt)],
    ['duration', formatDuration(f.finishedAt - f.startedAt)],
    ['continued', f.continuations ? `${f.continuations} time(s) after a relaunch${f.finishedOnAccount && f.finishedOnAccount !== f.account ? `; finished on account ${oneLine(f.finishedOnAccount)}` : ''}` : undefined],
    ['attempts', String(f.attempts)],
  ]);
}

export const MAX_REASON_CHARS = 4000;

export function formatFailedFooter(f: FailedFooter): string {
  let reason = f.reason.replace(/\r\n?/g, '\n').trim() || 'unknown';
  if (reason.length > MAX_REASON_CHARS) reason = `${reason.slice(0, MAX_REASON_CHARS)}…`;
  return renderFooter('failed', 'failed', [
    ['task', oneLine(f.taskId)],
    ['reason', reason.split('\n').join('\n  ')],
    ['failed', iso(f.failedAt)],
    ['attempts', f.attempts !== undefined ? String(f.attempts) : undefined],
    ['session', f.session ? oneLine(f.session) : undefined],
    ['account', f.account ? oneLine(f.account) : undefined],
  ]);
}

export function formatDelegatedFooter(f: DelegatedFooter): string {
  const cost = f.cost !== undefined && Number.isFinite(f.cost) ? `${f.cost.toFixed(4)} ${f.currency ?? 'USD'}` : undefined;
  return renderFooter('delegated', 'done (delegated)', [
    ['task', oneLine(f.taskId)],
    ['provider', oneLine(f.provider)],
    ['job', oneLine(f.jobId)],
    ['cost', cost],
    ['started', iso(f.startedAt)],
    ['finished', iso(f.finishedAt)],
    ['duration', formatDuration(f.finishedAt - f.startedAt)],
    ['attempts', f.attempts !== undefined ? String(f.attempts) : undefined],
  ]);
}

/** `content` with `text` appended after a line break; unchanged when it already ends with `text`. */
export function appendOnce(content: string, text: string): string {
  if (text.length === 0 || content.endsWith(text)) return content;
  return content.length === 0 || content.endsWith('\n') ? content + text : `${content}\n${text}`;
}

/** The kinds of the footers found in a task file's text, in order (done | failed | delegated). */
export function footerKinds(content: string): string[] {
  const out: string[] = [];
  const re = /<!-- claude-failover:([a-z-]+) -->/g;
  for (let m = re.exec(content); m; m = re.exec(content)) if (m[1]) out.push(m[1]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Records on disk: lease, finish intent, status.json

/**
 * Lease: `<queue>/leases/<id>.json`, written durably BEFORE the task is renamed into dispatched/.
 * Created exclusively (no overwrite): while a lease exists nobody else may claim the task.
 */
export const LeaseSchema = z.object({
  version: z.literal(1),
  taskId: z.string(),
  /** Random id of this claim; tells a claimer its own lease from another's. */
  claimId: z.string(),
  session: z.string(),
  account: z.string(),
  /** 1-based delivery attempt. */
  attempt: z.number().int().min(1),
  /** ISO time. */
  claimedAt: z.string(),
  /** ISO time the paste of the task's prompt started, recorded once it was submitted (Enter confirmed). */
  deliveredAt: z.string().optional(),
  conversationId: z.string().optional(),
  /**
   * ISO time the latest continuation prompt was pasted (a session relaunched with `--resume`
   * after the delivery, e.g. by a failover, continues the task in the same conversation). The
   * continuation's turn is judged from this time on, as the first delivery's is from `claimedAt`.
   */
  continuedAt: z.string().optional(),
  /** Continuation prompts delivered under this claim (one per relaunch that cut the task's turn). */
  continuations: z.number().int().min(0).optional(),
});
export type Lease = z.infer<typeof LeaseSchema>;

/** What `updateLease` may record on a lease: delivery facts, never who holds it. */
export type LeasePatch = Partial<Pick<Lease, 'deliveredAt' | 'conversationId' | 'continuedAt' | 'continuations'>>;

/**
 * Finish intent: `<queue>/intents/<id>.json`, written durably before a multi-step finishing
 * transition (append a footer, then rename into done/ or failed/). Recovery rolls it forward.
 */
export const FinishIntentSchema = z.object({
  version: z.literal(1),
  taskId: z.string(),
  from: z.enum(['inbox', 'dispatched', 'delegated']),
  to: z.enum(['done', 'failed']),
  /** Footer text to append (exactly once). */
  text: z.string(),
  /** ISO time. */
  at: z.string(),
});
export type FinishIntent = z.infer<typeof FinishIntentSchema>;

export type SessionQueueState = 'idle' | 'working' | 'delegated_to_secutools';

export type QueueCounts = Record<TaskState, number>;

export interface QueueStatus {
  version: 1;
  project?: string;
  /** ISO time. */
  updatedAt: string;
  counts: QueueCounts & { settling?: number };
  sessions: Record<string, { state: SessionQueueState; task?: string; since?: string }>;
  /** Tasks routed to delegation, for watchers (`delegated_to_secutools`). */
  delegated?: { taskId: string; provider?: string; jobId?: string }[];
}

export function emptyCounts(): QueueCounts {
  return { inbox: 0, dispatched: 0, delegated: 0, done: 0, failed: 0, archive: 0 };
}

// ---------------------------------------------------------------------------------------------
// Recovery planning (pure)

export interface LeaseRecord {
  taskId: string;
  /** Parsed lease; undefined when the file was unreadable or invalid. */
  lease?: Lease;
  error?: string;
  mtimeMs: number;
}

export interface IntentRecord {
  taskId: string;
  intent?: FinishIntent;
  error?: string;
  mtimeMs: number;
}

/** What `inspectQueue` observed: where each task id is, leases, intents. */
export interface QueueSnapshot {
  /** Task id → state directories it was found in (normally exactly one). */
  locations: Map<string, TaskState[]>;
  leases: LeaseRecord[];
  intents: IntentRecord[];
}

export type RecoveryAction =
  /** Finish an interrupted complete/fail transition (idempotent). */
  | { type: 'rollForward'; taskId: string; intent: FinishIntent; reason: string }
  /** Delete a lease that no longer guards a dispatched task. */
  | { type: 'dropLease'; taskId: string; reason: string }
  /** Delete a finish intent that cannot be applied (task gone or elsewhere). */
  | { type: 'dropIntent'; taskId: string; reason: string }
  /** A dispatched task without a (valid) lease: nobody is known to work on it → back to inbox. */
  | { type: 'requeueUnleased'; taskId: string; reason: string };

export interface RecoveryPlan {
  actions: RecoveryAction[];
  /** Things a human should look at; no action is taken for them. */
  anomalies: { taskId: string; message: string }[];
}

/**
 * Plans crash recovery from a snapshot. Rules (docs/queue-protocol.md, "Recovery"):
 * - finish intent present → roll forward when the task is in `from` or `to`; drop it otherwise;
 * - lease whose task is in dispatched/ → keep (the controller reconciles it against sessions);
 * - lease whose task is anywhere else or nowhere → drop (claim never reached the rename, or the
 *   task already left dispatched/);
 * - task in dispatched/ without a valid lease → requeue (at-least-once: deliver again);
 * - a task id in two state directories → anomaly (never produced by this protocol; not touched).
 * `graceMs` leaves leases and intents younger than it alone (a live claimer may be mid-way); use 0
 * at startup, when nothing else runs on the queue.
 */
export function planRecovery(snap: QueueSnapshot, now: number, graceMs = 0): RecoveryPlan {
  const actions: RecoveryAction[] = [];
  const anomalies: { taskId: string; message: string }[] = [];
  const young = (mtimeMs: number) => graceMs > 0 && now - mtimeMs < graceMs;
  const intentIds = new Set<string>();
  for (const rec of snap.intents) {
    if (young(rec.mtimeMs)) {
      intentIds.add(rec.taskId);
      continue;
    }
    const where = snap.locations.get(rec.taskId) ?? [];
    if (!rec.intent) {
      actions.push({ type: 'dropIntent', taskId: rec.taskId, reason: `unreadable finish intent: ${rec.error ?? 'invalid'}` });
      continue;
    }
    intentIds.add(rec.taskId);
    const { from, to } = rec.intent;
    if (where.length === 1 && (where[0] === from || where[0] === to)) {
      actions.push({ type: 'rollForward', taskId: rec.taskId, intent: rec.intent, reason: `interrupted ${from} → ${to}; finishing it` });
    } else {
      intentIds.delete(rec.taskId);
      actions.push({ type: 'dropIntent', taskId: rec.taskId, reason: where.length === 0 ? 'task no longer exists' : `task is in ${where.join(', ')}, not ${from} or ${to}` });
    }
  }
  const leased = new Set<string>();
  for (const rec of snap.leases) {
    if (young(rec.mtimeMs)) {
      leased.add(rec.taskId);
      continue;
    }
    const where = snap.locations.get(rec.taskId) ?? [];
    if (intentIds.has(rec.taskId)) {
      leased.add(rec.taskId); // the roll-forward removes it
      continue;
    }
    if (where.length === 1 && where[0] === 'dispatched' && rec.lease) {
      leased.add(rec.taskId);
      continue;
    }
    const why = !rec.lease
      ? `unreadable lease (${rec.error ?? 'invalid'})`
      : where.length === 0
        ? 'task no longer exists'
        : where.includes('inbox')
          ? 'claim did not complete (task still in inbox)'
          : `task already in ${where.join(', ')}`;
    if (where.includes('dispatched') && !rec.lease) {
      actions.push({ type: 'dropLease', taskId: rec.taskId, reason: why });
      continue; // the task is requeued below as unleased
    }
    actions.push({ type: 'dropLease', taskId: rec.taskId, reason: why });
  }
  for (const [taskId, where] of snap.locations) {
    if (where.length > 1) {
      anomalies.push({ taskId, message: `task id is in ${where.length} state directories (${where.join(', ')}); left untouched` });
      continue;
    }
    if (where[0] === 'dispatched' && !leased.has(taskId) && !intentIds.has(taskId)) {
      actions.push({ type: 'requeueUnleased', taskId, reason: 'dispatched without a valid lease; delivering it again' });
    }
  }
  return { actions, anomalies };
}

// ---------------------------------------------------------------------------------------------
// The queue as controllers see it (implemented by src/adapters/queue; proposed as QueuePort)

export interface ClaimInput {
  session: string;
  account: string;
  /** Epoch ms; defaults to the adapter's clock. */
  now?: number;
}

export type ClaimResult =
  | { claimed: true; lease: Lease; task: Task }
  /**
   * - `leased`: another claim holds the lease (`lease` is it);
   * - `gone`: the task was not in inbox/ (already taken, finished or removed);
   * - `finishing`: a finish intent is pending for it (recovery will complete it).
   */
  | { claimed: false; reason: 'leased' | 'gone' | 'finishing'; lease?: Lease; state?: TaskState };

export type MoveOutcome = 'moved' | 'already';

export interface RequeueResult {
  outcome: 'requeued' | 'failed' | 'already';
  /** The attempt that ended. */
  attempt: number;
  state: TaskState;
}

export interface InboxScan {
  /** Parsed, settled, ordered (priority, then age). */
  ready: Task[];
  settling: TaskEntry[];
  /** Cannot be used: fail them (`failTask(id, {from: 'inbox', reason})`). */
  malformed: { entry: TaskEntry; error: TaskParseError }[];
  /** Inbox files whose id also exists in another state directory (producer reused a name). */
  conflicts: { entry: TaskEntry; existingIn: TaskState[] }[];
}

/**
 * The queue of one project, as controllers and the runtime see it (proposed as `QueuePort` in
 * ports.ts). Implemented by `createFsTaskQueue(root)` in src/adapters/queue/. Every mutating
 * method is idempotent and crash-safe (docs/queue-protocol.md).
 */
export interface TaskQueue {
  readonly root: string;
  ensureDirs(): Promise<void>;
  count(): Promise<QueueCounts>;
  list(state?: TaskState, opts?: { now?: number; settleMs?: number }): Promise<TaskEntry[]>;
  read(id: string, state?: TaskState): Promise<Task>;
  scanInbox(opts?: { now?: number; settleMs?: number }): Promise<InboxScan>;
  claim(id: string, input: ClaimInput): Promise<ClaimResult>;
  readLease(id: string): Promise<Lease | undefined>;
  listLeases(): Promise<LeaseRecord[]>;
  updateLease(id: string, patch: LeasePatch, expectClaimId?: string): Promise<Lease>;
  complete(id: string, footer: string, opts?: { from?: 'dispatched' | 'delegated'; now?: number; expectClaimId?: string }): Promise<MoveOutcome>;
  fail(id: string, opts: { from: 'inbox' | 'dispatched' | 'delegated'; reason: string; now?: number; attempts?: number; session?: string; account?: string; expectClaimId?: string }): Promise<MoveOutcome>;
  requeue(id: string, opts: { reason: string; maxAttempts?: number; now?: number; expectClaimId?: string }): Promise<RequeueResult>;
  move(id: string, from: TaskState, to: TaskState): Promise<MoveOutcome>;
  enqueue(input: { body: string; title?: string; priority?: Priority; frontmatter?: Record<string, unknown>; id?: string }): Promise<{ id: string; path: string }>;
  resolveIdConflict(id: string): Promise<string>;
  archiveDone(opts: { olderThanMs: number; now: number }): Promise<{ archived: { id: string; month: string }[]; conflicts: string[] }>;
  cleanupTempFiles(opts: { olderThanMs: number; now: number }): Promise<string[]>;
  inspect(): Promise<QueueSnapshot>;
  recover(opts?: { now?: number; graceMs?: number }): Promise<RecoveryPlan & { applied: RecoveryAction[]; errors: { action: RecoveryAction; error: string }[] }>;
  writeStatus(status: QueueStatus): Promise<void>;
}
