#!/usr/bin/env node
// Benchmark of the Project controller's dispatch (issue 5 acceptance), against a real
// `claude-failover run`, a private tmux server and simulator sessions:
//
// 1. latency: a task file renamed into inbox/ (producer rule 1) → the controller starts pasting it
//    into an idle pane (`pasteStartedAt` of the "prompt delivered" log line). One task at a time,
//    every session idle. p50/p90/p99/max. Target p50 <= 50 ms.
// 2. throughput: 50 idle sessions, `--tasks` tasks renamed in at once: time until every session
//    got its first task (fan-out), deliveries per second during it, and time until all are done.
//
//   npx tsc -p tsconfig.build.json && node bench/dispatch.mjs [--samples 40] [--sessions 50] [--tasks 200] [--json]
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree, snapshotBuild } from './lib/chaos.mjs';
import { loginAccount } from './lib/login.mjs';

const args = process.argv.slice(2);
const num = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const SAMPLES = num('--samples', 40);
const SESSIONS = num('--sessions', 50);
const TASKS = num('--tasks', 200);
const asJson = args.includes('--json');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s) => process.stderr.write(`[dispatch] ${s}\n`);

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

function jsonLines(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

async function withPool(sessions, workMs, fn) {
  const build = snapshotBuild();
  const root = mkdtempSync(join(tmpdir(), 'cf-dispatch-'));
  const socket = `cf-dispatch-${process.pid}-${sessions}`;
  const manifests = join(root, 'manifests');
  const stateDir = join(root, 'state');
  const queueRoot = join(root, 'projects', 'p', '.agent-queue');
  mkdirSync(manifests, { recursive: true });
  const names = Array.from({ length: sessions }, (_, i) => `b${i + 1}`);
  writeFileSync(join(manifests, 'pool.yaml'), [
    `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: a\nspec:\n  configDir: ${root}/accounts/a\n`,
    `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${root}/projects/p\n`,
    ...names.map((n) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${n}\nspec:\n  project: p\n  command: ${JSON.stringify([build.sim, '--dangerously-skip-permissions'])}\n  env:\n    CLAUDE_SIM_WORK_MS: "${workMs}"\n    CLAUDE_SIM_READ_TASK_FILES: "0"\n    CLAUDE_SIM_IDLE_NOTIFY_MS: "0"\n`),
  ].join('---\n'));
  loginAccount(join(root, 'accounts', 'a'));
  const logFile = join(root, 'daemon.log');
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, [build.cli, 'run', '-f', manifests, '--state-dir', stateDir, '--tmux-socket', socket, '--resync', '15s', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const exited = new Promise((r) => child.on('exit', r));
  const status = () => {
    try {
      return JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8'));
    } catch {
      return {};
    }
  };
  const allIdle = () => {
    const s = status();
    return names.every((n) => s[`Session/${n}`]?.activity === 'idle');
  };
  const done = () => {
    try {
      return readdirSync(join(queueRoot, 'done')).filter((n) => n.endsWith('.md')).length;
    } catch {
      return 0;
    }
  };
  /** Producer rule 1: write in .tmp/, backdate past the settle window, rename into inbox/. Returns the rename time. */
  const produce = (id, body) => {
    mkdirSync(join(queueRoot, '.tmp'), { recursive: true });
    const tmp = join(queueRoot, '.tmp', `${id}.md.part`);
    writeFileSync(tmp, body);
    const past = new Date(Date.now() - 60_000);
    utimesSync(tmp, past, past);
    const t = Date.now();
    renameSync(tmp, join(queueRoot, 'inbox', `${id}.md`));
    return t;
  };
  const delivered = () => jsonLines(logFile).filter((l) => l.msg === 'prompt delivered');
  try {
    const start = Date.now();
    while (!allIdle()) {
      if (Date.now() - start > 180_000) throw new Error('sessions did not become idle');
      await sleep(200);
    }
    // Let the first passes after start settle (queue dirs exist, session status fresh).
    await sleep(1500);
    return await fn({ produce, delivered, done, allIdle, names });
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    try {
      execFileSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // none
    }
    build.remove();
    await removeTree(root);
  }
}

// ---- 1. latency
say(`latency: ${SAMPLES} samples, 2 idle sessions`);
const latency = await withPool(2, 0, async ({ produce, delivered, done, allIdle }) => {
  const out = [];
  for (let i = 0; i < SAMPLES; i++) {
    const id = `lat-${String(i).padStart(4, '0')}`;
    const before = done();
    const t0 = produce(id, `latency sample ${i}\n`);
    let hit;
    const end = Date.now() + 15_000;
    while (!hit && Date.now() < end) {
      await sleep(20);
      hit = delivered().find((l) => l.taskId === id);
    }
    if (!hit) throw new Error(`sample ${id} was not delivered`);
    out.push(hit.pasteStartedAt - t0);
    while (done() <= before || !allIdle()) await sleep(20);
    await sleep(400); // idle settle: the session is eligible again
  }
  return out;
});

// ---- 2. throughput with SESSIONS sessions
say(`throughput: ${SESSIONS} sessions, ${TASKS} tasks`);
const throughput = await withPool(SESSIONS, 1000, async ({ produce, delivered, done, names }) => {
  const t0 = Date.now();
  for (let i = 0; i < TASKS; i++) produce(`tp-${String(i).padStart(5, '0')}`, `throughput task ${i}\n`);
  const produced = Date.now();
  let fanOut;
  const end = Date.now() + 20 * 60_000;
  while (Date.now() < end) {
    const d = delivered();
    const sessions = new Set(d.map((l) => l.session));
    if (fanOut === undefined && sessions.size >= names.length) {
      const times = d.map((l) => l.pasteStartedAt).sort((a, b) => a - b);
      fanOut = { ms: times[names.length - 1] - t0, firstPasteMs: times[0] - t0 };
    }
    if (done() >= TASKS) break;
    await sleep(100);
  }
  const all = Date.now() - t0;
  const d = delivered();
  const pastes = d.map((l) => l.pasteStartedAt).sort((a, b) => a - b);
  const firstSecond = pastes.filter((t) => t - t0 <= 1000).length;
  return { produceMs: produced - t0, fanOut, deliveries: d.length, deliveriesInFirstSecond: firstSecond, allDoneMs: all, done: done() };
});

const report = {
  latencyMs: { samples: latency.length, p50: pct(latency, 50), p90: pct(latency, 90), p99: pct(latency, 99), max: Math.max(...latency), min: Math.min(...latency) },
  throughput: { sessions: SESSIONS, tasks: TASKS, workMsPerTurn: 1000, ...throughput, tasksPerSecond: throughput.done / (throughput.allDoneMs / 1000) },
};
if (asJson) console.log(JSON.stringify(report, null, 2));
else {
  const l = report.latencyMs;
  console.log(`inbox rename → paste starts (idle pane, ${l.samples} samples): p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, min ${l.min} ms, max ${l.max} ms (target p50 <= 50 ms: ${l.p50 <= 50 ? 'met' : 'NOT met'})`);
  const t = report.throughput;
  console.log(`dispatch with ${t.sessions} sessions, ${t.tasks} tasks (turns of ${t.workMsPerTurn} ms): first paste after ${t.fanOut?.firstPasteMs} ms, every session busy after ${t.fanOut?.ms} ms, ${t.deliveriesInFirstSecond} pastes in the first second; all ${t.done} done in ${(t.allDoneMs / 1000).toFixed(1)} s (${t.tasksPerSecond.toFixed(1)} tasks/s)`);
}
