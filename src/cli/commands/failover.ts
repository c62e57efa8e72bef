/** `claude-failover failover [--to ACCOUNT] [--reason TEXT]`: ask the running controller to move the pool now. */
import { userInfo } from 'node:os';
import { CfError } from '../../core/errors.js';
import { ApiRequestError, connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { oneOf, parse, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';
import { VERSION } from '../version.js';

const HELP = `Usage: claude-failover failover [--to ACCOUNT] [--reason TEXT] [-o text|json]
                                 [--state-dir DIR] [--server URL] [--token-file PATH]

Asks the running controller to move the whole pool to another account now: to ACCOUNT, or
to the next eligible one. The Account controller decides at once and the command waits for
that decision (up to 20s): an ineligible target (suspended, credentials invalid, shared state
diverged, exhausted) is refused with the controller's reason, recorded as a FailoverRejected
event, and the command exits 1. Once accepted, the sessions are relaunched under the new
account and resume their conversations. Needs a running controller (claude-failover run).

Options:
      --to ACCOUNT         Target account (default: the next eligible one)
      --reason TEXT        Recorded in the event log and notifications
  -o, --output FORMAT      text (default) or json
      --state-dir DIR      State directory of the controller (to find it)
${CONTROLLER_HELP}

Exit codes: 0 accepted (or still being decided after 20s: see \`events\`), 1 refused by the
            controller (the reason is printed) or no controller running.

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
  const stateDir = stateDirOf(values['state-dir'], io);
  const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir, userAgent: `claude-failover-cli/${VERSION} failover (user ${userName()})` });
  if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}); failover needs \`claude-failover run\` (or pass --server)`);
  try {
    const body = { ...(values.to ? { to: values.to } : {}), ...(values.reason ? { reason: values.reason } : {}) };
    let r: { accepted: boolean; message: string };
    try {
      r = await client.request<{ accepted: boolean; message: string }>('POST', '/api/v1/failover', body);
    } catch (err) {
      if (!(err instanceof ApiRequestError) || err.statusCode !== 409) throw err;
      // The controller refused: its reason, on stderr, and a non-zero exit.
      if (output === 'json') io.stdout.write(`${JSON.stringify({ accepted: false, code: err.code, message: err.message }, null, 2)}\n`);
      io.stderr.write(`claude-failover failover: refused by the controller: ${err.message}\n`);
      return 1;
    }
    io.stdout.write(output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `${r.message}\n`);
    return r.accepted ? 0 : 1;
  } finally {
    await client.close();
  }
}

/** The local user, for the request's record (`requestedBy`); the controller cannot know it otherwise. */
function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
