/**
 * The guard's audit log: one JSON line per decision under `<state-dir>/audit/guard.jsonl`, rotated by
 * size (guard.jsonl.1 … .N). Appends are single O_APPEND writes, so concurrent hooks from many
 * sessions interleave whole lines without a lock.
 *
 * Counters are derived from the log rather than kept in a second file: a counters file would need a
 * read-modify-write under a lock on every tool call of every agent (lost updates otherwise), while the
 * log already holds every decision. `readGuardCounters` counts the retained files; `GuardAuditTail`
 * reads only the new bytes on each poll and follows rotation, giving monotonic counters for metrics.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Decision } from './policy/types.js';

export type GuardMode = 'enforce' | 'warn' | 'off';

export interface AuditRecord {
  /** ISO-8601 time of the decision. */
  time: string;
  session: string | null;
  cwd: string;
  tool: string;
  /** The command (Bash) or path (file tools), redacted and truncated to 512 characters. */
  command: string;
  decision: Decision;
  rule: string;
  mode: GuardMode;
  /** False when the call was let through although the policy said deny (mode warn). */
  enforced: boolean;
  /** Hook wall time until the decision, in ms. */
  ms: number;
  /** The deployment's self-check (a known-bad call run once per deploy), not an agent's call. */
  probe?: boolean;
}

/** `tool_use_id` of the self-check call deployGuard runs after writing the hook. */
export const DEPLOY_PROBE_ID = 'deploy-check';

export interface AuditOptions {
  /** Rotate when the file exceeds this many bytes (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept (default 3). */
  keep?: number;
}

export const DEFAULT_AUDIT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_AUDIT_KEEP = 3;

export function auditDir(stateDir: string): string {
  return join(stateDir, 'audit');
}

export function auditFile(stateDir: string): string {
  return join(stateDir, 'audit', 'guard.jsonl');
}

/** Appends one record; rotates when the file grew past maxBytes. Synchronous: the hook is about to exit. */
export function appendAudit(stateDir: string, record: AuditRecord, opts: AuditOptions = {}): void {
  const file = auditFile(stateDir);
  const line = `${JSON.stringify(record)}\n`;
  let fd: number;
  try {
    fd = openSync(file, 'a', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(auditDir(stateDir), { recursive: true, mode: 0o700 });
    fd = openSync(file, 'a', 0o600);
  }
  let size: number;
  try {
    writeSync(fd, line);
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  if (size > (opts.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES)) rotateAudit(stateDir, opts.keep ?? DEFAULT_AUDIT_KEEP);
}

/**
 * Shifts guard.jsonl -> .1 -> .2 … -> .keep (the oldest is dropped). A lock file makes concurrent
 * rotations by several hooks happen once; a lock older than 10 s is considered stale.
 */
export function rotateAudit(stateDir: string, keep: number): void {
  const file = auditFile(stateDir);
  const lock = `${file}.rotate.lock`;
  let lockFd: number;
  try {
    lockFd = openSync(lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(lock).mtimeMs > 10_000) unlinkSync(lock);
    } catch {
      // another process removed it
    }
    return;
  }
  try {
    // Re-check under the lock: another hook may have rotated already.
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      return;
    }
    if (size === 0) return;
    for (let i = keep - 1; i >= 1; i--) {
      try {
        renameSync(`${file}.${i}`, `${file}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    if (keep >= 1) renameSync(file, `${file}.1`);
    else unlinkSync(file);
  } finally {
    closeSync(lockFd);
    try {
      unlinkSync(lock);
    } catch {
      // already gone
    }
  }
}

export interface GuardCounters {
  /** Decisions as the policy made them. */
  decisions: Record<Decision, number>;
  /** Calls actually blocked (deny in enforce mode). */
  blocked: number;
  /** `decision/rule` -> count, e.g. `deny/recursive-delete`. */
  rules: Record<string, number>;
  /** Lines that were not valid audit records. */
  malformed: number;
}

export function emptyCounters(): GuardCounters {
  return { decisions: { allow: 0, warn: 0, deny: 0 }, blocked: 0, rules: {}, malformed: 0 };
}

export function countLine(c: GuardCounters, line: string): void {
  if (line.trim() === '') return;
  try {
    const r = JSON.parse(line) as Partial<AuditRecord>;
    if (r.decision !== 'allow' && r.decision !== 'warn' && r.decision !== 'deny') {
      c.malformed++;
      return;
    }
    if (r.probe === true) return; // the deployment's self-check is not an agent decision
    c.decisions[r.decision]++;
    if (r.decision === 'deny' && r.enforced === true) c.blocked++;
    const key = `${r.decision}/${typeof r.rule === 'string' ? r.rule : 'unknown'}`;
    c.rules[key] = (c.rules[key] ?? 0) + 1;
  } catch {
    c.malformed++;
  }
}

function readFrom(path: string, offset: number): { text: string; end: number; ino: number } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    const len = Math.max(0, st.size - offset);
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return { text: buf.subarray(0, got).toString('utf8'), end: offset + got, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

/** Counts every retained audit file (current and rotated). */
export function readGuardCounters(stateDir: string, keep = DEFAULT_AUDIT_KEEP): GuardCounters {
  const c = emptyCounters();
  const file = auditFile(stateDir);
  for (let i = keep; i >= 0; i--) {
    const r = readFrom(i === 0 ? file : `${file}.${i}`, 0);
    if (r === null) continue;
    for (const line of r.text.split('\n')) countLine(c, line);
  }
  return c;
}

/**
 * Incremental reader for metrics: each poll() reads only what was appended since the last one and
 * follows a rotation (the old file's rest is read from guard.jsonl.1). Counters only grow.
 */
export class GuardAuditTail {
  readonly counters = emptyCounters();
  private ino = -1;
  private offset = 0;
  private partial = '';

  constructor(private readonly stateDir: string) {}

  poll(): GuardCounters {
    const file = auditFile(this.stateDir);
    let cur: number;
    try {
      cur = statSync(file).ino;
    } catch {
      cur = -1;
    }
    if (this.ino !== -1 && cur !== this.ino) {
      const old = readFrom(`${file}.1`, this.offset);
      if (old !== null && old.ino === this.ino) this.consume(old.text);
      this.partial = '';
      this.offset = 0;
      this.ino = -1;
    }
    if (cur === -1) return this.counters;
    const r = readFrom(file, this.offset);
    if (r === null) return this.counters;
    if (r.ino !== cur) return this.counters;
    this.ino = r.ino;
    this.offset = r.end;
    this.consume(r.text);
    return this.counters;
  }

  private consume(text: string): void {
    const data = this.partial + text;
    const lines = data.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) countLine(this.counters, line);
  }
}
