// Benchmark (issue 2): `reconcile --once --dry-run` on a generated fleet.
// Full size: 20 accounts, 200 sessions, 50 projects, 10,000 queued task files; also 1/4 of it.
// Reports wall time and peak RSS per run (median of 5). Target: full size <= 2 s and <= 200 MB.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateFleet } from './fleet.mjs';

const REPO = resolve(import.meta.dirname, '..');
const CLI = join(REPO, 'dist/cli/main.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function measure(manifests, stateDir) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', join(REPO, 'bench/report-rss.mjs'), CLI, 'reconcile', '--once', '--dry-run', '--detailed-exitcode', '-o', 'json', '-f', manifests, '--state-dir', stateDir, '--tmux-socket', `cf-bench-${process.pid}`], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 2) throw new Error(`dry-run exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
  const rss = Number(/__BENCH_MAXRSS_KB=(\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
  const plan = JSON.parse(r.stdout);
  return { ms, rss, changes: plan.changes.length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sizes = [
  { label: '1/4', accounts: 5, sessions: 50, projects: 13, tasks: 2_500 },
  { label: 'full', accounts: 20, sessions: 200, projects: 50, tasks: 10_000 },
];
const results = [];
for (const size of sizes) {
  const root = mkdtempSync(join(tmpdir(), 'cf-bench-fleet-'));
  try {
    const manifests = generateFleet(root, size);
    measure(manifests, join(root, 'state')); // warm the page cache
    const runs = Array.from({ length: RUNS }, () => measure(manifests, join(root, 'state')));
    results.push({ size: size.label, accounts: size.accounts, sessions: size.sessions, projects: size.projects, tasks: size.tasks, wallMs: Math.round(median(runs.map((r) => r.ms))), peakRssMB: Math.round(median(runs.map((r) => r.rss))), changes: runs[0].changes });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
console.table(results);
const full = results.find((r) => r.size === 'full');
const quarter = results.find((r) => r.size === '1/4');
console.log(`growth 1/4 -> full: wall x${(full.wallMs / quarter.wallMs).toFixed(2)}, RSS x${(full.peakRssMB / quarter.peakRssMB).toFixed(2)}`);
console.log(`target: <= 2000 ms and <= 200 MB at full size: ${full.wallMs <= 2000 && full.peakRssMB <= 200 ? 'met' : 'NOT met'}`);
console.log(JSON.stringify({ bench: 'dry-run', results }));
