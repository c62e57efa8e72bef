#!/usr/bin/env node
// Benchmark: wall time of the safety guard's PreToolUse hook vs `node -e 0`, side by side in one run.
//
//   npm run build && node bench/guard-hook.mjs [--runs 200] [--json] [--dist DIR] [--quick] [--worst-runs 10] [--no-worst]
//
// Every round runs each variant once, in a rotating order (interleaved), each as a fresh process fed
// the same kind of PreToolUse JSON on stdin that Claude Code sends. The audit log is written (to a temp
// state dir), exactly as in production. Reports p50/p90/p99/mean per variant and the ratio of each
// variant's median to the median of `node -e 0`; on Linux also the mean CPU time of the child (user +
// system, from this process's cutime/cstime in /proc/self/stat: 10 ms ticks, so the mean, not the
// median) and its ratio to `node -e 0`'s, which the load of other processes on a shared machine
// disturbs much less than wall time.
//
// Variants: the bundled entry dist/guard/guard-hook.cjs (what deployGuard deploys), the ES module entry
// dist/cli/guard-hook.js (the fallback; the state before the bundle), the launcher script, WASM parser.
// --dist DIR benchmarks a copy of dist/ (others may rebuild dist/ while this runs; the copy needs
// node_modules next to it, e.g. a symlink). --quick: only node -e 0 and the bundled Write/Bash variants.
//
// Worst-case inputs (after the table; --no-worst skips them): commands up to the size limit built to
// be slow to judge (51,000 `;`-separated commands, 20,000 `x=$(true)`, parser error recovery, deep
// nesting, exponential function calls, nested loops, pattern operators, huge inline programs, …),
// each run --worst-runs times through the launcher as deployed. Reports the verdict and the p50/max
// wall time of the whole hook process (and its CPU time); the target is an answer within 500 ms for
// every input.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const argvAll = process.argv.slice(2);
const dist = argvAll.includes('--dist') ? resolve(argvAll[argvAll.indexOf('--dist') + 1]) : join(root, 'dist');
const moduleHook = join(dist, 'cli', 'guard-hook.js');
const hook = join(dist, 'guard', 'guard-hook.cjs');
for (const f of [hook, join(dist, 'guard', 'guard-hook.bundle.cjs'), moduleHook]) {
  if (!existsSync(f)) {
    console.error(`missing ${f}: run npm run build first`);
    process.exit(1);
  }
}
if (!existsSync(join(dist, 'guard', 'guard-hook.cache'))) console.error('note: no code cache (dist/guard/guard-hook.cache); the bundle runs without it');
// The node flags the code cache was made with, as deployGuard writes them into the launcher.
const manifest = join(dist, 'guard', 'guard-hook.json');
const nodeFlags = existsSync(manifest) ? JSON.parse(readFileSync(manifest, 'utf8')).nodeFlags ?? [] : [];
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 200;
const asJson = args.includes('--json');

const loadBefore = os.loadavg().map((x) => x.toFixed(1)).join(' ');
const state = mkdtempSync(join(tmpdir(), 'cf-guard-bench-'));
const launcher = join(state, 'claude-failover-guard');
writeFileSync(launcher, `#!/bin/sh\n'${process.execPath}' ${nodeFlags.map((f) => `'${f}' `).join('')}'${hook}' --session bench --state-dir '${state}' --mode enforce\ncode=$?\n[ "$code" -eq 0 ] && exit 0\nexit 2\n`);
chmodSync(launcher, 0o555);

const call = (tool, input) => JSON.stringify({
  session_id: '00000000-0000-0000-0000-000000000000', transcript_path: '/tmp/t.jsonl', cwd: root, permission_mode: 'bypassPermissions',
  hook_event_name: 'PreToolUse', tool_name: tool, tool_input: input, tool_use_id: 'toolu_bench',
});
const inputs = {
  write: call('Write', { file_path: join(root, 'src', 'x.ts'), content: 'export const x = 1;\n'.repeat(50) }),
  bashSimple: call('Bash', { command: 'ls -la', description: 'list' }),
  bashTypical: call('Bash', { command: 'cd src && grep -rn "TODO" . | head -20 && npm test -- --run 2>&1 | tail -5', description: 'typical' }),
  bashDeny: call('Bash', { command: 'FOO=1 sudo env rm -rf "$HOME"', description: 'deny' }),
  read: call('Read', { file_path: join(root, 'README.md') }),
};
const flags = ['--session', 'bench', '--state-dir', state, '--mode', 'enforce'];
const hookArgs = [...nodeFlags, hook, ...flags];
const moduleArgs = [moduleHook, ...flags];
const quick = args.includes('--quick');
const variants = [
  { name: 'node -e 0', cmd: process.execPath, argv: ['-e', '0'], input: inputs.bashSimple },
  { name: 'hook Write', cmd: process.execPath, argv: hookArgs, input: inputs.write, expect: 0 },
  { name: 'hook Bash "ls -la"', cmd: process.execPath, argv: hookArgs, input: inputs.bashSimple, expect: 0 },
  { name: 'hook Bash typical pipeline', cmd: process.execPath, argv: hookArgs, input: inputs.bashTypical, expect: 0 },
  { name: 'hook Bash deny', cmd: process.execPath, argv: hookArgs, input: inputs.bashDeny, expect: 2 },
  { name: 'launcher script, Bash typical', cmd: launcher, argv: [], input: inputs.bashTypical, expect: 0 },
  ...(quick ? [] : [
    { name: 'hook Read', cmd: process.execPath, argv: hookArgs, input: inputs.read, expect: 0 },
    { name: 'module entry, Write', cmd: process.execPath, argv: moduleArgs, input: inputs.write, expect: 0 },
    { name: 'module entry, Bash typical', cmd: process.execPath, argv: moduleArgs, input: inputs.bashTypical, expect: 0 },
    { name: 'hook Bash typical, WASM parser', cmd: process.execPath, argv: [...hookArgs, '--parser', 'wasm'], input: inputs.bashTypical, expect: 0 },
  ]),
];

/** CPU ms of this process's waited-for children so far (Linux), else null. */
const childCpuMs = () => {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields 16 and 17 of stat(5) (cutime, cstime), counted from field 3 after the command name
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100;
  } catch {
    return null;
  }
};
/** Runs cmd once; wall ms, child CPU ms (null where unknown), the result. */
const timed = (cmd, argv, input) => {
  const c0 = childCpuMs();
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { input, stdio: ['pipe', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const c1 = childCpuMs();
  return { ms, cpu: c0 === null || c1 === null ? null : c1 - c0, r };
};
const times = variants.map(() => []);
const cpus = variants.map(() => []);
const once = (v, j) => {
  const { ms, cpu, r } = timed(v.cmd, v.argv, v.input);
  if (v.expect !== undefined && r.status !== v.expect) throw new Error(`${v.name}: exit ${r.status}, expected ${v.expect}: ${r.stderr}`);
  if (j !== undefined && cpu !== null) cpus[j].push(cpu);
  return ms;
};
// warm-up (page cache), not measured
for (const v of variants) once(v);
for (let i = 0; i < runs; i++) {
  for (let k = 0; k < variants.length; k++) {
    const j = (i + k) % variants.length;
    times[j].push(once(variants[j], j));
  }
}

// ---- worst-case inputs
const LIMIT = 262144;
const fill = (unit, max = LIMIT - 16) => unit.repeat(Math.floor(max / unit.length));
const fns = Array.from({ length: 30 }, (_, i) => (i === 0 ? 'f0() { :; }' : `f${i}() { f${i - 1}; f${i - 1}; }`)).join('; ') + '; f29';
const worstInputs = {
  '51,000 `true;` (255 KB)': 'true;'.repeat(51_000),
  '20,000 `x=$(true);` (200 KB)': 'x=$(true);'.repeat(20_000),
  '6,000 `true;` (24k syntax nodes, under the limit)': 'true;'.repeat(6_000),
  'quoted here-doc of 256 KB (allowed)': `cat > big.c <<'EOF'\n${fill('int x = 1; /* $(y) && z */\n', LIMIT - 64)}EOF`,
  'unquoted here-doc of 256 KB full of expansions': `cat > big.c <<EOF\n${fill('a $x b ${y} c\n', LIMIT - 64)}EOF`,
  '5,000 nested $(': `echo ${'$('.repeat(5000)}x${')'.repeat(5000)}`,
  'parser error recovery, 256 KB of "$("': fill('"$("'),
  'one 256 KB word (allowed)': `echo ${fill('a')}`,
  '256 KB of brace expansions': `echo ${fill('{a,b}')}`,
  '30 functions calling the previous twice (2^30 calls)': fns,
  '6 nested loops of 16 values': Array(6).fill('for a in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do').join(' ') + ' rm -rf "$a"; ' + Array(6).fill('done').join('; '),
  'perl -e with 128 KB of `open `': `perl -e '${fill('open ', 128 * 1024 - 32)}'`,
  'python3 -c with 128 KB of file writes': `python3 -c '${fill('open("a/b","w");', 128 * 1024 - 32)}'`,
  'rm -rf of a 200 KB glob': `rm -rf /${fill('*a', 200_000)}`,
  '2,000 ${x%%*a*a*a*b} on a 250-char value': `x=${'a'.repeat(250)}; echo ${'${x%%*a*a*a*b}'.repeat(2000)}`,
};
const worstRuns = argvAll.includes('--worst-runs') ? Number(argvAll[argvAll.indexOf('--worst-runs') + 1]) : 10;
const worstRows = [];
if (!argvAll.includes('--no-worst')) {
  const entries = Object.entries(worstInputs).map(([name, command]) => ({ name, input: call('Bash', { command }), times: [], cpus: [], codes: new Set() }));
  for (let i = 0; i < worstRuns; i++) {
    for (const e of entries) {
      const { ms, cpu, r } = timed(launcher, [], e.input);
      e.times.push(ms);
      if (cpu !== null) e.cpus.push(cpu);
      const rule = /\[([a-z-]+)\]/.exec(r.stderr.toString())?.[1];
      e.codes.add(r.status === 0 ? 'allow' : r.status === 2 ? `deny ${rule ?? '?'}` : `exit ${r.status}`);
    }
  }
  for (const e of entries) {
    const s = [...e.times].sort((a, b) => a - b);
    const c = [...e.cpus].sort((a, b) => a - b);
    worstRows.push({
      input: e.name, chars: JSON.parse(e.input).tool_input.command.length, verdict: [...e.codes].join(', '), p50: +s[Math.floor(s.length / 2)].toFixed(1), max: +s[s.length - 1].toFixed(1),
      cpuP50: c.length > 0 ? c[Math.floor(c.length / 2)] : null, cpuMax: c.length > 0 ? c[c.length - 1] : null,
    });
  }
}
rmSync(state, { recursive: true, force: true });

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const base = q(times[0], 0.5);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const cpuBase = cpus[0].length > 0 ? mean(cpus[0]) : null;
const rows = variants.map((v, j) => ({
  variant: v.name,
  p50: +q(times[j], 0.5).toFixed(1),
  p90: +q(times[j], 0.9).toFixed(1),
  p99: +q(times[j], 0.99).toFixed(1),
  mean: +(times[j].reduce((a, b) => a + b, 0) / times[j].length).toFixed(1),
  ratioP50: +(q(times[j], 0.5) / base).toFixed(3),
  cpuMean: cpus[j].length > 0 ? +mean(cpus[j]).toFixed(1) : null,
  cpuRatioMean: cpuBase && cpus[j].length > 0 ? +(mean(cpus[j]) / cpuBase).toFixed(3) : null,
}));
const worstOk = worstRows.every((r) => r.max <= 500);
if (asJson) {
  console.log(JSON.stringify({ node: process.version, runs, loadBefore, loadAfter: os.loadavg(), rows, worst: worstRows, worstWithin500ms: worstOk }, null, 2));
} else {
  console.log(`guard hook vs node -e 0 — ${runs} interleaved runs each, node ${process.version}, ${process.platform}/${process.arch}, load average ${loadBefore} -> ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log(`${'variant'.padEnd(34)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'mean ms'.padStart(8)} ${'p50/node'.padStart(9)} ${'CPU mean'.padStart(9)} ${'CPU/node'.padStart(9)}`);
  for (const r of rows) console.log(`${r.variant.padEnd(34)} ${String(r.p50).padStart(8)} ${String(r.p90).padStart(8)} ${String(r.p99).padStart(8)} ${String(r.mean).padStart(8)} ${r.ratioP50.toFixed(2).padStart(8)}x ${String(r.cpuMean ?? '-').padStart(9)} ${(r.cpuRatioMean === null ? '-' : `${r.cpuRatioMean.toFixed(2)}x`).padStart(9)}`);
  console.log('target: p50 of the hook <= 1.25x p50 of node -e 0');
  if (worstRows.length > 0) {
    console.log(`\nworst-case inputs through the launcher (${worstRuns} runs each; the whole hook process, node start-up included)`);
    console.log(`${'input'.padEnd(52)} ${'chars'.padStart(7)} ${'verdict'.padEnd(24)} ${'p50 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'CPU p50'.padStart(8)} ${'CPU max'.padStart(8)}`);
    for (const r of worstRows) console.log(`${r.input.padEnd(52)} ${String(r.chars).padStart(7)} ${r.verdict.padEnd(24)} ${String(r.p50).padStart(8)} ${String(r.max).padStart(8)} ${String(r.cpuP50 ?? '-').padStart(8)} ${String(r.cpuMax ?? '-').padStart(8)}`);
    console.log(`target: every input answered within 500 ms: ${worstOk ? 'yes' : 'NO'} (load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  }
}
