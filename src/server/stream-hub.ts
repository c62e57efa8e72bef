/**
 * Server-sent events for `GET /api/v1/stream`. One store subscription and one event-log
 * subscription fan out to every connected client:
 *   event: snapshot  the whole picture (on connect, and when the manifests change)
 *   event: status    {changes: [{key, status|null}], pool} — status changes by key, coalesced
 *   event: event     one new event-log entry
 *   event: queues    queue counts per project, when they change
 * plus a `: ping` comment every heartbeat so proxies keep the connection open.
 */
import type { QueueCounts } from '../core/task.js';
import type { ControllerState } from '../runtime/store.js';
import type { Manager } from '../runtime/manager.js';
import type { EventLog } from './event-log.js';
import { poolView } from './objects.js';
import type { QueueReader } from './queues.js';
import { buildSnapshot } from './snapshot.js';

export interface StreamClient {
  write(chunk: string): void;
  end(): void;
}

export interface StreamHubOptions {
  manager: Manager;
  events: EventLog;
  queues: QueueReader;
  heartbeatMs?: number;
  /** Status changes within this window are sent as one message (default 50 ms). */
  coalesceMs?: number;
  /** How often queue counts are re-read while clients are connected (default 2000 ms). */
  queuePollMs?: number;
}

export function sseMessage(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class StreamHub {
  readonly #o: StreamHubOptions;
  readonly #clients = new Set<StreamClient>();
  readonly #pending = new Set<string>();
  #objectsChanged = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #queueTimer: ReturnType<typeof setInterval> | undefined;
  #lastQueues = '';
  #unsubs: (() => void)[] = [];

  constructor(o: StreamHubOptions) {
    this.#o = o;
  }

  get size(): number {
    return this.#clients.size;
  }

  async snapshot(): Promise<ReturnType<typeof buildSnapshot>> {
    const { manager, events, queues } = this.#o;
    const state = manager.store.state;
    let counts: Record<string, QueueCounts> = {};
    try {
      counts = await queues.counts(state.desired);
    } catch {
      // unreadable queues: counts omitted
    }
    return buildSnapshot(state, { ready: manager.ready, queues: counts, events: events.recent({ limit: 50 }), now: new Date() });
  }

  async add(client: StreamClient): Promise<void> {
    const snap = await this.snapshot();
    this.#lastQueues = JSON.stringify(snap.queues);
    client.write(sseMessage('snapshot', snap));
    this.#clients.add(client);
    if (this.#clients.size === 1) this.#start();
  }

  remove(client: StreamClient): void {
    this.#clients.delete(client);
    if (this.#clients.size === 0) this.#stop();
  }

  /** Ends every stream (server shutting down). */
  close(): void {
    for (const c of this.#clients) {
      try {
        c.end();
      } catch {
        // already gone
      }
    }
    this.#clients.clear();
    this.#stop();
  }

  #broadcast(chunk: string): void {
    for (const c of this.#clients) {
      try {
        c.write(chunk);
      } catch {
        this.#clients.delete(c);
      }
    }
  }

  #start(): void {
    const { manager, events } = this.#o;
    this.#unsubs.push(manager.store.subscribe((next, prev) => this.#onChange(next, prev)));
    this.#unsubs.push(events.subscribe((e) => this.#broadcast(sseMessage('event', e))));
    this.#heartbeat = setInterval(() => this.#broadcast(': ping\n\n'), this.#o.heartbeatMs ?? 15_000);
    this.#heartbeat.unref();
    this.#queueTimer = setInterval(() => void this.#pollQueues(), this.#o.queuePollMs ?? 2000);
    this.#queueTimer.unref();
  }

  #stop(): void {
    for (const u of this.#unsubs.splice(0)) u();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#queueTimer) clearInterval(this.#queueTimer);
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#heartbeat = this.#queueTimer = this.#flushTimer = undefined;
    this.#pending.clear();
    this.#objectsChanged = false;
  }

  #onChange(next: ControllerState, prev: ControllerState): void {
    if (next.desired !== prev.desired || next.rejected !== prev.rejected) this.#objectsChanged = true;
    if (next.status !== prev.status) {
      for (const k of Object.keys(next.status)) if (next.status[k] !== prev.status[k]) this.#pending.add(k);
      for (const k of Object.keys(prev.status)) if (!(k in next.status)) this.#pending.add(k);
    }
    if ((this.#pending.size > 0 || this.#objectsChanged) && !this.#flushTimer) {
      this.#flushTimer = setTimeout(() => void this.#flush(), this.#o.coalesceMs ?? 50);
      this.#flushTimer.unref();
    }
  }

  async #flush(): Promise<void> {
    this.#flushTimer = undefined;
    if (this.#objectsChanged) {
      this.#objectsChanged = false;
      this.#pending.clear();
      this.#broadcast(sseMessage('snapshot', await this.snapshot()));
      return;
    }
    const { desired, status } = this.#o.manager.store.state;
    const changes = [...this.#pending].sort().map((key) => ({ key, status: status[key] ?? null }));
    this.#pending.clear();
    if (changes.length > 0) this.#broadcast(sseMessage('status', { changes, pool: poolView(desired, status), ready: this.#o.manager.ready }));
  }

  async #pollQueues(): Promise<void> {
    try {
      const counts = await this.#o.queues.counts(this.#o.manager.store.state.desired);
      const text = JSON.stringify(counts);
      if (text !== this.#lastQueues) {
        this.#lastQueues = text;
        this.#broadcast(sseMessage('queues', counts));
      }
    } catch {
      // unreadable queues: try again next tick
    }
  }
}
