/** Command-line parsing for the simulator: the subset of `claude`'s flags the controller uses, strict like the real CLI. */

export interface SimArgs {
  sessionId?: string;
  /** `--resume <id>`; `true` when given without an id (the real CLI opens a picker). */
  resume?: string | true;
  continue: boolean;
  settings: string[];
  model?: string;
  permissionMode?: string;
  skipPermissions: boolean;
  version: boolean;
  help: boolean;
  print: boolean;
  forkSession: boolean;
  /** First positional argument: an initial prompt. */
  prompt?: string;
  /** `claude auth status` style subcommands. */
  subcommand?: string[];
}

export class SimArgsError extends Error {
  readonly code = 'SIM_ARGS';
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** Flags that take a value and are accepted (some only for compatibility: their value is ignored). */
const VALUE_FLAGS = new Set([
  '--session-id', '--settings', '--model', '--permission-mode', '--output-format', '--input-format',
  '--append-system-prompt', '--system-prompt', '--add-dir', '--mcp-config', '--allowedTools', '--allowed-tools',
  '--disallowedTools', '--disallowed-tools', '--fallback-model', '--agents', '--max-turns', '--setting-sources',
]);
const BOOL_FLAGS = new Set([
  '--dangerously-skip-permissions', '--allow-dangerously-skip-permissions', '--verbose', '--continue', '-c',
  '--print', '-p', '--version', '-v', '--help', '-h', '--fork-session', '--ide', '--strict-mcp-config', '--debug',
]);
const SUBCOMMANDS = new Set(['auth', 'doctor', 'update', 'mcp', 'config']);

export function parseArgs(argv: readonly string[]): SimArgs {
  const out: SimArgs = {
    continue: false, settings: [], skipPermissions: false, version: false, help: false, print: false, forkSession: false,
  };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] ?? '';
    if (raw === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!raw.startsWith('-') || raw === '-') {
      positional.push(raw);
      continue;
    }
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const inline = eq > 0 ? raw.slice(eq + 1) : undefined;
    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined) throw new SimArgsError(`error: option '${flag}' argument missing`);
      i++;
      return next;
    };
    if (flag === '--resume' || flag === '-r') {
      if (inline !== undefined) out.resume = inline;
      else {
        const next = argv[i + 1];
        if (next !== undefined && !next.startsWith('-')) {
          out.resume = next;
          i++;
        } else out.resume = true;
      }
      continue;
    }
    if (VALUE_FLAGS.has(flag)) {
      const value = takeValue();
      if (flag === '--session-id') out.sessionId = value;
      else if (flag === '--settings') out.settings.push(value);
      else if (flag === '--model') out.model = value;
      else if (flag === '--permission-mode') out.permissionMode = value;
      continue;
    }
    if (BOOL_FLAGS.has(flag)) {
      if (inline !== undefined) throw new SimArgsError(`error: option '${flag}' does not take a value`);
      switch (flag) {
        case '--dangerously-skip-permissions': out.skipPermissions = true; break;
        case '--continue': case '-c': out.continue = true; break;
        case '--print': case '-p': out.print = true; break;
        case '--version': case '-v': out.version = true; break;
        case '--help': case '-h': out.help = true; break;
        case '--fork-session': out.forkSession = true; break;
        default: break;
      }
      continue;
    }
    throw new SimArgsError(`error: unknown option '${flag}'`);
  }
  const first = positional[0];
  if (first !== undefined && SUBCOMMANDS.has(first)) out.subcommand = positional;
  else if (positional.length > 0) out.prompt = positional.join(' ');
  if (out.sessionId !== undefined && !isUuid(out.sessionId)) {
    throw new SimArgsError('Error: Invalid session ID. Must be a valid UUID.');
  }
  if (out.sessionId !== undefined && (out.resume !== undefined || out.continue) && !out.forkSession) {
    throw new SimArgsError('Error: --session-id can only be used with --continue or --resume if --fork-session is also specified.');
  }
  return out;
}

export const USAGE = `Usage: claude [options] [command] [prompt]

Claude Code simulator (claude-failover test double). Supported options:
  -r, --resume <id>                 Resume a conversation by session ID
  -c, --continue                    Continue the most recent conversation in this folder
  --session-id <uuid>               Use a specific session ID for the conversation
  --settings <file-or-json>         Load additional settings from a file or a JSON string
  --model <model>                   Model for the session
  --permission-mode <mode>          default | acceptEdits | bypassPermissions | plan
  --dangerously-skip-permissions    Bypass all permission checks
  -p, --print                       Print the response and exit
  -v, --version                     Output the version number
  -h, --help                        Display help
Commands:
  auth status                       Print login status as JSON (exit 1 when not logged in)
See docs/simulator.md for the #sim directive language and CLAUDE_SIM_* variables.
`;
