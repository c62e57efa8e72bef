/**
 * Public types of the safety guard's policy. The policy is pure: it sees the tool call, a few facts
 * about the environment (home, project root, git branch), and a shell parser passed in as a function.
 */
import type { ParseLimits, SyntaxNode } from './syntax.js';

export type Decision = 'allow' | 'warn' | 'deny';

/** The tool call as Claude Code sends it to a PreToolUse hook (`tool_name`, `tool_input`). */
export interface ToolCall {
  tool_name: string;
  tool_input: Record<string, unknown>;
  /** The agent's working directory (the hook input's `cwd`). */
  cwd: string;
  /** Environment facts: HOME, TMPDIR, USER, CLAUDE_PROJECT_DIR, CLAUDE_CONFIG_DIR are used. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface Verdict {
  decision: Decision;
  /** Stable rule id, e.g. `recursive-delete`, `git-force-push`; `none` when nothing matched. */
  rule: string;
  /** For deny/warn: what was matched and what to do instead. Never echoes secrets. */
  reason: string;
}

/**
 * A shell parser: source text to a concrete syntax tree (tree-sitter-bash node types). With `limits`
 * it throws ParseLimitError when the parse runs past the deadline or the tree has more nodes than
 * allowed.
 */
export type ParseFn = (source: string, limits?: ParseLimits) => SyntaxNode;

export interface PolicyOptions {
  /** Parses Bash source. Required for Bash calls; Write/Edit checks do not need it. */
  parse?: ParseFn;
  /** The project root; defaults to env.CLAUDE_PROJECT_DIR, then the call's cwd. */
  projectDir?: string;
  /** Extra protected paths (the controller's state dir, manifest files or dirs). Absolute. */
  protectedPaths?: readonly string[];
  /**
   * Files agents may not read (the control-plane token, the controller's secret files): any command,
   * interpreter or tool that reads them is denied. Absolute.
   */
  secretPaths?: readonly string[];
  /**
   * Current git branch of the call's working directory (for `git reset --hard`); null = detached/not
   * a repo; undefined = unknown. Used when `readGit` is not given (then any other repository's branch
   * is unknown).
   */
  gitBranch?: string | null;
  /**
   * Reads the repository a directory belongs to (`git -C dir`, `cd dir && git …`): its root and
   * current branch; null = not in a repository; undefined = unreadable. The hook passes a reader of
   * `.git/HEAD`; the policy stays free of I/O of its own.
   */
  readGit?: (dir: string) => { root: string; branch: string | null } | null | undefined;
  /** Branches on which `git reset --hard` is denied. */
  protectedBranches?: readonly string[];
  /** Commands `sudo` may run. */
  sudoAllow?: readonly string[];
  /** Longest accepted Bash command, in characters. */
  maxCommandLength?: number;
  /** Time budget for one evaluation, in ms. */
  budgetMs?: number;
  /** Clock for the budget (ms). Defaults to performance.now. */
  now?: () => number;
}

export const DEFAULT_SUDO_ALLOW: readonly string[] = ['systemctl', 'journalctl', 'cp', 'install', 'apt', 'apt-get', 'apt-cache', 'aptitude'];
export const DEFAULT_PROTECTED_BRANCHES: readonly string[] = ['main', 'master', 'production'];
export const DEFAULT_MAX_COMMAND_LENGTH = 256 * 1024;
/**
 * Time budget of one evaluation (parsing and analysing a command), in ms; over it, the call is denied.
 * Together with the structural limits (command length, syntax nodes, nesting) it bounds the hook's
 * answer for any input to Node's start-up plus this budget (~0.4 s on the reference machine).
 */
export const DEFAULT_BUDGET_MS = 300;

/**
 * Tools whose calls the guard inspects (the hook matcher): the ones that run commands or write files,
 * and the ones that read files (denied only for the controller's secrets).
 */
export const GUARDED_TOOLS: readonly string[] = ['Bash', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Read', 'Grep', 'NotebookRead'];
