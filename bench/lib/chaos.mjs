// Chaos run of the Project controller (issue 5 acceptance), shared by bench/chaos.mjs (1,000 tasks,
// >= 100 kills) and test/e2e/project-chaos.test.ts (scaled down for CI).
//
// A real `claude-failover run` on a private tmux server with simulator sessions (fast turns) works
// through N tasks while the controller is SIGKILLed at random moments and restarted at once. At the
// end: every task is in done/ and in exactly one state directory; deliveries are read from the
// simulators' logs: a task received more than once is a re-delivery, and each must be explained by
// a kill of the controller between its first delivery and its completion.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loginAccount } from './login.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A private copy of the build (dist/, the simulator launcher, package.json, node_modules linked)
 * so that a rebuild of dist/ in the working tree during a long run cannot hand a hook or a restarted
 * controller a half-written module. Returns {cli, sim, dir, remove}.
 */
export function snapshotBuild() {
  const dir = mkdtempSync(join(tmpdir(), 'cf-build-'));
  cpSync(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true });
  mkdirSync(join(dir, 'src', 'sim', 'bin'), { recursive: true });
  cpSync(join(REPO, 'src', 'sim', 'bin', 'claude'), join(dir, 'src', 'sim', 'bin', 'claude'));
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    dir,
    cli: join(dir, 'dist', 'cli', 'main.js'),
    sim: join(dir, 'src', 'sim', 'bin', 'claude'),
    queue: join(dir, 'dist', 'adapters', 'queue', 'index.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Removes a run's temp dir; agents killed a moment ago may still be writing into it, so a failed
 * removal is tried again (up to ~10 s).
 */
export async function removeTree(root) {
  for (let i = 0; i < 40; i++) {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      return;
    } catch {
      await sleep(250);
    }
  }
}

const STATES = ['inbox', 'dispatched', 'delegated', 'done', 'failed'];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function locations(queueRoot) {
  const out = new Map();
  const add = (dir, state) => {
    let names = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith('.md') || n.startsWith('.')) continue;
      const id = n.slice(0, -3);
      out.set(id, [...(out.get(id) ?? []), state]);
    }
  };
  for (const s of STATES) add(join(queueRoot, s), s);
  let months = [];
  try {
    months = readdirSync(join(queueRoot, 'archive'));
  } catch {
    // none
  }
  for (const m of months) add(join(queueRoot, 'archive', m), 'archive');
  return out;
}

function readJsonLines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    });
  } catch {
    return [];
  }
}

/**
 * @param {{ tasks: number, kills: number, sessions: number, workMs?: number, minKillGapMs?: number, maxKillGapMs?: number, timeoutMs?: number, log?: (s: string) => void, keep?: boolean, seed?: number }} opts
 */

export async function runChaos(opts) {
  const log = opts.log ?? (() => {});
  const build = snapshotBuild();
  const CLI = build.cli;
  const SIM = build.sim;
  const { enqueueTask } = await import(build.queue);
  let seed = opts.seed ?? Date.now() % 2147483647;
  const startSeed = seed;
  const random = () => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const root = mkdtempSync(join(tmpdir(), 'cf-chaos-'));
  const socket = `cf-chaos-${process.pid}-${Math.floor(random() * 1e9).toString(36)}`;
  const manifests = join(root, 'manifests');
  const stateDir = join(root, 'state');
  const queueRoot = join(root, 'projects', 'p', '.agent-queue');
  mkdirSync(manifests, { recursive: true });
  const names = Array.from({ length: opts.sessions }, (_, i) => `c${i + 1}`);
  const simLog = (s) => join(root, `sim-${s}.jsonl`);
  const docs = [
    `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: a\nspec:\n  configDir: ${root}/accounts/a\n`,
    // staleDispatchAfter short: a hook event lost by the agent side cannot hold a task for 2 h.
    `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${root}/projects/p\n  janitor:\n    staleDispatchAfter: ${opts.staleDispatchAfter ?? '30s'}\n`,
    ...names.map((n) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${n}\nspec:\n  project: p\n  command: ${JSON.stringify([SIM, '--dangerously-skip-permissions'])}\n  env:\n    CLAUDE_SIM_LOG: ${JSON.stringify(simLog(n))}\n    CLAUDE_SIM_WORK_MS: "${opts.workMs ?? 50}"\n    CLAUDE_SIM_READ_TASK_FILES: "0"\n    CLAUDE_SIM_IDLE_NOTIFY_MS: "0"\n`),
  ];
  writeFileSync(join(manifests, 'pool.yaml'), docs.join('---\n'));
  loginAccount(join(root, 'accounts', 'a'));

  const kills = [];
  const incarnations = [];
  let current;
  const startDaemon = () => {
    const n = incarnations.length;
    const out = createWriteStream(join(root, `daemon-${n}.log`));
    const child = spawn(process.execPath, [CLI, 'run', '-f', manifests, '--state-dir', stateDir, '--tmux-socket', socket, '--resync', '2s', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    child.stdout.pipe(out);
    child.stderr.pipe(out);
    const inc = { n, pid: child.pid, startedAt: Date.now(), exited: new Promise((r) => child.on('exit', (code, signal) => r({ code, signal }))) };
    incarnations.push(inc);
    current = { child, inc };
    return current;
  };
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 20 * 60_000);
  let report;
  try {
    startDaemon();
    // Wait for the sessions to come up before producing (their startup is not what is measured).
    while (Date.now() < deadline) {
      let status = {};
      try {
        status = JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8'));
      } catch {
        // not yet
      }
      if (names.every((n) => status[`Session/${n}`]?.activity === 'idle')) break;
      await sleep(100);
    }
    const ids = [];
    for (let i = 0; i < opts.tasks; i++) {
      const r = await enqueueTask(queueRoot, { body: `chaos task ${i}: reply with the number ${i}\n`, id: `chaos-${String(i).padStart(5, '0')}` }, { settleMs: 2000, durable: false });
      ids.push(r.id);
    }
    log(`enqueued ${ids.length} tasks; killing the controller ${opts.kills} times`);
    const minGap = opts.minKillGapMs ?? 300;
    const maxGap = opts.maxKillGapMs ?? 2500;
    const doneCount = () => [...locations(queueRoot).values()].filter((s) => s.includes('done')).length;
    while (kills.length < opts.kills && Date.now() < deadline) {
      await sleep(minGap + random() * (maxGap - minGap));
      const { child, inc } = current;
      const at = Date.now();
      child.kill('SIGKILL');
      await inc.exited;
      kills.push({ at, incarnation: inc.n, done: doneCount() });
      // Invariant at every crash: each task in exactly one state directory.
      for (const [id, where] of locations(queueRoot)) if (where.length !== 1) throw new Error(`after kill ${kills.length}: ${id} in ${where.join(', ')}`);
      if (kills.length % 10 === 0) log(`kill ${kills.length}: ${doneCount()}/${ids.length} done`);
      startDaemon();
    }
    while (Date.now() < deadline && doneCount() < ids.length) {
      const failed = [...locations(queueRoot).values()].filter((s) => s.includes('failed')).length;
      if (failed > 0) break;
      await sleep(200);
    }
    const finishedAt = Date.now();
    current.child.kill('SIGTERM');
    await current.inc.exited;

    // ---- verification
    const loc = locations(queueRoot);
    const notOne = [...loc].filter(([, s]) => s.length !== 1).map(([id, s]) => `${id}: ${s.join(',')}`);
    const notDone = ids.filter((id) => !(loc.get(id) ?? []).includes('done'));
    const receipts = [];
    for (const s of names) {
      for (const r of readJsonLines(simLog(s))) {
        if (r.type !== 'received') continue;
        const m = /\[cf-task:([A-Za-z0-9._-]+)\]/.exec(r.preview ?? '');
        if (m) receipts.push({ session: s, taskId: m[1], time: Date.parse(r.time), queued: r.queued === true });
      }
    }
    const turnEnds = new Map(names.map((s) => [s, readJsonLines(simLog(s)).filter((r) => r.type === 'turn-end').map((r) => Date.parse(r.time))]));
    const byTask = new Map();
    for (const r of receipts.sort((a, b) => a.time - b.time)) byTask.set(r.taskId, [...(byTask.get(r.taskId) ?? []), r]);
    const redeliveries = [];
    const overlapping = [];
    for (const [id, rs] of byTask) {
      for (let i = 1; i < rs.length; i++) {
        const a = rs[i - 1];
        const b = rs[i];
        const crash = kills.find((k) => k.at >= a.time - 50 && k.at <= b.time);
        redeliveries.push({ taskId: id, first: new Date(a.time).toISOString(), again: new Date(b.time).toISOString(), sameSession: a.session === b.session, explainedBy: crash ? `kill #${kills.indexOf(crash) + 1} at ${new Date(crash.at).toISOString()}` : null });
        if (a.session !== b.session && !(turnEnds.get(a.session) ?? []).some((t) => t >= a.time && t <= b.time)) overlapping.push(`${id}: ${a.session} and ${b.session}`);
      }
    }
    const never = ids.filter((id) => !byTask.has(id));
    const footers = ids.filter((id) => (loc.get(id) ?? []).includes('done')).map((id) => {
      const t = readFileSync(join(queueRoot, 'done', `${id}.md`), 'utf8');
      return Number(/- attempts: (\d+)\n$/.exec(t)?.[1] ?? 0);
    });
    const requeues = incarnations.flatMap((inc) => readJsonLines(join(root, `daemon-${inc.n}.log`))).filter((l) => l.reason === 'TaskRequeued' || l.reason === 'TaskFailed').map((l) => l.msg);
    const deliveredLogs = incarnations.flatMap((inc) => readJsonLines(join(root, `daemon-${inc.n}.log`))).filter((l) => l.msg === 'prompt delivered');
    report = {
      seed: startSeed,
      tasks: ids.length,
      sessions: names.length,
      kills: kills.length,
      restarts: incarnations.length - 1,
      done: ids.length - notDone.length,
      notDone: notDone.length,
      notInExactlyOneState: notOne,
      neverDelivered: never.length,
      deliveries: receipts.length,
      redeliveries: redeliveries.length,
      unexplainedRedeliveries: redeliveries.filter((r) => r.explainedBy === null),
      redeliveriesToAnotherSession: redeliveries.filter((r) => !r.sameSession).length,
      overlappingDeliveries: overlapping,
      maxAttemptsInFooters: Math.max(0, ...footers),
      tasksWithAttemptsAbove1: footers.filter((n) => n > 1).length,
      controllerDeliveriesLogged: deliveredLogs.length,
      requeues,
      durationMs: finishedAt - started,
      redeliveryDetails: redeliveries.slice(0, 50),
      root,
    };
  } finally {
    try {
      current?.child.kill('SIGKILL');
    } catch {
      // gone
    }
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // no server
    }
    build.remove();
    if (!opts.keep) await removeTree(root);
  }
  return report;
}
