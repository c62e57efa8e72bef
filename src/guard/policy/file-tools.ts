/**
 * The Write/Edit/MultiEdit/NotebookEdit part of the policy: protected paths and block devices.
 * Separate from the Bash analyzer so the hook can judge file tools without loading it.
 */
import { isBlockDevice, normalize, protectedHit, resolvePath, secretHit, type PathEnv } from './paths.js';
import { redactSecrets } from './redact.js';
import type { PolicyOptions, ToolCall, Verdict } from './types.js';

export const FILE_TOOLS: Readonly<Record<string, string>> = { Write: 'file_path', Edit: 'file_path', MultiEdit: 'file_path', NotebookEdit: 'notebook_path' };
/** Tools that read files: judged only against the secrets (the control-plane token, …). */
export const READ_TOOLS: Readonly<Record<string, string>> = { Read: 'file_path', NotebookRead: 'notebook_path', Grep: 'path' };

export function pathEnvFor(call: ToolCall, opts: PolicyOptions): PathEnv {
  const env = call.env ?? {};
  const abs = (p: string | undefined): string | null => (p !== undefined && p.startsWith('/') ? normalize(p) : null);
  return {
    home: abs(env.HOME),
    tmpdir: abs(env.TMPDIR),
    project: abs(opts.projectDir) ?? abs(env.CLAUDE_PROJECT_DIR) ?? abs(call.cwd),
    configDir: abs(env.CLAUDE_CONFIG_DIR),
    extraProtected: (opts.protectedPaths ?? []).filter((p) => p.startsWith('/')).map(normalize),
    secrets: (opts.secretPaths ?? []).filter((p) => p.startsWith('/')).map(normalize),
  };
}

export function denyVerdict(rule: string, reason: string): Verdict {
  return { decision: 'deny', rule, reason: redactSecrets(reason) };
}

/** Judges a file-tool call; null when `call` is not a file tool. */
export function evaluateFileTool(call: ToolCall, opts: PolicyOptions = {}): Verdict | null {
  const readKey = READ_TOOLS[call.tool_name];
  if (readKey !== undefined) return evaluateReadTool(call, readKey, opts);
  const key = FILE_TOOLS[call.tool_name];
  if (key === undefined) return null;
  const input = call.tool_input;
  if (input === null || typeof input !== 'object') return denyVerdict('invalid-input', 'the tool input is not an object');
  const env = pathEnvFor(call, opts);
  const raw = input[key];
  if (typeof raw !== 'string' || raw === '') return denyVerdict('invalid-input', `${call.tool_name} without a ${key}`);
  if (raw.includes('\0')) return denyVerdict('invalid-input', `${call.tool_name} to a path with a NUL character; the system stops reading it there, so what is written is not what the guard would check`);
  const p = (raw === '~' || raw.startsWith('~/')) && env.home !== null ? `${env.home}${raw.slice(1)}` : raw;
  const abs = resolvePath(p, call.cwd.startsWith('/') ? call.cwd : null) ?? normalize(p);
  if (isBlockDevice(abs)) return denyVerdict('disk-write', `${call.tool_name} to the block device ${abs} destroys its data`);
  const hit = protectedHit(abs, env, false, false);
  if (hit !== null) {
    return denyVerdict('protected-path', `${call.tool_name} to ${hit.what} is blocked: the safety guard protects hook settings, hooks, credentials, shell start-up files and the controller's state. Ask the operator to make this change`);
  }
  return { decision: 'allow', rule: 'none', reason: '' };
}

/** Read/NotebookRead of a secret, or Grep over a secret or a directory that holds one: deny. */
function evaluateReadTool(call: ToolCall, key: string, opts: PolicyOptions): Verdict {
  const input = call.tool_input;
  if (input === null || typeof input !== 'object') return denyVerdict('invalid-input', 'the tool input is not an object');
  const env = pathEnvFor(call, opts);
  if (env.secrets.length === 0) return { decision: 'allow', rule: 'none', reason: '' };
  const cwd = call.cwd.startsWith('/') ? normalize(call.cwd) : null;
  const raw = input[key];
  const given = typeof raw === 'string' && raw !== '' ? raw.split('\0')[0] as string : null;
  if (given === null && call.tool_name !== 'Grep') return { decision: 'allow', rule: 'none', reason: '' };
  const p0 = given === null ? (cwd ?? '/') : (given === '~' || given.startsWith('~/')) && env.home !== null ? `${env.home}${given.slice(1)}` : given;
  const abs = resolvePath(p0, cwd) ?? normalize(p0);
  const glob = call.tool_name === 'Grep' && typeof input.glob === 'string' ? false : /[*?[]/.test(p0);
  const hit = secretHit(abs, env, glob, call.tool_name === 'Grep');
  if (hit !== null) {
    return denyVerdict('secret-read', `${call.tool_name} of ${hit} is blocked: it is a secret of the controller (its control-plane token or credentials), which the safety guard keeps from agents. Ask the operator if you need the control plane`);
  }
  return { decision: 'allow', rule: 'none', reason: '' };
}
