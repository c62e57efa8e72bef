/**
 * Failover chaos (issue 19, item 0): a real `claude-failover run` with simulator sessions that are
 * kept busy with tasks, while the pool fails over again and again between two accounts. Counts,
 * per task, the prompts each session received (the simulators' logs) and what the controller did
 * (its events and the done footers), and reports what must never happen:
 * - a task delivered to two sessions;
 * - a task delivered more than twice (the original and one continuation), or more than once plus
 *   one continuation per failover that happened while it was dispatched;
 * - an attempt used by a failover (any TaskRequeued/TaskFailed: nothing else requeues here);
 * - a task not done at the end.
 *
 * Failovers alternate between two triggers, both with the controller's default flags:
 * - `exhausted`: the usage endpoint reports the active account at 100 %. The account has hit its
 *   limit, so every session leaves it at once: turns in flight are cut, the conversations are
 *   resumed on the other account and the tasks continued there.
 * - `forced`: `POST /api/v1/failover {"to": …}` (not held by the minimum dwell). A session that is
 *   working may end its turn first (the failover grace), so its task is normally not cut; with a
 *   short `--failover-grace` it is cut like above.
 * Used by test/e2e/failover-chaos.test.ts (short) and bench/failover-chaos.bench.test.ts (≥ 20
 * failovers, quiet and under CPU load).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { enqueueTask } from '../../src/adapters/queue/index.js';
import { until } from './daemon.js';
import { SimPool } from './pool.js';

export type FailoverTrigger = 'exhausted' | 'forced';

export interface FailoverChaosOptions {
  sessions: number;
  failovers: number;
  /** Triggers used in turn (default: exhausted, forced). */
  triggers?: FailoverTrigger[];
  /** Each task works a random time in this range (`#sim work`). */
  workMs: [number, number];
  /** A continuation's work (the simulator's default work, CLAUDE_SIM_WORK_MS). Default 1500. */
  continuationWorkMs?: number;
  /**
   * Before the next failover, wait until every task that was in flight at the previous one has
   * ended, so that each task meets at most one failover (then "more than twice" is the strict
   * bound). Otherwise failovers come back to back and the bound is one continuation per failover
   * during the task. Default true.
   */
  oneFailoverPerTask?: boolean;
  /** Random delay between "every session holds a task" and the failover. Default 1500 ms. */
  maxDelayMs?: number;
  /** Extra `run` flags (none by default: the defaults are what is tested). */
  daemonArgs?: string[];
  timeoutMs?: number;
  seed?: number;
  log?: (s: string) => void;
  /** Keep the run's directory (state, queue, logs) for a look afterwards. */
  keep?: boolean;
}

export interface TaskDeliveries {
  taskId: string;
  sessions: string[];
  originals: number;
  continuations: number;
  /** Failovers whose span (decision to completion) overlaps the task's life (first prompt to its end). */
  failoversDuring: number;
}

export interface FailoverChaosReport {
  seed: number;
  failovers: number;
  byTrigger: Record<FailoverTrigger, number>;
  /** Sessions holding a task when each failover was triggered. */
  busyAtTrigger: number[];
  tasks: number;
  done: number;
  failed: number;
  notDone: string[];
  deliveries: number;
  /** How many tasks received n prompts (original + continuations), by n: `{ "1": 60, "2": 27 }`. */
  deliveriesPerTask: Record<string, number>;
  continuations: number;
  replayedEvents: number;
  deliveredToTwoSessions: string[];
  deliveredMoreThanTwice: string[];
  /** More deliveries than 1 + one per failover during the task. */
  deliveredMoreThanOncePerFailover: string[];
  /** Prompts that arrived while the session was already in a turn (queued behind another prompt). */
  queuedDeliveries: string[];
  /** TaskRequeued + TaskFailed events (nothing but a failover could cause one here). */
  attemptsUsedByFailovers: number;
  requeues: string[];
  maxAttemptsInFooters: number;
  /** FailoverStarted events by the Account controller's reason (`Forced`, `Exhausted`, …). */
  startedBy: Record<string, number>;
  durationMs: number;
  perTask: TaskDeliveries[];
  /** For each task that broke a rule: what its session, the controller and the pool did, in time order. */
  timelines: Record<string, string[]>;
  /** The run's directory, when kept (`keep`). */
  root?: string;
}

interface SimRecord {
  type?: string;
  time?: string;
  pid?: number;
  argv?: string[];
  preview?: string;
  queued?: boolean;
  event?: string;
  outcome?: string;
  resumed?: boolean;
}

interface EventRecord {
  time: string;
  key: string;
  reason: string;
  message: string;
  data?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runFailoverChaos(opts: FailoverChaosOptions): Promise<FailoverChaosReport> {
  const log = opts.log ?? (() => {});
  let seed = opts.seed ?? (Date.now() % 2147483646) + 1;
  const startSeed = seed;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const triggers = opts.triggers ?? ['exhausted', 'forced'];
  const names = Array.from({ length: opts.sessions }, (_, i) => `s${i}`);
  const pool = new SimPool({
    accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }],
    sessions: names,
    simEnv: { CLAUDE_SIM_WORK_MS: String(opts.continuationWorkMs ?? 1500), CLAUDE_SIM_READ_TASK_FILES: '0', CLAUDE_SIM_IDLE_NOTIFY_MS: '0' },
    ...(opts.daemonArgs ? { daemonArgs: opts.daemonArgs } : {}),
  });
  await pool.setup({});
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 15 * 60_000);
  const left = () => Math.max(1000, deadline - Date.now());
  const queue = join(pool.root, 'project', '.agent-queue');
  const events = () => pool.events() as unknown as EventRecord[];
  const count = (reason: string) => events().filter((e) => e.reason === reason).length;
  const byTrigger: Record<FailoverTrigger, number> = { exhausted: 0, forced: 0 };
  const busyAtTrigger: number[] = [];
  const ids: string[] = [];
  const produce = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const id = `fc-${String(ids.length + 1).padStart(4, '0')}`;
      const work = Math.round(opts.workMs[0] + random() * (opts.workMs[1] - opts.workMs[0]));
      await enqueueTask(queue, { id, body: `# chaos task ${id}\n\nReply with the task id.\n#sim work ${work}\n` }, { settleMs: 2000 });
      ids.push(id);
    }
  };
  const inState = (state: string) => {
    try {
      return readdirSync(join(queue, state)).filter((n) => n.endsWith('.md')).map((n) => n.slice(0, -3));
    } catch {
      return [];
    }
  };
  const holding = () => {
    const st = pool.status()['Project/p'] as { sessions?: Record<string, { state: string }> } | undefined;
    return names.filter((n) => st?.sessions?.[n]?.state === 'working').length;
  };
  // Tasks in flight at the last failover (dispatched when it was triggered or when it completed).
  let inFlight = new Set<string>();

  let report: FailoverChaosReport;
  try {
    const d = pool.start();
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 60_000);
    const url = listening.url as string;
    await until(() => pool.active() === 'a', 60_000, 'a active');
    await pool.waitIdle(names, 'a', 60_000);
    const token = readFileSync(join(pool.stateDir, 'api-token'), 'utf8').trim();

    for (let i = 1; i <= opts.failovers; i++) {
      if (opts.oneFailoverPerTask ?? true) {
        const previous = inFlight;
        await until(() => !inState('dispatched').some((id) => previous.has(id)), left(), `the tasks in flight at failover ${i - 1} ended`);
      }
      // Enough ready work that every session is busy (topped up while waiting: the tasks are short),
      // then wait until each holds a task.
      const topUp = async () => {
        const ready = inState('inbox').length;
        if (ready < names.length) await produce(names.length - ready + 1);
      };
      await until(async () => {
        if (holding() === names.length) return true;
        await topUp();
        return holding() === names.length;
      }, 60_000, 'every session holding a task').catch(() => log(`failover ${i}: not every session busy (${holding()}/${names.length})`));
      await sleep(random() * (opts.maxDelayMs ?? 1500));
      const from = pool.active() as string;
      const to = from === 'a' ? 'b' : 'a';
      const trigger = triggers[(i - 1) % triggers.length] as FailoverTrigger;
      busyAtTrigger.push(holding());
      inFlight = new Set(inState('dispatched'));
      const completedBefore = count('FailoverCompleted');
      if (trigger === 'exhausted') {
        pool.usage.setWindows(pool.token(from), { fiveHour: 100, sevenDay: 20 });
      } else {
        const res = await fetch(`${url}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to, reason: `chaos ${i}` }) });
        if (res.status !== 202) throw new Error(`failover ${i}: POST /api/v1/failover answered ${res.status}: ${await res.text()}`);
      }
      byTrigger[trigger] += 1;
      await until(() => pool.active() === to && count('FailoverCompleted') > completedBefore, Math.min(left(), 180_000), `failover ${i} (${trigger}) ${from} → ${to} completed`);
      for (const id of inState('dispatched')) inFlight.add(id);
      if (trigger === 'exhausted') {
        // The account's window resets: it is a valid target again (the next failover may come back).
        pool.usage.setWindows(pool.token(from), { fiveHour: 10, sevenDay: 20 });
        await until(() => (pool.status()[`Account/${from}`] as { usage?: { exhausted?: boolean } } | undefined)?.usage?.exhausted === false, 60_000, `${from} no longer exhausted`);
      }
      log(`failover ${i}/${opts.failovers} (${trigger}) ${from} → ${to}; busy at trigger ${busyAtTrigger.at(-1)}/${names.length}; ${inState('done').length}/${ids.length} done`);
    }
    // Drain: every task ends (done or failed).
    await until(() => inState('done').length + inState('failed').length >= ids.length, left(), 'every task finished').catch((err: unknown) => log(String(err)));
    const finishedAt = Date.now();
    await d.stop();

    // ---- counting
    const sim = pool.sim() as SimRecord[];
    const sessionOfPid = new Map<number, string>();
    for (const r of sim) {
      if (r.type !== 'invocation' || r.pid === undefined) continue;
      const settings = (r.argv ?? []).find((a) => /\/sessions\/[^/]+\/settings\.json$/.test(a));
      const m = settings ? /\/sessions\/([^/]+)\/settings\.json$/.exec(settings) : null;
      if (m?.[1]) sessionOfPid.set(r.pid, m[1]);
    }
    const ev = events();
    // Each failover's span, from its decision to every session running on the new account: a task can
    // only be cut by a failover whose span overlaps the task's life.
    const startedTimes = ev.filter((e) => e.reason === 'FailoverStarted').map((e) => Date.parse(e.time));
    const completedTimes = ev.filter((e) => e.reason === 'FailoverCompleted').map((e) => Date.parse(e.time));
    const spans = startedTimes.map((s, i) => ({ from: s, to: completedTimes[i] ?? finishedAt }));
    // When the first prompt of each task was pasted (the controller's log; the agent logs it later).
    const pasted = new Map<string, number>();
    for (const l of d.lines) {
      if (l.msg === 'prompt delivered' && l.continuation === false && typeof l.taskId === 'string' && typeof l.pasteStartedAt === 'number' && !pasted.has(l.taskId)) pasted.set(l.taskId, l.pasteStartedAt);
    }
    const endOf = new Map<string, number>();
    for (const e of ev) {
      const id = e.data?.taskId;
      if ((e.reason === 'TaskCompleted' || e.reason === 'TaskFailed') && typeof id === 'string') endOf.set(id, Date.parse(e.time));
    }
    const per = new Map<string, { sessions: Set<string>; originals: number; continuations: number; first: number }>();
    const queued: string[] = [];
    for (const r of sim) {
      if (r.type !== 'received') continue;
      const m = /^\[cf-task:([A-Za-z0-9._-]+)\] (Task|Continue task) /.exec(r.preview ?? '');
      if (!m?.[1]) continue;
      const t = per.get(m[1]) ?? { sessions: new Set<string>(), originals: 0, continuations: 0, first: Date.parse(r.time ?? '') };
      t.sessions.add(sessionOfPid.get(r.pid ?? -1) ?? `pid ${r.pid}`);
      if (m[2] === 'Task') t.originals += 1;
      else t.continuations += 1;
      per.set(m[1], t);
      if (r.queued === true) queued.push(`${m[1]} (${m[2] === 'Task' ? 'original' : 'continuation'} on ${sessionOfPid.get(r.pid ?? -1) ?? r.pid})`);
    }
    const perTask: TaskDeliveries[] = [...per].map(([taskId, t]) => {
      const end = endOf.get(taskId) ?? finishedAt;
      const first = Math.min(t.first, pasted.get(taskId) ?? Infinity);
      return { taskId, sessions: [...t.sessions].sort(), originals: t.originals, continuations: t.continuations, failoversDuring: spans.filter((f) => f.from <= end && f.to >= first).length };
    }).sort((a, b) => a.taskId.localeCompare(b.taskId));
    const done = inState('done');
    const failed = inState('failed');
    const footers = done.map((id) => Number(/- attempts: (\d+)\n/.exec(readFileSync(join(queue, 'done', `${id}.md`), 'utf8'))?.[1] ?? 0));
    const requeues = ev.filter((e) => e.reason === 'TaskRequeued' || e.reason === 'TaskFailed').map((e) => e.message);
    // Timelines of the tasks that broke a rule: their sessions' agents, the controller's decisions.
    const bad = new Set([
      ...ev.filter((e) => (e.reason === 'TaskRequeued' || e.reason === 'TaskFailed') && typeof e.data?.taskId === 'string').map((e) => e.data?.taskId as string),
      ...perTask.filter((t) => t.sessions.length > 1 || t.originals + t.continuations > Math.min(2, 1 + t.failoversDuring)).map((t) => t.taskId),
    ]);
    const timelines: Record<string, string[]> = {};
    for (const id of bad) {
      const t = per.get(id);
      const from = (t?.first ?? finishedAt) - 20_000;
      const to = (endOf.get(id) ?? finishedAt) + 5_000;
      const within = (time: string | undefined) => {
        const ms = Date.parse(time ?? '');
        return ms >= from && ms <= to;
      };
      const sessions = t?.sessions ?? new Set<string>();
      const lines: [string, string][] = [];
      for (const r of sim) {
        const who = sessionOfPid.get(r.pid ?? -1);
        if (!who || !sessions.has(who) || !within(r.time)) continue;
        if (r.type === 'received') lines.push([r.time as string, `${who} pid ${r.pid} received${r.queued ? ' (queued)' : ''}: ${(r.preview ?? '').split('\n')[0]?.slice(0, 70)}`]);
        else if (r.type === 'invocation') lines.push([r.time as string, `${who} pid ${r.pid} started${r.resumed ? ' (resume)' : ''}`]);
        else if (r.type === 'exit' || r.type === 'turn-start' || r.type === 'turn-end') lines.push([r.time as string, `${who} pid ${r.pid} ${r.type}${r.outcome ? ` ${r.outcome}` : ''}`]);
        else if (r.type === 'hook' && ['SessionStart', 'UserPromptSubmit', 'Stop', 'StopFailure', 'SessionEnd'].includes(r.event ?? '')) lines.push([r.time as string, `${who} pid ${r.pid} hook ${r.event}`]);
      }
      for (const e of ev) {
        if (!within(e.time)) continue;
        const about = e.data?.taskId === id || e.key === 'Account/*' || [...sessions].some((x) => e.key === `Session/${x}`);
        if (about && e.reason !== 'Updated') lines.push([e.time, `controller ${e.key} ${e.reason}: ${e.message.slice(0, 160)}`]);
      }
      for (const l of d.lines) {
        if (l.taskId === id && typeof l.time === 'number' && within(new Date(l.time).toISOString())) lines.push([new Date(l.time).toISOString(), `controller log: ${String(l.msg)} ${JSON.stringify({ session: l.session, continuation: l.continuation, pasteStartedAt: typeof l.pasteStartedAt === 'number' ? new Date(l.pasteStartedAt).toISOString() : undefined })}`]);
      }
      timelines[id] = lines.sort((a, b) => a[0].localeCompare(b[0])).map(([time, text]) => `${time} ${text}`);
    }
    report = {
      seed: startSeed,
      failovers: count('FailoverCompleted'),
      byTrigger,
      busyAtTrigger,
      tasks: ids.length,
      done: done.length,
      failed: failed.length,
      notDone: ids.filter((id) => !done.includes(id)),
      deliveries: perTask.reduce((n, t) => n + t.originals + t.continuations, 0),
      deliveriesPerTask: perTask.reduce<Record<string, number>>((m, t) => {
        const n = String(t.originals + t.continuations);
        m[n] = (m[n] ?? 0) + 1;
        return m;
      }, {}),
      continuations: perTask.reduce((n, t) => n + t.continuations, 0),
      replayedEvents: ev.filter((e) => e.reason === 'TaskReplayed').length,
      deliveredToTwoSessions: perTask.filter((t) => t.sessions.length > 1).map((t) => `${t.taskId}: ${t.sessions.join(', ')}`),
      deliveredMoreThanTwice: perTask.filter((t) => t.originals + t.continuations > 2).map((t) => `${t.taskId}: ${t.originals} + ${t.continuations} continuation(s)`),
      deliveredMoreThanOncePerFailover: perTask.filter((t) => t.originals + t.continuations > 1 + t.failoversDuring).map((t) => `${t.taskId}: ${t.originals} + ${t.continuations} continuation(s), ${t.failoversDuring} failover(s) during it`),
      queuedDeliveries: queued,
      attemptsUsedByFailovers: requeues.length,
      requeues,
      maxAttemptsInFooters: Math.max(0, ...footers),
      startedBy: ev.filter((e) => e.reason === 'FailoverStarted').reduce<Record<string, number>>((m, e) => {
        const r = typeof e.data?.reason === 'string' ? e.data.reason : 'unknown';
        m[r] = (m[r] ?? 0) + 1;
        return m;
      }, {}),
      durationMs: finishedAt - started,
      perTask,
      timelines,
      ...(opts.keep ? { root: pool.root } : {}),
    };
  } finally {
    if (opts.keep) {
      await pool.daemon?.stop('SIGKILL');
      pool.tmux.kill();
      await pool.usage?.close();
    } else {
      await pool.close();
    }
  }
  return report;
}
