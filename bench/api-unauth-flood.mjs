// Unauthenticated flood against the control plane (docs/api.md, "Errors" and "Admission control"): autocannon opens --connections
// connections WITHOUT a token against a real controller (`run`, default --api-rate 50) on loopback,
// while an authenticated client calls GET /api/v1/sessions every 200 ms. Reports the authenticated
// latency and status codes with and without the flood. Requests without the token must be answered
// 401 at once, before admission control, so they can neither delay nor crowd out (429) the
// authenticated ones.
//
//   npx tsc -p tsconfig.build.json && node bench/api-unauth-flood.mjs [--connections 400] [--duration 12]
//
// Bounded: the flood lasts --duration seconds; the controller, its tmux server, the usage stand-in
// and the temp dir are removed at the end, also on failure.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startFakeUsageServer } from '../dist/demo/fake-usage-server.js';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const { values } = parseArgs({ options: { connections: { type: 'string', default: '400' }, duration: { type: 'string', default: '12' } } });
const CONNECTIONS = Number(values.connections);
const DURATION = Number(values.duration);

const root = mkdtempSync(join(tmpdir(), 'cf-bench-flood-'));
const socket = `cf-bench-flood-${process.pid}`;
const stateDir = join(root, 'state');
let daemon;
let usage;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const readJson = (p) => {
  try {
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return undefined;
  }
};
async function until(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

async function setup() {
  usage = await startFakeUsageServer();
  const dir = join(root, 'accounts', 'a');
  mkdirSync(dir, { recursive: true });
  const token = 'sk-ant-oat01-bench-a';
  writeFileSync(join(dir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: token, expiresAt: Date.now() + 86_400_000 } }), { mode: 0o600 });
  usage.setWindows(token, { fiveHour: 10, sevenDay: 10 });
  mkdirSync(join(root, 'manifests'), { recursive: true });
  writeFileSync(
    join(root, 'manifests', 'pool.yaml'),
    `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: a\nspec:\n  configDir: ${dir}\n  quota:\n    usageEndpoint: ${usage.endpoint}\n---\napiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${join(root, 'project')}\n`,
  );
  daemon = spawn(process.execPath, [CLI, 'run', '-f', join(root, 'manifests'), '--state-dir', stateDir, '--tmux-socket', socket, '--listen', '127.0.0.1:0', '--log-format', 'json', '--log-level', 'error'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TMUX: '' } });
  await until(() => readJson(join(stateDir, 'control-plane.json')) !== undefined, 60_000, 'control plane listening');
  return { url: readJson(join(stateDir, 'control-plane.json')).url, apiToken: readFileSync(join(stateDir, 'api-token'), 'utf8').trim() };
}

/** `n` authenticated calls, one every 200 ms: latencies (ms) and status counts. */
async function authenticated(url, apiToken, n) {
  const ms = [];
  const codes = {};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(`${url}/api/v1/sessions`, { headers: { authorization: `Bearer ${apiToken}` } });
    await r.arrayBuffer();
    ms.push(performance.now() - t0);
    codes[r.status] = (codes[r.status] ?? 0) + 1;
    await sleep(200);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => Math.round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] * 10) / 10;
  return { calls: n, p50: q(0.5), p90: q(0.9), max: q(1), statuses: JSON.stringify(codes) };
}

async function main() {
  const { url, apiToken } = await setup();
  console.log(`controller at ${url} (--api-rate 50); flood: ${CONNECTIONS} connections without a token for ${DURATION} s against GET /api/v1/sessions`);
  const rows = [{ load: 'none', ...(await authenticated(url, apiToken, 20)) }];
  const flood = autocannon({ url: `${url}/api/v1/sessions`, connections: CONNECTIONS, duration: DURATION, timeout: 30 });
  await sleep(3000);
  rows.push({ load: `${CONNECTIONS} unauthenticated connections`, ...(await authenticated(url, apiToken, Math.max(5, Math.floor(((DURATION - 4) * 1000) / 250)))) });
  const f = await flood;
  console.log('Authenticated GET /api/v1/sessions (ms):');
  console.table(rows);
  console.log(`The flood: ${f.requests.total} requests (${Math.round(f.requests.average)}/s), statuses ${JSON.stringify(Object.fromEntries(Object.entries(f.statusCodeStats).map(([k, v]) => [k, v.count])))}, p50 ${f.latency.p50} ms, errors ${f.errors}, timeouts ${f.timeouts}`);
}

try {
  await main();
} finally {
  daemon?.kill('SIGTERM');
  await new Promise((r) => (daemon && daemon.exitCode === null ? daemon.once('exit', r) : r()));
  spawnSync('tmux', ['-L', socket, 'kill-server'], { stdio: 'ignore' });
  await usage?.close();
  rmSync(root, { recursive: true, force: true, maxRetries: 5 });
}
