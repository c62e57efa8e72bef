// Benchmark (issue 3): the observer hooks Claude Code runs after every event.
// 1. Wall time of `claude-failover hook event` and `hook statusline`, side by side with `node -e 0`.
// 2. Hook event -> visible in the controller's status (status.json), through a running `run`.
//    Target: p99 <= 200 ms.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loginAccount } from './lib/login.mjs';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist/cli/main.js');
const N = Number(process.env.BENCH_N ?? 100);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 10) / 10; };

function timeRun(args, input) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const root = mkdtempSync(join(tmpdir(), 'cf-bench-hooks-'));
let daemon;
const socket = `cf-bench-${process.pid}`;
try {
  const state = join(root, 'state');
  const event = JSON.stringify({ session_id: '6f1c2a8e-0000-4000-8000-000000000001', transcript_path: '/tmp/t.jsonl', cwd: '/tmp', hook_event_name: 'UserPromptSubmit', prompt: '[cf-task:bench-1] do it' });
  const status = JSON.stringify({ session_id: '6f1c2a8e-0000-4000-8000-000000000001', rate_limits: { five_hour: { used_percentage: 23.5, resets_at: 1738425600 } } });
  const base = [], ev = [], sl = [];
  for (let i = 0; i < N; i++) {
    base.push(timeRun(['-e', '0']));
    ev.push(timeRun([CLI, 'hook', 'event', '--session', 'b', '--state-dir', state], event));
    sl.push(timeRun([CLI, 'hook', 'statusline', '--session', 'b', '--state-dir', state, '--account', 'a'], status));
  }
  console.table([
    { command: 'node -e 0', p50: pct(base, 50), p99: pct(base, 99) },
    { command: 'hook event', p50: pct(ev, 50), p99: pct(ev, 99), ratioP50: Math.round((pct(ev, 50) / pct(base, 50)) * 100) / 100 },
    { command: 'hook statusline', p50: pct(sl, 50), p99: pct(sl, 99), ratioP50: Math.round((pct(sl, 50) / pct(base, 50)) * 100) / 100 },
  ]);

  // Event -> status latency through a running controller with one simulated session.
  const m = join(root, 'manifests');
  mkdirSync(m);
  writeFileSync(join(m, 'pool.yaml'), `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: ${root}/acc}\n---\napiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: ${root}/proj}\n---\napiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s}\nspec: {project: p, command: ["${join(REPO, 'src/sim/bin/claude')}"]}\n`);
  loginAccount(join(root, 'acc'));
  daemon = spawn(process.execPath, [CLI, 'run', '-f', m, '--state-dir', state, '--tmux-socket', socket, '--listen', 'none', '--log-format', 'json', '--log-level', 'warn'], { stdio: 'ignore' });
  const readStatus = () => { try { return JSON.parse(readFileSync(join(state, 'status.json'), 'utf8'))['Session/s']; } catch { return undefined; } };
  const waitFor = async (pred, ms) => { const end = Date.now() + ms; while (Date.now() < end) { const s = readStatus(); if (s && pred(s)) return true; await new Promise((r) => setTimeout(r, 1)); } return false; };
  if (!(await waitFor((s) => s.activity === 'idle', 30_000))) throw new Error('session never became idle');
  const lat = [];
  const fromAppend = [];
  const lastEventT = () => { const lines = readFileSync(join(state, 'sessions', 's', 'events.jsonl'), 'utf8').trim().split('\n'); return JSON.parse(lines.at(-1)).t; };
  for (let i = 0; i < Math.min(N, 60); i++) {
    const name = i % 2 === 0 ? 'UserPromptSubmit' : 'Stop';
    const want = i % 2 === 0 ? 'working' : 'idle';
    const input = JSON.stringify({ session_id: readStatus().conversationId, cwd: '/tmp', hook_event_name: name, ...(name === 'UserPromptSubmit' ? { prompt: `[cf-task:lat-${i}] x` } : {}) });
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, 'hook', 'event', '--session', 's', '--state-dir', state], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(input);
    const ok = await waitFor((s) => s.activity === want, 5_000);
    if (!ok) throw new Error(`status never showed ${want}`);
    lat.push(performance.now() - t0);
    fromAppend.push(Date.now() - lastEventT());
  }
  daemon.kill('SIGTERM');
  await new Promise((r) => daemon.on('exit', r));
  daemon = undefined;
  console.table([
    { measure: 'hook start -> status.json shows it (incl. the hook process start-up)', n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99) },
    { measure: 'event appended -> status.json shows it (the controller)', n: fromAppend.length, p50: pct(fromAppend, 50), p99: pct(fromAppend, 99) },
  ]);
  console.log(`target p99 <= 200 ms (event appended -> visible): ${pct(fromAppend, 99) <= 200 ? 'met' : 'NOT met'}`);
  console.log(JSON.stringify({ bench: 'hooks', hookEvent: { p50: pct(ev, 50), p99: pct(ev, 99) }, statusline: { p50: pct(sl, 50), p99: pct(sl, 99) }, nodeE0: { p50: pct(base, 50), p99: pct(base, 99) }, eventToStatus: { p50: pct(lat, 50), p99: pct(lat, 99) }, appendToStatus: { p50: pct(fromAppend, 50), p99: pct(fromAppend, 99) } }));
} finally {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  spawnSync('tmux', ['-L', socket, 'kill-server']);
  rmSync(root, { recursive: true, force: true });
}
