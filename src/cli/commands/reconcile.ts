import { resolve } from 'node:path';
import { formatDiagnostic } from '../../api/objects.js';
import { loadManifests, toDesired } from '../../adapters/manifest-files.js';
import { acquireInstanceLock } from '../../adapters/instance-lock.js';
import { renderPlanJson, renderPlanText } from '../../render/plan-text.js';
import { wire } from '../../runtime/wiring.js';
import { CfError } from '../../core/errors.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { COMMON, oneOf, parse, POOL, POOL_HELP, poolOptions, requireFiles, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';
import { COMPAT_HELP, withCompat } from '../../core/compat.js';
import { COMPAT_OPTION, compatFrom, tmuxSocketFor } from '../compat.js';

const HELP = `Usage: claude-failover reconcile --once [--dry-run] [--detailed-exitcode] [-o text|json]
                                  -f PATH... [--state-dir DIR] [--tmux-socket NAME] [--prune]
       claude-failover reconcile [--key Kind/name] [--state-dir DIR] [--server URL] [--token-file PATH]

Without --once: asks the running controller to reconcile now (everything, or one object with
--key) through its control plane; fails when no controller runs.

Reads the manifests, observes the world (tmux, files, quota) and converges it once.
With --dry-run it only prints the plan and touches nothing: no tmux server is started, no
state dir or file is written. Safe in CI and on machines where nothing is installed.

Options:
  -f, --filename PATH     Manifest file or directory; repeatable (or CLAUDE_FAILOVER_MANIFESTS)
      --once              Reconcile once and exit
      --dry-run           Print the plan only
      --detailed-exitcode Exit 2 when the plan has changes (0 none, 1 error)
  -o, --output FORMAT     text (default) or json (the same Plan object, with formatVersion)
      --state-dir DIR     State directory (default $XDG_STATE_HOME/claude-failover, /var/lib/claude-failover as root)
      --tmux-socket NAME  tmux server of the controller: -L NAME, or a socket path (default claude-failover)
      --prune             Stop sessions whose manifests were removed
      --key KIND/NAME     (without --once) only this object, e.g. Session/ccl-1
${CONTROLLER_HELP}
${POOL_HELP}
${COMPAT_HELP}

Exit codes: 0 no changes (or all applied), 1 error (invalid manifests, failed changes),
            2 changes present (only with --detailed-exitcode).

Examples:
  claude-failover reconcile --once --dry-run --detailed-exitcode -f manifests/
  claude-failover reconcile --once --dry-run -o json -f manifests/ | jq .summary
  claude-failover reconcile --once -f manifests/
`;

interface Values {
  help?: boolean;
  filename?: string[];
  once?: boolean;
  'dry-run'?: boolean;
  'detailed-exitcode'?: boolean;
  output?: string;
  'state-dir'?: string;
  'tmux-socket'?: string;
  prune?: boolean;
  'min-dwell'?: string;
  'failover-grace'?: string;
  key?: string;
  compat?: string[];
  server?: string;
  'token-file'?: string;
}

export async function reconcileCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, {
    ...COMMON,
    ...POOL,
    once: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'detailed-exitcode': { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    prune: { type: 'boolean' },
    key: { type: 'string' },
    ...CONTROLLER_OPTIONS,
    ...COMPAT_OPTION,
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  if (!values.once) return reconcileRemote(values, io);
  const dryRun = values['dry-run'] ?? false;
  const files = requireFiles(values.filename, io);
  const loaded = await loadManifests(files, { displayBase: io.cwd });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  for (const d of loaded.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (errors.length > 0) {
    io.stderr.write(`\n${errors.length} problem(s) in the manifests; nothing was planned or applied.\n`);
    return 1;
  }
  const stateDir = stateDirOf(values['state-dir'], io);
  const compat = compatFrom(values, io.env);
  const tmuxSocket = tmuxSocketFor(values['tmux-socket'], compat);
  const w = wire({ stateDir, dryRun, pool: poolOptions(values), manifestPaths: files.map((f) => resolve(io.cwd, f)), ...(tmuxSocket ? { tmuxSocket } : {}), compat });
  let lock: { release(): Promise<void> } | undefined;
  if (!dryRun) {
    await w.stateStore.ensure();
    lock = await acquireInstanceLock(stateDir);
  }
  try {
    await w.manager.loadState();
    w.manager.setDesired(withCompat(toDesired(loaded), compat));
    const result = await w.manager.runOnce({ dryRun, prune: values.prune ?? false });
    const color = output === 'text' && (process.stdout as { isTTY?: boolean }).isTTY === true && !io.env.NO_COLOR;
    io.stdout.write(output === 'json' ? renderPlanJson(result.plan) : renderPlanText(result.plan, { color }));
    for (const f of result.failures) io.stderr.write(`error: ${f.key}: ${f.error}\n`);
    for (const e of result.errors) io.stderr.write(`error: observing ${e.kind}: ${e.error}\n`);
    if (result.failures.length > 0 || result.errors.length > 0) return 1;
    if (values['detailed-exitcode'] && dryRun && result.plan.changes.length > 0) return 2;
    return 0;
  } finally {
    await lock?.release();
  }
}

/** `reconcile` without --once: POST /api/v1/reconcile on the running controller. */
async function reconcileRemote(values: Values, io: CliIO): Promise<number> {
  const stateDir = stateDirOf(values['state-dir'], io);
  const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir });
  if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}); start one with \`claude-failover run\`, pass --server, or use --once to reconcile from this process`);
  try {
    const q = values.key ? `?key=${encodeURIComponent(values.key)}` : '';
    const r = await client.request<{ enqueued: string[] }>('POST', `/api/v1/reconcile${q}`);
    io.stdout.write(values.output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `reconcile requested for ${r.enqueued.length} object(s) on the controller at ${client.target.url}\n`);
    return 0;
  } finally {
    await client.close();
  }
}
