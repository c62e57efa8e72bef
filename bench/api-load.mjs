// Load test of the control plane on loopback (issue 8): autocannon for 20 s against the API of a
// real controller (`run`) with simulator agents, while a quota failover runs; reports p50/p99
// latency and compares the failover time with and without the load.
//
//   npx tsc -p tsconfig.build.json && node bench/api-load.mjs [--duration 20] [--connections 10] [--sessions 4] [--rate N] [--api-rate N]
//
// --rate is the load (autocannon's overall rate; 0 = as fast as answered); --api-rate is the
// controller's admission control (run --api-rate; default 50 as in `run`, 0 = no limit).
//
// Bounded: the load lasts --duration seconds; everything (controller, tmux server, usage server,
// temp dir) is stopped and removed at the end, also on failure.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakeUsageServer } from '../dist/demo/fake-usage-server.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const SIM = join(REPO, 'src', 'sim', 'bin', 'claude');
const { values } = parseArgs({ options: { duration: { type: 'string', default: '20' }, connections: { type: 'string', default: '10' }, sessions: { type: 'string', default: '4' }, rate: { type: 'string', default: '0' }, 'api-rate': { type: 'string', default: '50' } } });
// Requests per second over all connections; 0 = as fast as the server answers.
const RATE = Number(values.rate);
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const SESSIONS = Array.from({ length: Number(values.sessions) }, (_, i) => `s${i + 1}`);

const root = mkdtempSync(join(tmpdir(), 'cf-bench-api-'));
const socket = `cf-bench-${process.pid}`;
const stateDir = join(root, 'state');
const token = (a) => `sk-ant-oat01-bench-${a}`;
let daemon;
let usage;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
}
const readJson = (p, def) => {
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return def;
  }
};
const status = () => readJson(join(stateDir, 'status.json'), {});
const events = () => {
  try {
    return readFileSync(join(stateDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
};
const idleOn = (account) => SESSIONS.every((s) => status()[`Session/${s}`]?.activity === 'idle' && status()[`Session/${s}`]?.account === account);

async function setup() {
  usage = await startFakeUsageServer();
  const docs = [];
  for (const [name, priority] of [['a', 10], ['b', 20]]) {
    const dir = join(root, 'accounts', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: token(name), refreshToken: 'r', expiresAt: Date.now() + 7 * 86_400_000, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
    usage.setWindows(token(name), { fiveHour: 10, sevenDay: 10 });
    docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: ${name}\nspec:\n  configDir: ${dir}\n  priority: ${priority}\n  sharedStateDir: ${join(root, 'shared')}\n  quota:\n    pollInterval: 1s\n    usageEndpoint: ${usage.endpoint}\n`);
  }
  docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${join(root, 'project')}\n`);
  for (const s of SESSIONS) docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${s}\nspec:\n  project: p\n  command: ${JSON.stringify([SIM, '--dangerously-skip-permissions'])}\n  env:\n    CLAUDE_SIM_WORK_MS: "200"\n`);
  mkdirSync(join(root, 'manifests'), { recursive: true });
  writeFileSync(join(root, 'manifests', 'pool.yaml'), docs.join('---\n'));

  daemon = spawn(process.execPath, [CLI, 'run', '-f', join(root, 'manifests'), '--state-dir', stateDir, '--tmux-socket', socket, '--resync', '5s', '--listen', '127.0.0.1:0', '--log-format', 'json', '--log-level', 'warn', '--api-rate', values['api-rate']], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TMUX: '' } });
  await until(() => readJson(join(stateDir, 'control-plane.json'), undefined) !== undefined, 60_000, 'control plane listening');
  await until(() => idleOn('a'), 60_000, 'sessions idle on a');
  return { url: readJson(join(stateDir, 'control-plane.json')).url, apiToken: readFileSync(join(stateDir, 'api-token'), 'utf8').trim() };
}

/** Moves the pool from `from` to `to` by quota and returns the timings (ms). */
async function failover(from, to) {
  const before = events().filter((e) => e.reason === 'FailoverCompleted').length;
  const t0 = Date.now();
  usage.setWindows(token(from), { fiveHour: 95, sevenDay: 10 });
  usage.setWindows(token(to), { fiveHour: 5, sevenDay: 10 });
  await until(() => events().filter((e) => e.reason === 'FailoverCompleted').length > before, 60_000, `failover ${from} -> ${to}`);
  const tDone = Date.now();
  const started = events().filter((e) => e.reason === 'FailoverStarted').at(-1);
  const completed = events().filter((e) => e.reason === 'FailoverCompleted').at(-1);
  await until(() => idleOn(to), 60_000, `sessions idle on ${to}`);
  const tIdle = Date.now();
  return {
    'trigger->decision': Date.parse(started.time) - t0,
    'decision->all relaunched': Date.parse(completed.time) - Date.parse(started.time),
    'trigger->completed': tDone - t0,
    'trigger->all idle': tIdle - t0,
  };
}

function load(url, apiToken) {
  const headers = { authorization: `Bearer ${apiToken}` };
  return autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION,
    ...(RATE > 0 ? { overallRate: RATE } : {}),
    headers,
    requests: [
      { method: 'GET', path: '/api/v1/sessions' },
      { method: 'GET', path: '/api/v1/accounts' },
      { method: 'GET', path: '/watchdog/status' },
      { method: 'GET', path: '/metrics' },
      { method: 'GET', path: '/api/v1/events?limit=50' },
    ],
  });
}

async function main() {
  const { url, apiToken } = await setup();
  console.log(`controller at ${url}; ${SESSIONS.length} simulated sessions; load: ${CONNECTIONS} connections for ${DURATION} s at ${RATE > 0 ? `${RATE} req/s` : 'full speed'} (GET sessions, accounts, watchdog/status, metrics, events); controller --api-rate ${values['api-rate']}`);
  const rows = [];
  // Baseline: two failovers without load (a->b, b->a).
  rows.push({ load: 'none', move: 'a->b', ...(await failover('a', 'b')) });
  await sleep(1500);
  rows.push({ load: 'none', move: 'b->a', ...(await failover('b', 'a')) });
  await sleep(1500);
  // Under load: the same two moves while autocannon runs.
  const running = load(url, apiToken);
  await sleep(3000);
  rows.push({ load: 'api', move: 'a->b', ...(await failover('a', 'b')) });
  await sleep(1500);
  rows.push({ load: 'api', move: 'b->a', ...(await failover('b', 'a')) });
  const r = await running;
  console.log('\nAPI latency under load (ms):');
  console.table([{ requests: r.requests.total, 'req/s': Math.round(r.requests.average), p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx }]);
  console.log('Failover timings (ms), without and with the API load:');
  console.table(rows);
  writeFileSync(join(REPO, '.bench-api-load.json'), JSON.stringify({ latency: r.latency, requests: r.requests, errors: r.errors, non2xx: r.non2xx, failovers: rows }, null, 2));
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${r.non2xx} non-2xx responses and ${r.errors} errors under load`);
}

try {
  await main();
} finally {
  daemon?.kill('SIGTERM');
  await new Promise((r) => (daemon && daemon.exitCode === null ? daemon.once('exit', r) : r()));
  spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  await usage?.close();
  await sleep(300);
  rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}
