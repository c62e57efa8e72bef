/** `claude-failover failover [--to ACCOUNT] [--reason TEXT]`: ask the running controller to move the pool now. */
import { defaultStateDir } from '../../adapters/state-store.js';
import { CfError } from '../../core/errors.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { oneOf, parse } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover failover [--to ACCOUNT] [--reason TEXT] [-o text|json]
                                 [--state-dir DIR] [--server URL] [--token-file PATH]

Asks the running controller to move the whole pool to another account now: to ACCOUNT, or
to the next eligible one. The Account controller decides on its next reconcile (an ineligible
target is refused with the reason), then the sessions are relaunched under the new account and
resume their conversations. Needs a running controller (claude-failover run).

Options:
      --to ACCOUNT         Target account (default: the next eligible one)
      --reason TEXT        Recorded in the event log and notifications
  -o, --output FORMAT      text (default) or json
      --state-dir DIR      State directory of the controller (to find it)
${CONTROLLER_HELP}

Exit codes: 0 accepted, 1 refused or no controller running.

Examples:
  claude-failover failover --to backup --reason "maintenance on main"
  claude-failover failover -o json
`;

interface Values {
  help?: boolean;
  to?: string;
  reason?: string;
  output?: string;
  'state-dir'?: string;
  server?: string;
  'token-file'?: string;
}

export async function failoverCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, { to: { type: 'string' }, reason: { type: 'string' }, output: { type: 'string', short: 'o' }, 'state-dir': { type: 'string' }, ...CONTROLLER_OPTIONS });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  const stateDir = values['state-dir'] ?? defaultStateDir(io.env);
  const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir });
  if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}); failover needs \`claude-failover run\` (or pass --server)`);
  try {
    const body = { ...(values.to ? { to: values.to } : {}), ...(values.reason ? { reason: values.reason } : {}) };
    const r = await client.request<{ accepted: boolean; message: string }>('POST', '/api/v1/failover', body);
    io.stdout.write(output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `${r.message}\n`);
    return r.accepted ? 0 : 1;
  } finally {
    await client.close();
  }
}
