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
   * Before the next failover, wait until every continued task has finished, so that each task is
   * cut by at most one failover (then "more than twice" is the strict bound). Otherwise failovers
   * come back to back and the bound is one continuation per failover. Default true.
   */
  waitForContinuations?: boolean;
  /** Random delay between "every session holds a task" and the failover. Default 1500 ms. */
  maxDelayMs?: number;
  /** Extra `run` flags (none by default: the defaults are what is tested). */
  daemonArgs?: string[];
  timeoutMs?: number;
  seed?: number;
  log?: (s: string) => void;
}

export interface TaskDeliveries {
  taskId: string;
  sessions: string[];
  originals: number;
  continuations: number;
  /** Failovers started between the task's first delivery and its end. */
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
}

interface SimRecord {
  type?: string;
  time?: string;
  pid?: number;
  argv?: string[];
  preview?: string;
  queued?: boolean;
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
  const continuing = () => {
    let n = 0;
    for (const f of (() => {
      try {
        return readdirSync(join(queue, 'leases')).filter((x) => x.endsWith('.json'));
      } catch {
        return [];
      }
    })()) {
      try {
        if (((JSON.parse(readFileSync(join(queue, 'leases', f), 'utf8')) as { continuations?: number }).continuations ?? 0) > 0) n += 1;
      } catch {
        // being replaced
      }
    }
    return n;
  };

  let report: FailoverChaosReport;
  try {
    const d = pool.start();
    const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 60_000);
    const url = listening.url as string;
    await until(() => pool.active() === 'a', 60_000, 'a active');
    await pool.waitIdle(names, 'a', 60_000);
    const token = readFileSync(join(pool.stateDir, 'api-token'), 'utf8').trim();

    for (let i = 1; i <= opts.failovers; i++) {
      // Enough ready work that every session is busy, then wait until each holds a task.
      const ready = inState('inbox').length;
      if (ready < names.length) await produce(names.length - ready + 1);
      if (opts.waitForContinuations ?? true) await until(() => continuing() === 0, left(), 'continued tasks finished');
      await until(() => holding() === names.length, 60_000, 'every session holding a task').catch(() => log(`failover ${i}: not every session busy (${holding()}/${names.length})`));
      await sleep(random() * (opts.maxDelayMs ?? 1500));
      const from = pool.active() as string;
      const to = from === 'a' ? 'b' : 'a';
      const trigger = triggers[(i - 1) % triggers.length] as FailoverTrigger;
      busyAtTrigger.push(holding());
      const completedBefore = count('FailoverCompleted');
      if (trigger === 'exhausted') {
        pool.usage.setWindows(pool.token(from), { fiveHour: 100, sevenDay: 20 });
      } else {
        const res = await fetch(`${url}/api/v1/failover`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ to, reason: `chaos ${i}` }) });
        if (res.status !== 202) throw new Error(`failover ${i}: POST /api/v1/failover answered ${res.status}: ${await res.text()}`);
      }
      byTrigger[trigger] += 1;
      await until(() => pool.active() === to && count('FailoverCompleted') > completedBefore, Math.min(left(), 180_000), `failover ${i} (${trigger}) ${from} → ${to} completed`);
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
    const failoverTimes = ev.filter((e) => e.reason === 'FailoverStarted').map((e) => Date.parse(e.time));
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
      return { taskId, sessions: [...t.sessions].sort(), originals: t.originals, continuations: t.continuations, failoversDuring: failoverTimes.filter((f) => f >= t.first && f <= end).length };
    }).sort((a, b) => a.taskId.localeCompare(b.taskId));
    const done = inState('done');
    const failed = inState('failed');
    const footers = done.map((id) => Number(/- attempts: (\d+)\n/.exec(readFileSync(join(queue, 'done', `${id}.md`), 'utf8'))?.[1] ?? 0));
    const requeues = ev.filter((e) => e.reason === 'TaskRequeued' || e.reason === 'TaskFailed').map((e) => e.message);
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
      continuations: perTask.reduce((n, t) => n + t.continuations, 0),
      replayedEvents: ev.filter((e) => e.reason === 'TaskReplayed').length,
      deliveredToTwoSessions: perTask.filter((t) => t.sessions.length > 1).map((t) => `${t.taskId}: ${t.sessions.join(', ')}`),
      deliveredMoreThanTwice: perTask.filter((t) => t.originals + t.continuations > 2).map((t) => `${t.taskId}: ${t.originals} + ${t.continuations} continuation(s)`),
      deliveredMoreThanOncePerFailover: perTask.filter((t) => t.originals > 1 || t.continuations > t.failoversDuring).map((t) => `${t.taskId}: ${t.originals} + ${t.continuations} continuation(s), ${t.failoversDuring} failover(s) during it`),
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
    };
  } finally {
    await pool.close();
  }
  return report;
}
