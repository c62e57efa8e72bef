/**
 * evaluate(toolCall) -> verdict: the pure entry point of the safety policy.
 */
import { Analyzer, GuardBudgetError } from './analyzer.js';
import { isBlockDevice, normalize, protectedHit, resolvePath, type PathEnv } from './paths.js';
import { redactSecrets } from './redact.js';
import {
  DEFAULT_BUDGET_MS, DEFAULT_MAX_COMMAND_LENGTH, DEFAULT_PROTECTED_BRANCHES, DEFAULT_SUDO_ALLOW, type PolicyOptions, type ToolCall, type Verdict,
} from './types.js';

const FILE_TOOLS: Record<string, string> = { Write: 'file_path', Edit: 'file_path', MultiEdit: 'file_path', NotebookEdit: 'notebook_path' };

export function pathEnvFor(call: ToolCall, opts: PolicyOptions): PathEnv {
  const env = call.env ?? {};
  const abs = (p: string | undefined): string | null => (p !== undefined && p.startsWith('/') ? normalize(p) : null);
  return {
    home: abs(env.HOME),
    tmpdir: abs(env.TMPDIR),
    project: abs(opts.projectDir) ?? abs(env.CLAUDE_PROJECT_DIR) ?? abs(call.cwd),
    configDir: abs(env.CLAUDE_CONFIG_DIR),
    extraProtected: (opts.protectedPaths ?? []).filter((p) => p.startsWith('/')).map(normalize),
  };
}

function deny(rule: string, reason: string): Verdict {
  return { decision: 'deny', rule, reason: redactSecrets(reason) };
}

/**
 * Judges one tool call. Never throws: internal errors, budget overruns and unparseable input are
 * denials (fail closed).
 */
export function evaluate(call: ToolCall, opts: PolicyOptions = {}): Verdict {
  const now = opts.now ?? (() => performance.now());
  const start = now();
  try {
    const env = pathEnvFor(call, opts);
    const input = call.tool_input;
    if (input === null || typeof input !== 'object') return deny('invalid-input', 'the tool input is not an object');
    const fileKey = FILE_TOOLS[call.tool_name];
    if (fileKey !== undefined) {
      const raw = input[fileKey];
      if (typeof raw !== 'string' || raw === '') return deny('invalid-input', `${call.tool_name} without a ${fileKey}`);
      const p = raw.startsWith('~/') && env.home !== null ? `${env.home}${raw.slice(1)}` : raw;
      const abs = resolvePath(p, call.cwd.startsWith('/') ? call.cwd : null) ?? normalize(p);
      if (isBlockDevice(abs)) return deny('disk-write', `${call.tool_name} to the block device ${abs} destroys its data`);
      const hit = protectedHit(abs, env, false, false);
      if (hit !== null) {
        return deny('protected-path', `${call.tool_name} to ${hit.what} is blocked: the safety guard protects hook settings, hooks, credentials, shell start-up files and the controller's state. Ask the operator to make this change`);
      }
      return { decision: 'allow', rule: 'none', reason: '' };
    }
    if (call.tool_name !== 'Bash') return { decision: 'allow', rule: 'not-guarded', reason: '' };
    const command = input.command;
    if (typeof command !== 'string') return deny('invalid-input', 'Bash call without a command string');
    const maxLength = opts.maxCommandLength ?? DEFAULT_MAX_COMMAND_LENGTH;
    if (command.length > maxLength) {
      return deny('oversized-input', `the command is ${command.length} characters long (limit ${maxLength}); write long scripts to a file with the Write tool and run the file`);
    }
    if (opts.parse === undefined) return deny('internal-error', 'no shell parser is available, so the command cannot be checked');
    const analyzer = new Analyzer({
      parse: opts.parse,
      env,
      branch: opts.gitBranch,
      protectedBranches: opts.protectedBranches ?? DEFAULT_PROTECTED_BRANCHES,
      sudoAllow: opts.sudoAllow ?? DEFAULT_SUDO_ALLOW,
      deadline: start + (opts.budgetMs ?? DEFAULT_BUDGET_MS),
      now,
      maxLength,
    });
    const cwd = call.cwd.startsWith('/') ? normalize(call.cwd) : (env.project ?? '/');
    analyzer.analyzeSource(command, analyzer.newCtx(cwd), 'command');
    const d = analyzer.findings.find((f) => f.decision === 'deny');
    if (d !== undefined) return deny(d.rule, d.reason);
    const w = analyzer.findings.find((f) => f.decision === 'warn');
    if (w !== undefined) return { decision: 'warn', rule: w.rule, reason: redactSecrets(w.reason) };
    return { decision: 'allow', rule: 'none', reason: '' };
  } catch (err) {
    if (err instanceof GuardBudgetError) return deny('budget-exceeded', `${err.message}; simplify the command or split it into several calls`);
    if (err instanceof RangeError) return deny('budget-exceeded', 'the command is nested too deeply to check; simplify it');
    return deny('internal-error', `the guard failed while checking this call (${err instanceof Error ? err.name : 'error'}); retry with a simpler command`);
  }
}
