/**
 * Follows the controller's event log (<state>/events.jsonl, appended by Manager.event) for the API:
 * keeps the most recent events in memory, and tells subscribers (the SSE stream, metrics) about
 * each new one. Reads only appended bytes on each poll; a truncated or replaced file is re-read.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EVENTS_RECORD, type CfEvent } from '../runtime/events.js';

export interface EventLogOptions {
  stateDir: string;
  /** Events kept in memory (default 2000). */
  keep?: number;
  /** Poll interval in ms (default 250). */
  pollMs?: number;
  /** At start, how many bytes of the file's end are read for history (default 4 MiB). */
  historyBytes?: number;
}

type Listener = (e: CfEvent) => void;

export class EventLog {
  readonly path: string;
  readonly #keep: number;
  readonly #pollMs: number;
  readonly #historyBytes: number;
  readonly #listeners = new Set<Listener>();
  #recent: CfEvent[] = [];
  #offset = 0;
  #ino = -1;
  #partial = '';
  /** The history read started mid-file: its first line is cut. */
  #skipFirst = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling: Promise<void> | undefined;

  constructor(opts: EventLogOptions) {
    this.path = join(opts.stateDir, EVENTS_RECORD);
    this.#keep = opts.keep ?? 2000;
    this.#pollMs = opts.pollMs ?? 250;
    this.#historyBytes = opts.historyBytes ?? 4 * 1024 * 1024;
  }

  /** Loads recent history (without notifying) and starts following the file. */
  async start(): Promise<void> {
    await this.#read(true);
    this.#timer = setInterval(() => void this.poll(), this.#pollMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#polling;
  }

  subscribe(l: Listener): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }

  /** The newest events (oldest first), optionally filtered. */
  recent(opts: { limit?: number; key?: string } = {}): CfEvent[] {
    const limit = opts.limit ?? 100;
    const key = opts.key;
    const list = key === undefined ? this.#recent : this.#recent.filter((e) => matchesKey(e.key, key));
    return list.slice(-limit);
  }

  /** Reads what was appended since the last poll and notifies subscribers. Safe to call at any time. */
  poll(): Promise<void> {
    this.#polling ??= this.#read(false).finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #read(initial: boolean): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch {
      return; // no events yet
    }
    if (st.ino !== this.#ino || st.size < this.#offset) {
      // First read, or the file was replaced/truncated: start over from (near) its end.
      this.#ino = st.ino;
      this.#partial = '';
      this.#offset = initial ? Math.max(0, st.size - this.#historyBytes) : 0;
      this.#skipFirst = this.#offset > 0;
    }
    if (st.size === this.#offset) return;
    const fh = await open(this.path, 'r');
    let text: string;
    try {
      const len = st.size - this.#offset;
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, this.#offset);
      this.#offset += bytesRead;
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
    const data = this.#partial + text;
    const lines = data.split('\n');
    this.#partial = lines.pop() ?? '';
    if (this.#skipFirst && lines.length > 0) {
      lines.shift();
      this.#skipFirst = false;
    }
    for (const line of lines) {
      if (!line.trim()) continue;
      let e: CfEvent;
      try {
        e = JSON.parse(line) as CfEvent;
      } catch {
        continue; // a torn line
      }
      this.#recent.push(e);
      if (!initial) for (const l of this.#listeners) l(e);
    }
    if (this.#recent.length > this.#keep) this.#recent = this.#recent.slice(-this.#keep);
  }
}

/** `for` filter of the events API: an exact key, `Kind/*` for a kind, and pool events for accounts. */
export function matchesKey(eventKey: string, filter: string): boolean {
  if (eventKey === filter) return true;
  if (filter.endsWith('/*') && eventKey.startsWith(filter.slice(0, -1))) return true;
  return filter.startsWith('Account/') && eventKey === 'Account/*';
}
