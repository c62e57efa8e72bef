/**
 * `claude-failover manifests [status]`: the manifest set in force, and whether the set on disk is
 * invalid or held by the deletion guard. `claude-failover manifests confirm [--id ID]`: apply the
 * held set now (asks the running controller).
 */
import { FileStateStore } from '../../adapters/state-store.js';
import type { StatusMap } from '../../core/controller.js';
import { CfError, UsageError } from '../../core/errors.js';
import { STATUS_RECORD } from '../../runtime/manager.js';
import { MANIFESTS_KEY, type ManifestsStatus } from '../../runtime/manifest-set.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { oneOf, parse, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover manifests [status] [-o text|json] [--state-dir DIR]
       claude-failover manifests confirm [--id ID] [-o text|json] [--state-dir DIR]

status (default)  Shows the manifest set in force (revision, when it was applied, objects) and
                  whether the set on disk is invalid (the controller runs on the last applied
                  set) or held: a change that empties the manifests, or drops every Session or
                  more than --max-delete-share of them, waits until it stays unchanged for
                  --deletion-grace (see \`run --help\`) or is confirmed.
confirm           Applies the held set now. --id (from \`manifests status\`) makes sure it is the
                  set you looked at: if the manifests changed since, nothing is applied.
                  Needs a running controller with its API.

Options:
      --id ID              The held set to confirm (12 hex digits)
  -o, --output FORMAT      text (default) or json
      --state-dir DIR      State directory of the controller
${CONTROLLER_HELP}

Exit codes: status: 0 the set on disk is in force, 2 it is held or invalid, 1 error;
            confirm: 0 applied, 1 refused (nothing held, another set held) or no controller.

Examples:
  claude-failover manifests
  claude-failover manifests confirm --id 3f9a0c1b2d4e
`;

interface Values {
  help?: boolean;
  id?: string;
  output?: string;
  'state-dir'?: string;
  server?: string;
  'token-file'?: string;
}

interface View {
  status: ManifestsStatus;
}

export async function manifestsCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<Values>(args, { id: { type: 'string' }, output: { type: 'string', short: 'o' }, 'state-dir': { type: 'string' }, ...CONTROLLER_OPTIONS }, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const sub = positionals[0] ?? 'status';
  if (positionals.length > 1 || (sub !== 'status' && sub !== 'confirm')) throw new UsageError(`unknown arguments ${JSON.stringify(positionals.join(' '))}: use \`manifests status\` or \`manifests confirm\``);
  if (values.id !== undefined && !/^[0-9a-f]{12}$/.test(values.id)) throw new UsageError('--id must be a hold id (12 hex digits, shown by `claude-failover manifests`)');
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  const stateDir = stateDirOf(values['state-dir'], io);
  const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir });
  if (sub === 'confirm') {
    if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}); confirming a held set needs \`claude-failover run\` with its API (or pass --server)`);
    try {
      const r = await client.request<{ applied: boolean; message: string }>('POST', '/api/v1/manifests/confirm', values.id ? { id: values.id } : {});
      io.stdout.write(output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `${r.message}\n`);
      return r.applied ? 0 : 1;
    } finally {
      await client.close();
    }
  }
  let view: View;
  if (client) {
    try {
      view = await client.request<View>('GET', '/api/v1/manifests');
    } finally {
      await client.close();
    }
  } else {
    const status = (await new FileStateStore(stateDir, { readOnly: true }).read<StatusMap>(STATUS_RECORD)) ?? {};
    view = { status: (status[MANIFESTS_KEY] as ManifestsStatus | undefined) ?? { observedGeneration: '', conditions: [] } };
  }
  const st = view.status;
  if (output === 'json') io.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
  else io.stdout.write(render(st, client !== undefined));
  return st.held || st.invalid ? 2 : 0;
}

function render(st: ManifestsStatus, live: boolean): string {
  const out: string[] = [];
  out.push(`In force:   ${st.objects ?? 0} objects${st.revision ? ` at revision ${st.revision}` : ''}${st.appliedAt ? `, applied ${st.appliedAt}` : ''}${live ? '' : ' (as last recorded; no controller answered)'}`);
  if (st.invalid) {
    out.push(`On disk:    INVALID since ${st.invalid.at}; the set in force stays`);
    for (const d of st.invalid.diagnostics.slice(0, 10)) out.push(`  ${d}`);
    if (st.invalid.diagnostics.length > 10) out.push(`  … and ${st.invalid.diagnostics.length - 10} more`);
  }
  if (st.held) {
    const h = st.held;
    out.push(`On disk:    HELD (${h.reason}) since ${h.since}: ${h.message}`);
    out.push(`  id ${h.id}; applied at ${h.applyAt} if the manifests stay as they are`);
    out.push(`  sessions it drops (${h.removed.length} of ${h.total}): ${h.removed.join(', ') || 'none'}`);
    out.push(`  apply it now:  claude-failover manifests confirm --id ${h.id}`);
    out.push('  or put the manifests back: the hold ends and nothing is deleted');
  }
  if (!st.invalid && !st.held) out.push('On disk:    the same set (nothing held, nothing invalid)');
  return `${out.join('\n')}\n`;
}
