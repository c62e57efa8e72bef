/**
 * evaluate(toolCall) -> verdict: the pure entry point of the safety policy.
 */
import { Analyzer, GuardBudgetError } from './analyzer.js';
import { denyVerdict as deny, evaluateFileTool, pathEnvFor } from './file-tools.js';
import { normalize } from './paths.js';
import { redactSecrets } from './redact.js';
import { ParseLimitError } from './syntax.js';
import {
  DEFAULT_BUDGET_MS, DEFAULT_MAX_COMMAND_LENGTH, DEFAULT_PROTECTED_BRANCHES, DEFAULT_SUDO_ALLOW, type PolicyOptions, type ToolCall, type Verdict,
} from './types.js';

export { pathEnvFor } from './file-tools.js';

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
    const fileVerdict = evaluateFileTool(call, opts);
    if (fileVerdict !== null) return fileVerdict;
    if (call.tool_name !== 'Bash') return { decision: 'allow', rule: 'not-guarded', reason: '' };
    const command = input.command;
    if (typeof command !== 'string') return deny('invalid-input', 'Bash call without a command string');
    const maxLength = opts.maxCommandLength ?? DEFAULT_MAX_COMMAND_LENGTH;
    if (command.includes('\0')) {
      return deny('invalid-input', 'the command contains a NUL character; a shell stops reading at it or drops it, so what runs is not what the guard would check. Remove the NUL character');
    }
    if (command.length > maxLength) {
      return deny('oversized-input', `the command is ${command.length} characters long (limit ${maxLength}); write long scripts to a file with the Write tool and run the file`);
    }
    if (opts.parse === undefined) return deny('internal-error', 'no shell parser is available, so the command cannot be checked');
    const cwd = call.cwd.startsWith('/') ? normalize(call.cwd) : (env.project ?? '/');
    const analyzer = new Analyzer({
      parse: opts.parse,
      env,
      cwd,
      branch: opts.gitBranch,
      ...(opts.readGit !== undefined ? { readGit: opts.readGit } : {}),
      protectedBranches: opts.protectedBranches ?? DEFAULT_PROTECTED_BRANCHES,
      sudoAllow: opts.sudoAllow ?? DEFAULT_SUDO_ALLOW,
      deadline: start + (opts.budgetMs ?? DEFAULT_BUDGET_MS),
      now,
      maxLength,
    });
    analyzer.analyzeSource(command, analyzer.newCtx(cwd), 'command');
    const d = analyzer.findings.find((f) => f.decision === 'deny');
    if (d !== undefined) return deny(d.rule, d.reason);
    const w = analyzer.findings.find((f) => f.decision === 'warn');
    if (w !== undefined) return { decision: 'warn', rule: w.rule, reason: redactSecrets(w.reason) };
    return { decision: 'allow', rule: 'none', reason: '' };
  } catch (err) {
    if (err instanceof GuardBudgetError || err instanceof ParseLimitError) return deny('budget-exceeded', `${err.message}; simplify the command or split it into several calls`);
    if (err instanceof RangeError) return deny('budget-exceeded', 'the command is nested too deeply to check; simplify it');
    return deny('internal-error', `the guard failed while checking this call (${err instanceof Error ? err.name : 'error'}); retry with a simpler command`);
  }
}
