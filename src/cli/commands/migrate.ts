/**
 * `claude-failover migrate --from-go`: carries the Go system's work in flight over to claude-failover
 * (dry-run by default, `--apply` to act), and reports what it cannot carry over and what is left to
 * do by hand. Pure planning: src/core/go-migration.ts; reading and applying: src/adapters/go-migration.ts.
 */
import { existsSync } from 'node:fs';
import { formatDiagnostic } from '../../api/objects.js';
import { acquireInstanceLock } from '../../adapters/instance-lock.js';
import { applyGoStep, foreignHookNotes, observeGoQueues, oldAgentNotes, sharedDirNotes, type GoNote } from '../../adapters/go-migration.js';
import { loadManifests, toDesired } from '../../adapters/manifest-files.js';
import { FileStateStore } from '../../adapters/state-store.js';
import { poolStatus } from '../../core/status.js';
import { COMPAT_HELP, SECUTOOLS_KEY_ENV, withCompat } from '../../core/compat.js';
import type { StatusMap } from '../../core/controller.js';
import { errorMessage, UsageError } from '../../core/errors.js';
import { planGoMigration, type MigrationLeftover, type MigrationStep } from '../../core/go-migration.js';
import { STATUS_RECORD } from '../../runtime/manager.js';
import { COMMON, oneOf, parse, requireFiles, stateDirOf } from '../args.js';
import { COMPAT_OPTION, compatFrom } from '../compat.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover migrate --from-go -f PATH... [--apply] [--state-dir DIR] [--go-tmux-socket NAME]
                                [--compat LIST] [--no-job-api] [--detailed-exitcode] [-o text|json]

Carries the Go system's work in flight over to claude-failover, for the projects of the manifests.
Without --apply it only reports (like reconcile --dry-run): nothing is changed.

In each project's queue (<path>/<queueDir>: the root, inbox/, dispatched/, delegated/, ...):
  <task>.md.delegated  (or <task>.delegated)   a task the Go system submitted to the job API:
      becomes a job record (jobs/<task>.json, state submitted) with the task in delegated/; the
      DelegationPolicy controller then polls the job and finishes the task. The job is the one the
      marker names, else the one the job API knows for the task id (GET /v1/jobs?task_id=).
  <task>.md.dispatched (or <task>.dispatched)  a task the Go system handed to an agent:
      naming a Session of the project, it becomes a lease for that session (the task in
      dispatched/, delivered to the session once it is idle); otherwise the task goes back to
      inbox/ and is delivered again (at-least-once; last_error says why).
  A marker is a small record (JSON, "key: value" lines, or just the job id / session), empty, or
  the task's own text; one whose content is unknown is imported by its name (the task id).
  A marker of a task already in done/ or failed/ is removed. Anything else is left in place and
  listed under "Not carried over", with what to do.

Also reported (changed by other commands, or by you): account homes with real todos/,
shell-snapshots/, ... directories (next command: account link NAME --adopt), hooks in a project's
.claude/hooks/ that claude-failover did not install, Go agents still running on the old tmux
server, SECUTOOLS_API_KEY set without a delegation policy.

Run it before starting the controller (with --apply it refuses while a controller holds the state
dir); it can be re-run: a step cut short is finished by the next run.

Options:
      --from-go              Migrate from the Go system (the only source)
  -f, --filename PATH        Manifests (or CLAUDE_FAILOVER_MANIFESTS)
      --apply                Carry over (default: report only)
      --state-dir DIR        The controller's state dir (its lock; the active account for leases)
      --go-tmux-socket NAME  The Go system's tmux server (-L NAME or a socket path; default: the
                             default server) to look for old agents on
      --no-job-api           Do not ask the job API (delegated tasks are then not carried over)
      --detailed-exitcode    Without --apply: exit 2 when there is something to carry over
  -o, --output FORMAT        text (default) or json
${COMPAT_HELP}

Exit codes: 0 done (or nothing to do), 1 error or a step that failed, 2 (with --detailed-exitcode,
            without --apply) something to carry over.

Examples:
  claude-failover migrate --from-go -f manifests/
  claude-failover migrate --from-go -f manifests/ --apply
  SECUTOOLS_API_KEY=… SECUTOOLS_API_URL=https://secutools.internal/api \\
    claude-failover migrate --from-go -f manifests/ --compat secutools-key --apply
`;

interface Values {
  help?: boolean;
  filename?: string[];
  'from-go'?: boolean;
  apply?: boolean;
  'state-dir'?: string;
  'go-tmux-socket'?: string;
  'no-job-api'?: boolean;
  'detailed-exitcode'?: boolean;
  output?: string;
  compat?: string[];
}

const SYMBOL: Record<MigrationStep['type'], string> = { delegation: '+', lease: '+', requeue: '~', dropMarker: '-' };

export async function migrateCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, {
    filename: COMMON.filename,
    'from-go': { type: 'boolean' },
    apply: { type: 'boolean' },
    'state-dir': COMMON['state-dir'],
    'go-tmux-socket': { type: 'string' },
    'no-job-api': { type: 'boolean' },
    'detailed-exitcode': { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    ...COMPAT_OPTION,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  if (!values['from-go']) throw new UsageError('say where from: --from-go (the Go system) is the one source migrate knows');
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  const files = requireFiles(values.filename, io);
  const loaded = await loadManifests(files, { displayBase: io.cwd, gitRevision: false });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) io.stderr.write(`${formatDiagnostic(d)}\n`);
    io.stderr.write(`\n${errors.length} problem(s) in the manifests; nothing was looked at.\n`);
    return 1;
  }
  const compat = compatFrom(values, io.env);
  const desired = withCompat(toDesired(loaded), compat);
  const stateDir = stateDirOf(values['state-dir'], io);
  const status = existsSync(stateDir) ? ((await new FileStateStore(stateDir, { readOnly: true }).read<StatusMap>(STATUS_RECORD).catch(() => undefined)) ?? {}) : {};
  const active = poolStatus(status)?.activeAccount;
  const now = Date.now();
  const { input, missingQueues } = await observeGoQueues(desired, { env: io.env, now, jobApi: !values['no-job-api'], ...(typeof active === 'string' ? { activeAccount: active } : {}) });
  const plan = planGoMigration(input);
  const fileArgs = files.map((f) => `-f ${f}`).join(' ');
  const goSocket = values['go-tmux-socket'];
  const notes: GoNote[] = [
    ...(await sharedDirNotes(desired, fileArgs)),
    ...(await foreignHookNotes(desired)),
    ...(await oldAgentNotes(desired, goSocket === undefined ? [] : goSocket.includes('/') ? ['-S', goSocket] : ['-L', goSocket], io.env)),
  ];
  if (io.env[SECUTOOLS_KEY_ENV] && !compat.switches.has('secutools-key')) {
    const without = desired.projects.filter((p) => !p.spec.delegationPolicy).map((p) => p.metadata.name);
    if (without.length > 0) notes.push({ what: `${SECUTOOLS_KEY_ENV} is set, but it no longer turns delegation on by itself: projects ${without.join(', ')} have no DelegationPolicy`, todo: `declare a DelegationPolicy (docs/delegation-api.md), or run the controller (and this command) with --compat secutools-key and SECUTOOLS_API_URL set` });
  }

  const results = new Map<MigrationStep, string | undefined>();
  if (values.apply && plan.steps.length > 0) {
    const lock = existsSync(stateDir) ? await acquireInstanceLock(stateDir) : undefined;
    try {
      for (const s of plan.steps) {
        try {
          await applyGoStep(s);
          results.set(s, undefined);
        } catch (err) {
          results.set(s, errorMessage(err));
        }
      }
    } finally {
      await lock?.release();
    }
  }
  const failed = [...results.values()].filter((x) => x !== undefined).length;
  const carry = plan.steps.filter((s) => s.type !== 'dropMarker').length;

  if (output === 'json') {
    io.stdout.write(`${JSON.stringify({
      applied: values.apply === true,
      steps: plan.steps.map((s) => ({ type: s.type, project: s.project, taskId: s.taskId, marker: s.marker, summary: s.summary, ...(values.apply ? { result: results.get(s) ?? 'done' } : {}) })),
      notCarriedOver: plan.leftovers,
      toDo: notes,
      missingQueues,
    }, null, 2)}\n`);
  } else {
    io.stdout.write(`migrate --from-go${values.apply ? '' : ' (dry-run: nothing is changed; --apply carries it over)'}\n`);
    if (compat.switches.size > 0) io.stdout.write(`compatibility switches: ${[...compat.switches].join(', ')}\n`);
    const byProject = new Map<string, MigrationStep[]>();
    for (const s of plan.steps) byProject.set(s.project, [...(byProject.get(s.project) ?? []), s]);
    for (const p of input.projects) {
      const steps = byProject.get(p.name) ?? [];
      if (steps.length === 0) continue;
      io.stdout.write(`\nProject ${p.name} (${p.root}):\n`);
      for (const s of steps) {
        const r = results.get(s);
        io.stdout.write(`  ${SYMBOL[s.type]} ${s.summary}${values.apply ? (r === undefined ? '  [done]' : `  [FAILED: ${r}]`) : ''}\n      marker ${rel(p.root, s.marker)}\n`);
      }
    }
    if (plan.leftovers.length > 0) {
      io.stdout.write('\nNot carried over (left in place):\n');
      for (const l of plan.leftovers) io.stdout.write(leftoverText(l));
    }
    if (notes.length > 0) {
      io.stdout.write('\nTo do (by hand or with the command shown):\n');
      for (const n of notes) io.stdout.write(`  * ${n.what}\n      -> ${n.todo}\n`);
    }
    for (const q of missingQueues) io.stdout.write(`\n(no queue at ${q}: nothing to carry over there)\n`);
    const stale = plan.steps.length - carry;
    io.stdout.write(`\n${values.apply ? 'Migrated' : 'Plan'}: ${carry} task(s) to carry over${stale ? `, ${stale} stale marker(s) to remove` : ''}, ${plan.leftovers.length} not carried over, ${notes.length} to do by hand${values.apply && failed > 0 ? `; ${failed} step(s) FAILED (see above; the markers are still there: fix and run again)` : ''}.\n`);
  }
  if (failed > 0) return 1;
  if (!values.apply && values['detailed-exitcode'] && plan.steps.length > 0) return 2;
  return 0;
}

function rel(root: string, p: string): string {
  return p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p;
}

function leftoverText(l: MigrationLeftover): string {
  return `  ! ${l.project}: ${l.what}\n      ${l.path}\n      -> ${l.todo}\n`;
}
