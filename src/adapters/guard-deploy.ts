/**
 * Deploys the safety guard for one session: writes the hook launcher script into
 * `<project>/.claude/hooks/` (mode 0555, atomically, rewritten on every call) and returns the settings
 * fragment that registers it as a PreToolUse hook.
 *
 * The launcher bakes in everything the hook needs, with absolute paths:
 *
 *   #!/bin/sh
 *   /usr/bin/node --verify-snapshot-checksum /opt/claude-failover/dist/guard/guard-hook.cjs --session ccl-3 \
 *     --state-dir /var/lib/claude-failover --mode enforce --project '/srv/my app' --protect /etc/cf/manifests
 *
 * (every word through src/core/shell-quote.ts: single quotes where a character needs them)
 *   code=$?; [ "$code" -eq 0 ] && exit 0; …; exit 2      (anything but a clean allow denies)
 *
 * The session launcher merges `settings` into the per-session `--settings` file (or the project's
 * .claude/settings.local.json) with mergeGuardSettings from src/guard/settings.ts.
 */
import { spawn } from 'node:child_process';
import { constants, readFileSync, statSync } from 'node:fs';
import { access, chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CfError } from '../core/errors.js';
import { shellQuote } from '../core/shell-quote.js';
import { guardSettingsFragment, type GuardSettingsFragment } from '../guard/settings.js';
import { DEPLOY_PROBE_ID } from '../guard/audit.js';

export type GuardDeployMode = 'enforce' | 'warn' | 'off';

export interface DeployGuardOptions {
  /** Project root; the script goes to `<projectDir>/.claude/hooks/`. */
  projectDir: string;
  /** Session name, recorded in every audit line (also names the script, so sessions sharing a project do not overwrite each other). */
  sessionName: string;
  /** Controller state dir: audit log at `<stateDir>/audit/guard.jsonl`; the dir itself is protected. */
  stateDir: string;
  /** Project `safety.mode` (default enforce). */
  mode?: GuardDeployMode;
  /** Further protected paths: manifest files/dirs, other controller state. Absolute. */
  protectedPaths?: readonly string[];
  /** Commands sudo may run (default: the guard's built-in allowlist). */
  sudoAllow?: readonly string[];
  /** Node binary (default: process.execPath, the controller's own node). */
  nodePath?: string;
  /** The hook entry (default: defaultHookEntry(), the bundled dist/guard/guard-hook.cjs, else dist/cli/guard-hook.js). */
  hookEntry?: string;
  /**
   * Node flags in the launcher (default: the `nodeFlags` that scripts/bundle-guard.mjs recorded in
   * guard-hook.json next to a bundled entry, which its code cache needs; none for the module entry).
   * Flags the node binary rejects are dropped at deploy time (the hook then runs without its cache).
   */
  nodeFlags?: readonly string[];
  /** Run the deployed script once on a known-bad call and require exit 2 (default true; skipped in mode off/warn). */
  verify?: boolean;
}

export interface DeployedGuard {
  /** Absolute path of the launcher script. */
  scriptPath: string;
  /** The hook command string as registered in the settings. */
  command: string;
  /** `{hooks:{PreToolUse:[{matcher:"Bash|Write|Edit|MultiEdit|NotebookEdit|Read|Grep|NotebookRead", hooks:[{type:"command", command, timeout:30}]}]}}` */
  settings: GuardSettingsFragment;
}

/** Deployment failed: the session must not be launched on first launch (fail closed). */
export class GuardDeployError extends CfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CF_ERR_GUARD_DEPLOY', message, options);
  }
}

/** The bundled hook entry (built by scripts/bundle-guard.mjs): one CommonJS file plus a V8 code cache. */
export function bundledHookEntry(): string {
  return fileURLToPath(new URL('../guard/guard-hook.cjs', import.meta.url));
}

/** The unbundled hook entry (ES modules, as tsc emits them). */
export function moduleHookEntry(): string {
  return fileURLToPath(new URL('../cli/guard-hook.js', import.meta.url));
}

/**
 * Chooses between the bundled entry and the module entry: the bundle when it is built and current
 * (start-up close to `node -e 0`), else the module entry. The bundle counts as current when its bundle
 * file is not older than the module entry: `npm run build` writes it right after tsc, and tsc alone
 * rewrites every module, so a bundle left over from an earlier build (an older policy) is never
 * deployed. The code cache is optional (the bundle runs without it).
 */
export function pickHookEntry(bundled: string, modules: string): string {
  let bundle;
  try {
    if (!statSync(bundled).isFile()) return modules;
    bundle = statSync(join(dirname(bundled), 'guard-hook.bundle.cjs'));
  } catch {
    return modules;
  }
  try {
    return bundle.mtimeMs >= statSync(modules).mtimeMs ? bundled : modules;
  } catch {
    return bundled; // no module entry to compare with: the bundle is all there is
  }
}

/** The hook entry deployed by default (see pickHookEntry). */
export function defaultHookEntry(): string {
  return pickHookEntry(bundledHookEntry(), moduleHookEntry());
}

export function guardScriptName(sessionName: string): string {
  const safe = sessionName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return `claude-failover-guard-${safe === '' ? 'session' : safe}`;
}

/** The node flags a bundled entry's code cache was made with (guard-hook.json beside it), else none. */
export function bundledNodeFlags(hookEntry: string): string[] {
  try {
    const m = JSON.parse(readFileSync(join(dirname(hookEntry), 'guard-hook.json'), 'utf8')) as { nodeFlags?: unknown };
    const flags: unknown[] = Array.isArray(m.nodeFlags) ? m.nodeFlags : [];
    return flags.every((f): f is string => typeof f === 'string' && /^--[a-z0-9-]+(=[\w.,-]+)?$/.test(f)) ? (flags as string[]) : [];
  } catch {
    return [];
  }
}

/** The launcher script's text. */
export function guardScript(opts: DeployGuardOptions & { nodePath: string; hookEntry: string }): string {
  const args = ['--session', opts.sessionName, '--state-dir', resolve(opts.stateDir), '--mode', opts.mode ?? 'enforce', '--project', resolve(opts.projectDir)];
  for (const p of opts.protectedPaths ?? []) args.push('--protect', resolve(p));
  if (opts.sudoAllow !== undefined) args.push('--sudo-allow', opts.sudoAllow.join(','));
  // No `exec`: the shell stays to turn every other outcome (node missing, a crash, a signal) into a deny.
  // Claude Code only blocks on exit 2; any other code would let the call run.
  return [
    '#!/bin/sh',
    '# claude-failover safety guard (PreToolUse hook). Generated on every session launch; do not edit.',
    [opts.nodePath, ...(opts.nodeFlags ?? []), opts.hookEntry, ...args].map(shellQuote).join(' '),
    'code=$?',
    '[ "$code" -eq 0 ] && exit 0',
    '[ "$code" -eq 2 ] || echo "claude-failover safety guard failed (exit $code); denying the call" >&2',
    'exit 2',
    '',
  ].join('\n');
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * Runs an executable with `input` on stdin. A script just written may be refused with ETXTBSY for a
 * moment: a child forked by this process (a tmux client, another hook) between the write's open and
 * its close holds a copy of the write descriptor until it execs. That passes: it is retried.
 */
export async function runScript(script: string, input: string, timeoutMs: number, args: string[] = []): Promise<{ code: number | null; stderr: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runScriptOnce(script, input, timeoutMs, args);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 25 * attempt));
    }
  }
}

function runScriptOnce(script: string, input: string, timeoutMs: number, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(script, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => { clearTimeout(timer); resolvePromise({ code, stderr }); });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/**
 * Whether `node <flags> -e 0` exits 0. Asked once per node binary (path and mtime) and flag set for the
 * life of the process: a failover redeploys the guard of every session at once, and each check is a
 * node start-up.
 */
const flagChecks = new Map<string, Promise<boolean>>();
async function nodeAcceptsFlags(nodePath: string, flags: readonly string[]): Promise<boolean> {
  const mtime = await stat(nodePath).then((s) => s.mtimeMs, () => 0);
  const key = JSON.stringify([nodePath, mtime, flags]);
  let check = flagChecks.get(key);
  if (!check) {
    check = runScript(nodePath, '', 10_000, [...flags, '-e', '0']).then((r) => r.code === 0, () => false);
    flagChecks.set(key, check);
  }
  return check;
}

/**
 * Writes (or rewrites) the launcher and returns the settings fragment. Throws GuardDeployError when
 * anything is missing or the deployed hook does not deny a known-bad call.
 */
export async function deployGuard(opts: DeployGuardOptions): Promise<DeployedGuard> {
  const nodePath = opts.nodePath ?? process.execPath;
  const hookEntry = resolve(opts.hookEntry ?? defaultHookEntry());
  if (!isAbsolute(opts.projectDir)) throw new GuardDeployError(`projectDir must be absolute (got ${opts.projectDir})`);
  if (!isAbsolute(opts.stateDir)) throw new GuardDeployError(`stateDir must be absolute (got ${opts.stateDir})`);
  if (opts.sessionName.trim() === '') throw new GuardDeployError('sessionName is empty');
  try {
    await access(nodePath, constants.X_OK);
  } catch (err) {
    throw new GuardDeployError(`node binary ${nodePath} is not executable`, { cause: err });
  }
  try {
    await access(hookEntry, constants.R_OK);
  } catch (err) {
    throw new GuardDeployError(`guard hook entry ${hookEntry} is missing (build with: npm run build)`, { cause: err });
  }
  let nodeFlags = [...(opts.nodeFlags ?? bundledNodeFlags(hookEntry))];
  // A node that rejects a flag would exit 9 on every call (a deny): drop the flags instead (they only
  // serve the code cache).
  if (nodeFlags.length > 0 && !(await nodeAcceptsFlags(nodePath, nodeFlags))) nodeFlags = [];
  const hooksDir = join(resolve(opts.projectDir), '.claude', 'hooks');
  const scriptPath = join(hooksDir, guardScriptName(opts.sessionName));
  try {
    await mkdir(hooksDir, { recursive: true, mode: 0o755 });
    await writeAtomic(scriptPath, guardScript({ ...opts, nodePath, hookEntry, nodeFlags }), 0o555);
    await chmod(scriptPath, 0o555);
  } catch (err) {
    throw new GuardDeployError(`cannot write the guard hook to ${scriptPath}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if ((opts.verify ?? true) && (opts.mode ?? 'enforce') === 'enforce') {
    const probe = JSON.stringify({
      session_id: 'deploy-check', cwd: resolve(opts.projectDir), hook_event_name: 'PreToolUse', tool_name: 'Write',
      tool_input: { file_path: join(resolve(opts.projectDir), '.claude', 'settings.json'), content: '{}' }, tool_use_id: DEPLOY_PROBE_ID,
    });
    let r;
    try {
      r = await runScript(scriptPath, probe, 20_000);
    } catch (err) {
      throw new GuardDeployError(`the deployed guard ${scriptPath} could not be run: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (r.code !== 2) {
      throw new GuardDeployError(`the deployed guard ${scriptPath} did not block a write to .claude/settings.json (exit ${String(r.code)}): ${r.stderr.trim().slice(0, 300)}`);
    }
    // Blocked by the policy, not by a broken hook denying everything (a crash, a missing module).
    if (!/blocked this Write call \[(?!internal-error|invalid-input)/.test(r.stderr)) {
      throw new GuardDeployError(`the deployed guard ${scriptPath} denies calls because it is broken: ${r.stderr.trim().slice(0, 300)}`);
    }
  }
  const command = shellQuote(scriptPath);
  return { scriptPath, command, settings: guardSettingsFragment(command) };
}
