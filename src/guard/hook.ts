/**
 * The PreToolUse hook: reads Claude Code's JSON on stdin, evaluates the call, writes the audit line,
 * and answers in the hook protocol (exit 2 + reason on stderr = deny, exit 0 = allow).
 *
 * It fails closed: bad flags, unreadable or oversized input, a missing parser, an internal error or an
 * exceeded time budget all deny. Claude Code lets a call through when a hook crashes or times out,
 * so nothing here may throw out of runPreToolUseHook.
 *
 * Kept free of the CLI: this module and its imports are all the standalone entry loads.
 */
import { readFileSync } from 'node:fs';
import type { CfErrorCode } from '../core/error-codes.js';
import { isAbsolute, join, resolve } from 'node:path';
import { appendAudit, DEPLOY_PROBE_ID, type AuditOptions, type GuardMode } from './audit.js';
import type { ParserBackend } from './parser/tree-sitter.js';
import { evaluateFileTool } from './policy/file-tools.js';
import { auditText } from './policy/redact.js';
import { DEFAULT_BUDGET_MS, DEFAULT_SUDO_ALLOW, type PolicyOptions, type ToolCall, type Verdict } from './policy/types.js';

export interface HookOptions {
  session: string | null;
  stateDir: string | null;
  mode: GuardMode;
  projectDir: string | null;
  protectedPaths: string[];
  /** Files agents may not read, beyond the state dir's token and control-plane record. */
  readProtectedPaths: string[];
  sudoAllow: string[] | null;
  budgetMs: number;
  maxCommandLength: number | null;
  maxStdinBytes: number;
  parser: ParserBackend;
  audit: AuditOptions;
}

export interface HookIO {
  stdin: NodeJS.ReadableStream;
  stderr: { write(chunk: string): unknown };
  env: NodeJS.ProcessEnv;
}

export class GuardUsageError extends Error {
  readonly code: CfErrorCode = 'CF_ERR_USAGE';
}

export const HOOK_USAGE = `Usage: guard-hook [options] < PreToolUse-JSON

Claude Code PreToolUse hook of claude-failover's safety guard. Exit 2 with the reason on stderr
denies the tool call; exit 0 allows it.

Options:
  --session NAME        session name recorded in the audit log
  --state-dir DIR       controller state dir: audit log at DIR/audit/guard.jsonl; DIR is protected from
                        writes, and its secrets (the control-plane token api-token, control-plane.json
                        and the token file it names, applied-manifests.json) from reads
  --mode MODE           enforce (default) | warn (log only, never block) | off (allow, no log)
  --project DIR         project root (default: $CLAUDE_PROJECT_DIR, then the call's cwd)
  --protect PATH        extra protected path (repeatable): manifests, other state
  --protect-read PATH   extra file agents may not read (repeatable): secret files, another token
  --sudo-allow LIST     comma-separated commands sudo may run, "name*" for a prefix
                        (default: ${DEFAULT_SUDO_ALLOW.join(',')})
  --budget-ms N         time budget of the evaluation in ms (default ${DEFAULT_BUDGET_MS}); over budget = deny
  --max-command N       longest Bash command accepted, in characters (default 262144)
  --audit-max-bytes N   rotate the audit log above N bytes (default 10485760)
  --audit-keep N        rotated audit files kept (default 3)
  --parser native|wasm  shell parser backend (default native, falls back to wasm)
  --config FILE         JSON file with any of: session, stateDir, mode, projectDir, protectedPaths,
                        readProtectedPaths, sudoAllow, budgetMs, maxCommandLength, auditMaxBytes,
                        auditKeep, parser
                        (flags given after --config override it)
`;

function defaults(): HookOptions {
  return {
    session: null, stateDir: null, mode: 'enforce', projectDir: null, protectedPaths: [], readProtectedPaths: [], sudoAllow: null, budgetMs: DEFAULT_BUDGET_MS,
    maxCommandLength: null, maxStdinBytes: 64 * 1024 * 1024, parser: 'native', audit: {},
  };
}

function num(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0) throw new GuardUsageError(`${flag} needs a positive number`);
  return n;
}

function mode(v: unknown): GuardMode {
  if (v === 'enforce' || v === 'warn' || v === 'off') return v;
  throw new GuardUsageError(`mode must be enforce, warn or off (got ${String(v)})`);
}

function applyConfig(o: HookOptions, cfg: Record<string, unknown>): void {
  const str = (k: string): string | undefined => (typeof cfg[k] === 'string' ? (cfg[k] as string) : undefined);
  if (str('session') !== undefined) o.session = str('session') as string;
  if (str('stateDir') !== undefined) o.stateDir = str('stateDir') as string;
  if (cfg.mode !== undefined) o.mode = mode(cfg.mode);
  if (str('projectDir') !== undefined) o.projectDir = str('projectDir') as string;
  if (Array.isArray(cfg.protectedPaths)) o.protectedPaths.push(...cfg.protectedPaths.filter((x): x is string => typeof x === 'string'));
  if (Array.isArray(cfg.readProtectedPaths)) o.readProtectedPaths.push(...cfg.readProtectedPaths.filter((x): x is string => typeof x === 'string'));
  if (Array.isArray(cfg.sudoAllow)) o.sudoAllow = cfg.sudoAllow.filter((x): x is string => typeof x === 'string');
  if (typeof cfg.budgetMs === 'number') o.budgetMs = cfg.budgetMs;
  if (typeof cfg.maxCommandLength === 'number') o.maxCommandLength = cfg.maxCommandLength;
  if (typeof cfg.auditMaxBytes === 'number') o.audit.maxBytes = cfg.auditMaxBytes;
  if (typeof cfg.auditKeep === 'number') o.audit.keep = cfg.auditKeep;
  if (cfg.parser === 'native' || cfg.parser === 'wasm') o.parser = cfg.parser;
}

/** Parses the hook's flags. Throws GuardUsageError on anything unknown. */
export function parseHookArgs(argv: readonly string[]): HookOptions {
  const o = defaults();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i] as string;
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string => {
      if (eq > 0) return raw.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined) throw new GuardUsageError(`${flag} needs a value`);
      i++;
      return v;
    };
    switch (flag) {
      case '--session': o.session = value(); break;
      case '--state-dir': o.stateDir = value(); break;
      case '--mode': o.mode = mode(value()); break;
      case '--project': o.projectDir = value(); break;
      case '--protect': o.protectedPaths.push(value()); break;
      case '--protect-read': o.readProtectedPaths.push(value()); break;
      case '--sudo-allow': o.sudoAllow = value().split(',').map((s) => s.trim()).filter((s) => s !== ''); break;
      case '--budget-ms': o.budgetMs = num(flag, value()); break;
      case '--max-command': o.maxCommandLength = num(flag, value()); break;
      case '--audit-max-bytes': o.audit.maxBytes = num(flag, value()); break;
      case '--audit-keep': o.audit.keep = Math.floor(num(flag, value())); break;
      case '--parser': {
        const p = value();
        if (p !== 'native' && p !== 'wasm') throw new GuardUsageError('--parser must be native or wasm');
        o.parser = p;
        break;
      }
      case '--config': {
        const file = value();
        let cfg: unknown;
        try {
          cfg = JSON.parse(readFileSync(file, 'utf8'));
        } catch (err) {
          throw new GuardUsageError(`cannot read --config ${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
        if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new GuardUsageError(`--config ${file} is not a JSON object`);
        applyConfig(o, cfg as Record<string, unknown>);
        break;
      }
      default:
        throw new GuardUsageError(`unknown option ${raw}`);
    }
  }
  return o;
}

class StdinError extends Error {}

/** Reads stdin up to `max` bytes, or rejects after `ms`. */
function readStdin(stream: NodeJS.ReadableStream, max: number, ms: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | null, text?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      if (err !== null) {
        stream.pause();
        reject(err);
      } else resolvePromise(text ?? '');
    };
    const onData = (c: Buffer | string): void => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      size += b.length;
      if (size > max) finish(new StdinError(`the hook input is larger than ${max} bytes`));
      else chunks.push(b);
    };
    const onEnd = (): void => finish(null, Buffer.concat(chunks).toString('utf8'));
    const onError = (e: Error): void => finish(new StdinError(`cannot read the hook input: ${e.message}`));
    const timer = setTimeout(() => finish(new StdinError(`no complete hook input within ${ms} ms`)), ms);
    timer.unref?.();
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

interface HookInput {
  session_id?: unknown;
  cwd?: unknown;
  tool_name?: unknown;
  tool_input?: unknown;
  tool_use_id?: unknown;
}

/**
 * The state dir's files that hold secrets (the guard does not import the runtime; a test checks these
 * names against src/runtime): the control-plane token's default file, the discovery record, and the
 * last applied manifests (their text, webhook header values included).
 */
export const STATE_SECRET_FILES = ['api-token', 'control-plane.json', 'applied-manifests.json'] as const;
const CONTROL_PLANE_RECORD = 'control-plane.json';

/**
 * The state dir's secrets: {@link STATE_SECRET_FILES}, and the token file the running controller's
 * record names when it was started with --token-file.
 */
export function stateSecrets(stateDir: string): string[] {
  const dir = resolve(stateDir);
  const out = STATE_SECRET_FILES.map((f) => join(dir, f));
  try {
    const rec = JSON.parse(readFileSync(join(dir, CONTROL_PLANE_RECORD), 'utf8')) as { tokenFile?: unknown };
    if (typeof rec.tokenFile === 'string' && isAbsolute(rec.tokenFile)) out.push(resolve(rec.tokenFile));
  } catch {
    // no controller running, or no record: the defaults
  }
  return out;
}

function describeInput(tool: string, input: Record<string, unknown>): string {
  const v = tool === 'Bash' ? input.command : (input.file_path ?? input.notebook_path ?? input.path ?? (tool === 'Grep' ? input.pattern : undefined));
  return typeof v === 'string' ? auditText(v) : '';
}

function denyMessage(tool: string, v: Verdict): string {
  return `claude-failover safety guard blocked this ${tool} call [${v.rule}]: ${v.reason}\n`;
}

async function evaluateBash(call: ToolCall, policy: PolicyOptions, opts: HookOptions): Promise<Verdict> {
  const [{ loadShellParser }, { evaluate }] = await Promise.all([import('./parser/tree-sitter.js'), import('./policy/evaluate.js')]);
  let parse;
  try {
    parse = (await loadShellParser(opts.parser)).parse;
  } catch (err) {
    throw new Error(`the shell parser could not be loaded (${err instanceof Error ? err.message : String(err)})`);
  }
  const { readGitRepo } = await import('./git-head.js');
  // The budget is the evaluation's own: Node's start-up and loading the parser are not counted, so a
  // slow start on a loaded machine never turns a plain command into a deny.
  return evaluate(call, { ...policy, parse, readGit: readGitRepo, budgetMs: opts.budgetMs });
}

/**
 * Runs the hook once. Returns the exit code (0 allow, 2 deny). Never throws.
 */
export async function runPreToolUseHook(argv: readonly string[], io: HookIO): Promise<number> {
  const t0 = performance.now();
  let opts: HookOptions;
  try {
    opts = parseHookArgs(argv);
  } catch (err) {
    io.stderr.write(`claude-failover safety guard: ${err instanceof Error ? err.message : String(err)}; denying the call (fix the hook command)\n`);
    return 2;
  }
  if (opts.mode === 'off') return 0;
  let tool = 'unknown';
  let cwd = '';
  let command = '';
  let probe = false;
  let verdict: Verdict;
  try {
    // Claude Code writes the whole input at once; the limit only stops a writer that never finishes.
    const text = await readStdin(io.stdin, opts.maxStdinBytes, Math.max(opts.budgetMs, 1000));
    let parsed: HookInput;
    try {
      parsed = JSON.parse(text) as HookInput;
    } catch {
      throw new StdinError('the hook input is not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null) throw new StdinError('the hook input is not a JSON object');
    tool = typeof parsed.tool_name === 'string' ? parsed.tool_name : 'unknown';
    cwd = typeof parsed.cwd === 'string' ? parsed.cwd : (io.env.CLAUDE_PROJECT_DIR ?? '');
    const input = (typeof parsed.tool_input === 'object' && parsed.tool_input !== null ? parsed.tool_input : {}) as Record<string, unknown>;
    command = describeInput(tool, input);
    probe = parsed.tool_use_id === DEPLOY_PROBE_ID;
    if (opts.session === null && typeof parsed.session_id === 'string') opts.session = parsed.session_id;
    const protectedPaths = [...opts.protectedPaths];
    if (opts.stateDir !== null) protectedPaths.push(opts.stateDir);
    const secretPaths = [...opts.readProtectedPaths, ...(opts.stateDir === null ? [] : stateSecrets(opts.stateDir))];
    const call: ToolCall = { tool_name: tool, tool_input: input, cwd, env: io.env };
    const policy: PolicyOptions = {
      projectDir: opts.projectDir ?? undefined,
      protectedPaths,
      secretPaths,
      sudoAllow: opts.sudoAllow ?? undefined,
      maxCommandLength: opts.maxCommandLength ?? undefined,
    };
    // File tools never load the Bash analyzer or the parser: start-up cost is paid only where needed.
    const fileVerdict = evaluateFileTool(call, policy);
    if (fileVerdict !== null) verdict = fileVerdict;
    else if (tool !== 'Bash') verdict = { decision: 'allow', rule: 'not-guarded', reason: '' };
    else verdict = await evaluateBash(call, policy, opts);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    verdict = { decision: 'deny', rule: err instanceof StdinError ? 'invalid-input' : 'internal-error', reason: `${msg}; the guard fails closed` };
  }
  const enforced = verdict.decision === 'deny' && opts.mode === 'enforce';
  if (opts.stateDir !== null) {
    try {
      appendAudit(opts.stateDir, {
        time: new Date().toISOString(), session: opts.session, cwd, tool, command, decision: verdict.decision, rule: verdict.rule, mode: opts.mode, enforced,
        ms: Math.round((performance.now() - t0) * 10) / 10,
        ...(probe ? { probe: true } : {}),
      }, opts.audit);
    } catch (err) {
      io.stderr.write(`claude-failover safety guard: audit log not written (${err instanceof Error ? err.message : String(err)})\n`);
    }
  }
  if (enforced) {
    io.stderr.write(denyMessage(tool, verdict));
    return 2;
  }
  return 0;
}
