/** `claude-failover send NAME [TEXT]`: type text into a session's prompt through the running controller. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CfError, UsageError } from '../../core/errors.js';
import type { SendOutcome } from '../../runtime/session-send.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { oneOf, parse, stateDirOf } from '../args.js';
import { readAll, type CliIO } from '../io.js';
import { VERSION } from '../version.js';

const HELP = `Usage: claude-failover send NAME [TEXT | --file FILE | -] [--queue] [-o text|json]
                             [--state-dir DIR] [--server URL] [--token-file PATH]

Types TEXT into session NAME's prompt and submits it, the way a task prompt is delivered
(paste, then Enter), through the running controller. The text is taken from the argument,
from --file, or from standard input ("-", or when no text is given and stdin is not a terminal).

The session must be at its prompt: a session that is not running, starting, suspended or at a
permission prompt is refused, and so is one that is working, unless --queue is given (Claude
Code then queues the message and runs it after the current turn). The text is sent exactly as
given; text with control characters (other than tab and line breaks) or a task marker
[cf-task:…] is refused.

Every send is audited in the controller's state dir (audit/send.jsonl: who, when, the text's
sha256, never the text) and recorded as a TextSent event. Anyone who can send can steer the
agent: the safety guard in every session stays the barrier (docs/security.md).

Options:
      --file FILE          Read the text from FILE ("-": standard input)
      --queue              Deliver even while the session works (queued behind its turn)
  -o, --output FORMAT      text (default) or json (the API's answer)
      --state-dir DIR      State directory of the controller (to find it)
${CONTROLLER_HELP}

Exit codes: 0 delivered, 1 refused, failed or no controller running.

Examples:
  claude-failover send ccl-1 "Please also run the linter before you finish."
  claude-failover send ccl-1 --file notes.md --queue
  git diff | claude-failover send ccl-2 -
`;

interface Values {
  help?: boolean;
  file?: string;
  queue?: boolean;
  output?: string;
  'state-dir'?: string;
  server?: string;
  'token-file'?: string;
}

async function readText(positional: string | undefined, file: string | undefined, io: CliIO): Promise<string> {
  if (positional !== undefined && file !== undefined) throw new UsageError('give the text either as an argument or with --file, not both');
  const source = file ?? positional;
  if (source === '-' || (source === undefined && (io.stdin as { isTTY?: boolean }).isTTY !== true)) return readAll(io.stdin);
  if (source === undefined) throw new UsageError('no text given: pass it as an argument, with --file FILE, or on standard input (-)');
  if (file === undefined) return source;
  const bytes = await fs.readFile(path.resolve(io.cwd, file)).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${file} is not valid UTF-8`);
  }
}

export async function sendCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<Values>(args, { file: { type: 'string' }, queue: { type: 'boolean' }, output: { type: 'string', short: 'o' }, 'state-dir': { type: 'string' }, ...CONTROLLER_OPTIONS }, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [name, textArg, ...extra] = positionals;
  if (name === undefined) {
    io.stdout.write(HELP);
    return 1;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}: quote the text as one argument`);
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  const text = await readText(textArg, values.file, io);
  const stateDir = stateDirOf(values['state-dir'], io);
  const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir, userAgent: `claude-failover-cli/${VERSION} send` });
  if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}); send needs \`claude-failover run\` (or pass --server)`);
  try {
    const r = await client.request<SendOutcome>('POST', `/api/v1/sessions/${encodeURIComponent(name)}/send`, { text, ...(values.queue ? { queue: true } : {}) });
    io.stdout.write(output === 'json' ? `${JSON.stringify(r, null, 2)}\n` : `${r.message} (${r.bytes} bytes, sha256 ${r.sha256})\n`);
    return 0;
  } finally {
    await client.close();
  }
}
