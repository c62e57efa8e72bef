#!/usr/bin/env node
// Chaos run (issue 5 acceptance): 1,000 tasks, >= 100 random kill -9 of the controller with
// restarts, simulator agents completing the tasks. Every task must end in done/, in exactly one
// state directory; re-deliveries are counted and each must be explained by a kill.
//
//   npx tsc -p tsconfig.build.json && node bench/chaos.mjs [--tasks 1000] [--kills 100] [--sessions 8] [--work-ms 50]
//     [--min-gap-ms 800] [--max-gap-ms 3500] [--seed N] [--json] [--keep]
//
// Exit code 0 when every check holds, 1 otherwise.
import { runChaos } from './lib/chaos.mjs';

const args = process.argv.slice(2);
const num = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const opts = {
  tasks: num('--tasks', 1000),
  minKillGapMs: num('--min-gap-ms', 800),
  maxKillGapMs: num('--max-gap-ms', 3500),
  kills: num('--kills', 100),
  sessions: num('--sessions', 8),
  workMs: num('--work-ms', 50),
  ...(args.includes('--seed') ? { seed: num('--seed', 1) } : {}),
  keep: args.includes('--keep'),
  timeoutMs: num('--timeout-ms', 30 * 60_000),
  log: (s) => console.error(`[chaos] ${s}`),
};
const r = await runChaos(opts);
const ok = r.notDone === 0 && r.notInExactlyOneState.length === 0 && r.unexplainedRedeliveries.length === 0 && r.overlappingDeliveries.length === 0 && r.kills >= opts.kills;
if (args.includes('--json')) {
  console.log(JSON.stringify({ ok, ...r }, null, 2));
} else {
  console.log(`chaos: ${r.tasks} tasks, ${r.sessions} sessions, ${r.kills} kill -9 of the controller (${r.restarts} restarts), seed ${r.seed}`);
  console.log(`  done ${r.done}/${r.tasks}; not in exactly one state: ${r.notInExactlyOneState.length}; never delivered: ${r.neverDelivered}`);
  console.log(`  deliveries ${r.deliveries}; re-deliveries ${r.redeliveries} (explained by a kill: ${r.redeliveries - r.unexplainedRedeliveries.length}; to another session: ${r.redeliveriesToAnotherSession}); overlapping: ${r.overlappingDeliveries.length}`);
  console.log(`  footers: max attempts ${r.maxAttemptsInFooters}, tasks with attempts > 1: ${r.tasksWithAttemptsAbove1}`);
  console.log(`  wall time ${(r.durationMs / 1000).toFixed(1)} s${opts.keep ? `; kept ${r.root}` : ''}`);
  for (const d of r.redeliveryDetails.slice(0, 20)) console.log(`  re-delivered ${d.taskId}: first ${d.first}, again ${d.again}${d.sameSession ? '' : ' (other session)'} — ${d.explainedBy ?? 'UNEXPLAINED'}`);
  console.log(ok ? 'OK' : 'FAILED');
}
process.exit(ok ? 0 : 1);
