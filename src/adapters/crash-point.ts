/**
 * TEST HOOK — crash points for the crash-point matrix (test/e2e/project-crash.test.ts).
 *
 * `CF_TEST_CRASH_AT=<step>` makes the controller SIGKILL itself when it reaches `<step>`, so a
 * test can restart it and check that nothing was lost or duplicated. Unset (always, outside
 * tests) it costs one environment lookup. The steps of a task's life, in order:
 *
 *   claim.before        before the lease is written (nothing happened yet)
 *   claim.after         lease written and the task renamed into dispatched/, nothing pasted
 *   deliver.pasted      the prompt is pasted, Enter not yet sent
 *   deliver.entered     Enter sent and the pane changed; deliveredAt not yet on the lease
 *   deliver.recorded    deliveredAt recorded on the lease
 *   complete.before     the turn ended; before the finish (intent, footer, rename to done/)
 *   complete.after      the task is in done/ with its footer, lease and intent removed
 *   requeue.before      the delivery ended unfinished; before the requeue
 *   requeue.after       the task is back in inbox/ (or in failed/), lease removed
 *
 * `CF_TEST_CRASH_AT=<step>#<n>` crashes at the n-th time (1-based) the step is reached.
 */

export const CRASH_STEPS = [
  'claim.before',
  'claim.after',
  'deliver.pasted',
  'deliver.entered',
  'deliver.recorded',
  'complete.before',
  'complete.after',
  'requeue.before',
  'requeue.after',
] as const;

export type CrashStep = (typeof CRASH_STEPS)[number];

const reached = new Map<string, number>();

/** SIGKILLs this process when CF_TEST_CRASH_AT names `step` (test hook; see the file comment). */
export function crashPoint(step: CrashStep): void {
  const want = process.env.CF_TEST_CRASH_AT;
  if (want === undefined || want === '') return;
  const [name, nth] = want.split('#');
  if (name !== step) return;
  const n = (reached.get(step) ?? 0) + 1;
  reached.set(step, n);
  if (n < Number(nth ?? '1')) return;
  process.kill(process.pid, 'SIGKILL');
}
