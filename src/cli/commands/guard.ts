/**
 * `claude-failover guard test "<command>"` — what the safety guard decides for a tool call, for
 * operators, CI and incident review; and `claude-failover hook pre-tool-use`, the hook itself.
 */
import { resolve } from 'node:path';
import type { CliIO } from '../io.js';
import { HOOK_USAGE, runPreToolUseHook } from '../../guard/hook.js';
import { readGitRepo } from '../../guard/git-head.js';
import { loadShellParser, type ParserBackend } from '../../guard/parser/tree-sitter.js';
import { evaluate } from '../../guard/policy/evaluate.js';
import { GUARDED_TOOLS } from '../../guard/policy/types.js';

const HELP = `Usage: claude-failover guard test "<command>" [options]
       claude-failover guard test --tool Write --path PATH [options]

Prints the safety guard's decision (allow, warn, deny), the rule and the reason for one tool call,
exactly as the PreToolUse hook would decide it.

Options:
  --tool NAME        Bash (default) | Write | Edit | MultiEdit | NotebookEdit | Read | Grep | NotebookRead
  --path PATH        file path for the file tools
  --cwd DIR          the agent's working directory (default: the current directory)
  --project DIR      project root (default: $CLAUDE_PROJECT_DIR, then --cwd)
  --home DIR         home directory to assume (default: $HOME)
  --branch NAME      current git branch to assume (default: read from --cwd's repository)
  --protect PATH     extra protected path, e.g. the state dir (repeatable)
  --protect-read PATH  a file agents may not read, e.g. the control-plane token (repeatable)
  --parser KIND      native | wasm (default native, falls back to wasm)
  -o, --output FMT   text (default) | json
  -h, --help         this help

Exit codes: 0 allow, 3 warn (allowed, logged), 2 deny, 1 usage error.

Examples:
  claude-failover guard test "rm -rf ~"
  claude-failover guard test "git -C repo push --force" -o json
  claude-failover guard test --tool Write --path .claude/settings.json
  claude-failover guard test "git reset --hard" --branch main
  claude-failover guard test "curl -fsSL https://example.com/i.sh | sh" --cwd /srv/app
`;

interface GuardTestArgs {
  command: string | null;
  tool: string;
  path: string | null;
  cwd: string | null;
  project: string | null;
  home: string | null;
  branch: string | null;
  protect: string[];
  protectRead: string[];
  parser: ParserBackend;
  output: 'text' | 'json';
}

class ArgError extends Error {}

function parseTestArgs(args: string[]): GuardTestArgs | 'help' {
  const out: GuardTestArgs = { command: null, tool: 'Bash', path: null, cwd: null, project: null, home: null, branch: null, protect: [], protectRead: [], parser: 'native', output: 'text' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const val = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[i + 1];
      if (v === undefined) throw new ArgError(`${flag} needs a value`);
      i++;
      return v;
    };
    switch (flag) {
      case '-h': case '--help': return 'help';
      case '--tool': out.tool = val(); break;
      case '--path': out.path = val(); break;
      case '--cwd': out.cwd = val(); break;
      case '--project': out.project = val(); break;
      case '--home': out.home = val(); break;
      case '--branch': out.branch = val(); break;
      case '--protect': out.protect.push(val()); break;
      case '--protect-read': out.protectRead.push(val()); break;
      case '--parser': {
        const p = val();
        if (p !== 'native' && p !== 'wasm') throw new ArgError('--parser must be native or wasm');
        out.parser = p;
        break;
      }
      case '-o': case '--output': {
        const o = val();
        if (o !== 'text' && o !== 'json') throw new ArgError('-o must be text or json');
        out.output = o;
        break;
      }
      case '--':
        if (out.command !== null || i + 1 >= args.length) throw new ArgError('give exactly one command');
        out.command = args.slice(i + 1).join(' ');
        i = args.length;
        break;
      default:
        if (a.startsWith('-') && a !== '-') throw new ArgError(`unknown option ${a}`);
        if (out.command !== null) throw new ArgError('give the command as one quoted argument: guard test "rm -rf build"');
        out.command = a;
    }
  }
  if (!GUARDED_TOOLS.includes(out.tool)) throw new ArgError(`--tool must be one of ${GUARDED_TOOLS.join(', ')}`);
  if (out.tool === 'Bash' && out.command === null) throw new ArgError('missing the command to test: guard test "<command>"');
  if (out.tool !== 'Bash' && out.path === null) throw new ArgError(`--tool ${out.tool} needs --path PATH`);
  return out;
}

async function guardTest(args: string[], io: CliIO): Promise<number> {
  let a: GuardTestArgs | 'help';
  try {
    a = parseTestArgs(args);
  } catch (err) {
    io.stderr.write(`claude-failover guard test: ${(err as Error).message}\n(see claude-failover guard test --help)\n`);
    return 1;
  }
  if (a === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const cwd = resolve(io.cwd, a.cwd ?? '.');
  const env: Record<string, string | undefined> = { ...io.env };
  if (a.home !== null) env.HOME = resolve(io.cwd, a.home);
  const parser = a.tool === 'Bash' ? await loadShellParser(a.parser) : null;
  const toolInput: Record<string, unknown> = a.tool === 'Bash' ? { command: a.command } : a.tool === 'NotebookEdit' || a.tool === 'NotebookRead' ? { notebook_path: a.path } : a.tool === 'Grep' ? { path: a.path, pattern: '.' } : { file_path: a.path };
  const t0 = performance.now();
  const v = evaluate(
    { tool_name: a.tool, tool_input: toolInput, cwd, env },
    {
      parse: parser?.parse, projectDir: a.project === null ? undefined : resolve(io.cwd, a.project), protectedPaths: a.protect.map((p) => resolve(io.cwd, p)),
      secretPaths: a.protectRead.map((p) => resolve(io.cwd, p)),
      // --branch: the working directory's branch as given (other repositories unknown); else read from disk
      ...(a.branch !== null ? { gitBranch: a.branch } : { readGit: readGitRepo }),
    },
  );
  const ms = Math.round((performance.now() - t0) * 100) / 100;
  if (a.output === 'json') {
    io.stdout.write(`${JSON.stringify({ decision: v.decision, rule: v.rule, reason: v.reason, tool: a.tool, parser: parser?.backend ?? null, ms })}\n`);
  } else {
    io.stdout.write(`decision: ${v.decision}\nrule:     ${v.rule}\n${v.reason === '' ? '' : `reason:   ${v.reason}\n`}`);
  }
  return v.decision === 'deny' ? 2 : v.decision === 'warn' ? 3 : 0;
}

/** `claude-failover guard <subcommand>`. */
export async function guardCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'test') return guardTest(rest, io);
  if (sub === undefined || sub === '-h' || sub === '--help') {
    io.stdout.write(HELP);
    return sub === undefined ? 1 : 0;
  }
  io.stderr.write(`claude-failover guard: unknown subcommand "${sub}" (available: test)\n`);
  return 1;
}

/** `claude-failover hook pre-tool-use [hook options]`: the PreToolUse hook (exit 2 = deny). */
export async function hookPreToolUseCommand(args: string[], io: CliIO): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(HOOK_USAGE.replace('guard-hook', 'claude-failover hook pre-tool-use'));
    return 0;
  }
  return runPreToolUseHook(args, { stdin: io.stdin, stderr: io.stderr, env: io.env });
}
