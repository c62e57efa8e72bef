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

/** Reads what was appended since the last call, per file; survives rotation and torn lines. */
export class SessionEventsReader {
  readonly #stateDir: string;
  readonly #offsets = new Map<string, { ino: number; offset: number; partial: string }>();

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  /**
   * New records of the session since the previous read (all of them on the first read). With
   * `peek` the records stay new for the next read: a plan preview (`GET /api/v1/plan`, a dry-run
   * inside the daemon) must not take hook events away from the reconcile that acts on them.
   */
  async readNew(session: string, opts: { peek?: boolean } = {}): Promise<HookEventRecord[]> {
    const file = sessionEventsPath(this.#stateDir, session);
    let st;
    try {
      st = await stat(file);
    } catch {
      return [];
    }
    let pos = this.#offsets.get(session);
    if (!pos || pos.ino !== st.ino || st.size < pos.offset) pos = { ino: st.ino, offset: 0, partial: '' };
    if (st.size === pos.offset) {
      if (!opts.peek) this.#offsets.set(session, pos);
      return [];
    }
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
    if (!opts.peek) this.#offsets.set(session, pos);
    const out: HookEventRecord[] = [];
    for (const line of lines) {
      if (!line) continue;
      try {
        const r = recordFromLine(JSON.parse(line));
        if (r) out.push(r);
      } catch {
        // a torn line: skip
      }
    }
    return out;
  }

  forget(session: string): void {
    this.#offsets.delete(session);
  }
}
