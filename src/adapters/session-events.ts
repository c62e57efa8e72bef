/**
 * Per-session hook event files: `<stateDir>/sessions/<name>/events.jsonl`, appended by the hook
 * commands (one line per event, a single write) and read incrementally by the controller. Two
 * writers: `claude-failover hook event` writes parsed records (and rotates the file), the shell
 * observer (hooks/claude-failover-observe) writes `{t, via, account?, raw}` lines parsed here.
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recordFromLine, type HookEventRecord } from '../core/activity.js';
import type { EventsCursor, SessionEventsPort } from '../core/ports.js';

export const EVENTS_FILE = 'events.jsonl';
/** Rotated (renamed to events.jsonl.1) past this size by the writer. */
export const EVENTS_ROTATE_BYTES = 4 * 1024 * 1024;

export function sessionDir(stateDir: string, session: string): string {
  return join(stateDir, 'sessions', session);
}

export function sessionEventsPath(stateDir: string, session: string): string {
  return join(sessionDir(stateDir, session), EVENTS_FILE);
}

/** Synchronous on purpose: the hook process does one small write and exits. Throws when the state dir is gone. */
export function appendSessionEvent(stateDir: string, session: string, record: HookEventRecord): void {
  const dir = sessionDir(stateDir, session);
  const file = join(dir, EVENTS_FILE);
  // Never recreate a removed state dir (a hook of an agent outliving its controller's state).
  if (!statSync(stateDir).isDirectory()) throw new Error(`${stateDir} is not a directory`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    if (statSync(file).size > EVENTS_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // no file yet
  }
  appendFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/**
 * Reads what was appended since the last commit, per file; survives rotation and torn lines.
 * Reading never moves the cursor: `read` returns the records and the cursor after them, and
 * `commit` moves it once what was planned from those records has been applied. So a plan preview
 * (`reconcile --dry-run`, `GET /api/v1/plan`) and a reconcile whose apply did not happen leave the
 * events to the reconcile that acts on them.
 */
export class SessionEventsReader implements SessionEventsPort {
  readonly #stateDir: string;
  readonly #cursors = new Map<string, EventsCursor>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  /** New records of the session since the committed cursor (all of them before the first commit). */
  async read(session: string): Promise<{ records: HookEventRecord[]; cursor: EventsCursor | undefined }> {
    const file = sessionEventsPath(this.#stateDir, session);
    let st;
    try {
      st = await stat(file);
    } catch {
      return { records: [], cursor: undefined };
    }
    let pos = this.#cursors.get(session);
    if (!pos || pos.ino !== st.ino || st.size < pos.offset) pos = { ino: st.ino, offset: 0, partial: '' };
    if (st.size === pos.offset) return { records: [], cursor: pos };
    const fh = await open(file, 'r');
    let text: string;
    try {
      const length = st.size - pos.offset;
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, pos.offset);
      text = pos.partial + buf.subarray(0, bytesRead).toString('utf8');
      pos = { ino: st.ino, offset: pos.offset + bytesRead, partial: '' };
    } finally {
      await fh.close();
    }
    const lines = text.split('\n');
    pos.partial = lines.pop() ?? '';
    const records: HookEventRecord[] = [];
    for (const line of lines) {
      if (!line) continue;
      try {
        const r = recordFromLine(JSON.parse(line));
        if (r) records.push(r);
      } catch {
        // a torn line: skip
      }
    }
    return { records, cursor: pos };
  }

  /** Marks everything up to `cursor` read (the plan made from it was applied). */
  commit(session: string, cursor: EventsCursor): void {
    this.#cursors.set(session, cursor);
  }

  forget(session: string): void {
    this.#cursors.delete(session);
  }
}
