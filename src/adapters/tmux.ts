/**
 * TmuxPort on a tmux server of the controller's own (`-L <name>` or `-S <path>`).
 * Targets are always exact (`=name`, `=name:` for the session's current pane): `has-session -t
 * agent-1` would also match `agent-10`. Text goes in with load-buffer + paste-buffer, never with
 * send-keys -l (which loses a trailing `;` and misreads a leading `-`).
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CfError, RetryableError } from '../core/errors.js';
import type { NewSessionSpec, SequenceStep, TmuxPort, TmuxSessionInfo } from '../core/ports.js';
import { agentBaseEnv, TMUX_OWN_ENV } from './agent-env.js';

/** The user options the controller records on its sessions (read back by listSessions). */
export const CF_OPTIONS = ['cf-owner', 'cf-account', 'cf-config-dir', 'cf-conversation', 'cf-generation', 'cf-prune', 'cf-launched-at', 'cf-launch-mode'] as const;

export interface TmuxAdapterOptions {
  /** `-L` socket name (a private server). */
  socketName?: string;
  /** `-S` socket path; wins over socketName. */
  socketPath?: string;
  /** `-f` config file used when this call starts the server (e.g. /dev/null in tests). */
  configFile?: string;
  tmuxBin?: string;
  /**
   * The explicit environment of every tmux client this adapter runs — so of a server it starts
   * (tmux copies the starting client's environment into the server's global environment) — and
   * the base of every pane's environment. Default: the allowlisted part of the controller's
   * environment (agentBaseEnv). Never the controller's whole environment.
   */
  env?: Record<string, string>;
  width?: number;
  height?: number;
  timeoutMs?: number;
}

const NO_SERVER = /no server running|error connecting to|No such file or directory|server exited unexpectedly/;
/** The client reached a server that was exiting (it had just lost its last session). */
const SERVER_EXITING = /server exited unexpectedly|lost server/;
const NO_SESSION = /can't find session|no such session|session not found|can't find pane|no such window/;

export class TmuxAdapter implements TmuxPort {
  readonly #opts: TmuxAdapterOptions;

  constructor(opts: TmuxAdapterOptions = {}) {
    this.#opts = opts;
  }

  /** The socket arguments, e.g. for printing `tmux -L x attach -t =ccl-1`. */
  socketArgs(): string[] {
    if (this.#opts.socketPath) return ['-S', this.#opts.socketPath];
    if (this.#opts.socketName) return ['-L', this.#opts.socketName];
    return [];
  }

  /**
   * Runs one tmux client. Plain child_process rather than execa: a failover runs a few hundred of
   * these at once and execa's per-call set-up (environment copy, abort wiring) was a third of the cost.
   */
  #tmux(args: string[], input?: string): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const full = [...this.socketArgs(), ...(this.#opts.configFile ? ['-f', this.#opts.configFile] : []), ...args];
    const bin = this.#opts.tmuxBin ?? 'tmux';
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = spawn(bin, full, { stdio: [input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: this.#env() });
      } catch (err) {
        reject(new RetryableError('CF_ERR_TMUX', 'TmuxUnavailable', `tmux ${args[0]} failed: ${(err as Error).message}`));
        return;
      }
      const out: Buffer[] = [];
      const errs: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.#opts.timeoutMs ?? 10_000);
      child.stdout?.on('data', (c: Buffer) => out.push(c));
      child.stderr?.on('data', (c: Buffer) => errs.push(c));
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT') reject(new CfError('CF_ERR_TMUX_MISSING', 'tmux is not installed (apt-get install -y tmux)'));
        else reject(new RetryableError('CF_ERR_TMUX', 'TmuxUnavailable', `tmux ${args[0]} failed: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) reject(new RetryableError('CF_ERR_TMUX', 'TmuxUnavailable', `tmux ${args[0]} failed: timed out after ${this.#opts.timeoutMs ?? 10_000} ms`));
        else if (code === null) reject(new RetryableError('CF_ERR_TMUX', 'TmuxUnavailable', `tmux ${args[0]} failed: killed by ${signal ?? 'a signal'}`));
        else resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8'), exitCode: code });
      });
      if (input !== undefined) {
        child.stdin?.on('error', () => undefined); // tmux exited before reading: the exit code says why
        child.stdin?.end(input);
      }
    });
  }

  /**
   * The clients' environment: the explicit one, never the controller's (a server started by one
   * of these clients inherits it). Without TMUX, so a client never targets an enclosing server.
   */
  #envCache: Record<string, string> | undefined;
  #env(): Record<string, string> {
    if (!this.#envCache) {
      const env = { ...(this.#opts.env ?? agentBaseEnv()) };
      for (const k of TMUX_OWN_ENV) delete env[k];
      this.#envCache = env;
    }
    return this.#envCache;
  }

  async #must(args: string[], input?: string): Promise<string> {
    const r = await this.#tmux(args, input);
    if (r.exitCode !== 0) throw new RetryableError('CF_ERR_TMUX', 'TmuxCommandFailed', `tmux ${args[0]}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    return r.stdout;
  }

  #listing: Promise<TmuxSessionInfo[]> | undefined;
  #nextListing: Promise<TmuxSessionInfo[]> | undefined;

  /**
   * Concurrent callers share list-panes runs, and every caller still gets a listing taken after its
   * call: while one runs, later callers share the single next run, started when it ends. A failover
   * observes every session at once; this turns twenty tmux clients into two or three.
   */
  listSessions(): Promise<TmuxSessionInfo[]> {
    if (!this.#listing) {
      this.#listing = this.#listSessions().finally(() => {
        this.#listing = undefined;
      });
      return this.#listing;
    }
    this.#nextListing ??= this.#listing.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.#nextListing = undefined;
      return this.listSessions();
    });
    return this.#nextListing;
  }

  async #listSessions(): Promise<TmuxSessionInfo[]> {
    // tmux marks a pane dead when its pty closes and records the exit status when it reaps the
    // child; a listing in between shows a dead pane without its status (seen for seconds while the
    // server was busy). The status is what tells the operator why an agent exited: read it where
    // the kernel keeps it for the unreaped process (a zombie's /proc/<pid>/stat). A pane killed by
    // a signal has no status, only a signal.
    const unknown = (s: TmuxSessionInfo) => s.paneDead && s.paneDeadStatus === undefined && s.paneDeadSignal === undefined;
    for (let attempt = 0; ; attempt++) {
      const listed = await this.#listPanes();
      if (!listed.some(unknown)) return listed;
      const completed = await Promise.all(listed.map(async (s) => (unknown(s) && s.panePid !== undefined ? { ...s, ...(await zombieExit(s.panePid)) } : s)));
      // Still unknown: tmux reaped the process between the listing and the read; list once more.
      if (attempt >= 1 || !completed.some(unknown)) return completed;
    }
  }

  async #listPanes(): Promise<TmuxSessionInfo[]> {
    const fields = ['#{session_name}', '#{session_created}', '#{pane_pid}', '#{pane_dead}', '#{pane_dead_status}', '#{pane_dead_signal}', '#{pane_index}', '#{window_index}', ...CF_OPTIONS.map((o) => `#{@${o}}`)];
    // One line per pane; the controller's sessions have one pane. Fields are tab-separated and
    // session names cannot contain tabs or newlines (tmux replaces them).
    const r = await this.#tmux(['list-panes', '-a', '-F', fields.join('\t')]);
    if (r.exitCode !== 0) {
      // A server without sessions (the tmux unit's, before the first launch) answers "no current target".
      if (NO_SERVER.test(r.stderr) || /no current target/.test(r.stderr)) return [];
      throw new RetryableError('CF_ERR_TMUX', 'TmuxCommandFailed', `tmux list-panes: ${r.stderr.trim()}`);
    }
    const bySession = new Map<string, TmuxSessionInfo>();
    for (const line of r.stdout.split('\n')) {
      if (!line) continue;
      const parts = line.split('\t');
      const name = parts[0] as string;
      if (bySession.has(name)) continue; // first pane of the session's first window
      const options: Record<string, string> = {};
      CF_OPTIONS.forEach((o, i) => {
        const v = parts[8 + i];
        if (v) options[o] = v;
      });
      const pid = Number.parseInt(parts[2] ?? '', 10);
      const deadStatus = Number.parseInt(parts[4] ?? '', 10);
      const deadSignal = Number.parseInt(parts[5] ?? '', 10);
      bySession.set(name, {
        name,
        owner: options['cf-owner'],
        created: Number.parseInt(parts[1] ?? '0', 10),
        panePid: Number.isFinite(pid) ? pid : undefined,
        paneDead: parts[3] === '1',
        paneDeadStatus: Number.isFinite(deadStatus) ? deadStatus : undefined,
        ...(Number.isFinite(deadSignal) ? { paneDeadSignal: deadSignal } : {}),
        options,
      });
    }
    return [...bySession.values()];
  }

  async newSession(spec: NewSessionSpec): Promise<void> {
    const argv = paneArgv(this.#env(), spec);
    const target = `=${spec.name}`;
    const args = [
      'new-session', '-d', '-s', spec.name, '-c', spec.cwd,
      '-x', String(this.#opts.width ?? 220), '-y', String(this.#opts.height ?? 50),
      '--', ...argv,
      // Chained in the same command queue, before the server can reap a process that exits at once.
      ';', 'set-option', '-w', '-t', `${target}:`, 'remain-on-exit', 'on',
      ';', 'set-option', '-t', `${target}:`, '@cf-owner', spec.owner,
    ];
    for (const [k, v] of Object.entries(spec.options)) args.push(';', 'set-option', '-t', `${target}:`, `@${k.replace(/^@/, '')}`, v);
    let r = await this.#tmux(args);
    // Killing a server's last session makes the server exit; a client that connects while it exits
    // is dropped ("server exited unexpectedly") and nothing was created. The next client starts a
    // new server. (A relaunch kills the dead session and creates it again: the usual case.)
    for (let attempt = 1; r.exitCode !== 0 && SERVER_EXITING.test(r.stderr) && attempt <= 3; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      r = await this.#tmux(args);
    }
    if (r.exitCode !== 0) {
      if (/duplicate session/.test(r.stderr)) throw new RetryableError('CF_ERR_TMUX_EXISTS', 'SessionExists', `tmux session ${spec.name} already exists`);
      throw new RetryableError('CF_ERR_TMUX', 'LaunchFailed', `tmux new-session ${spec.name}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
    }
  }

  async killSession(name: string): Promise<void> {
    const r = await this.#tmux(['kill-session', '-t', `=${name}`]);
    if (r.exitCode !== 0 && !NO_SESSION.test(r.stderr) && !NO_SERVER.test(r.stderr)) {
      throw new RetryableError('CF_ERR_TMUX', 'TmuxCommandFailed', `tmux kill-session ${name}: ${r.stderr.trim()}`);
    }
  }

  async sendKeys(name: string, keys: readonly string[]): Promise<void> {
    // Keys into a dead pane are harmless (unlike a paste), but pointless: skip them the same way.
    // Only key names (Enter, C-c, Escape, BSpace, ...): literal text goes through pasteText.
    for (const k of keys) if (!/^[A-Za-z0-9-]+$/.test(k)) throw new CfError('CF_ERR_TMUX_KEY', `not a key name: ${JSON.stringify(k)} (use pasteText for text)`);
    await this.#must(['if-shell', '-F', '-t', `=${name}:`, '#{pane_dead}', '', `send-keys -t =${name}: ${keys.join(' ')}`]);
  }

  /**
   * Pastes `text` into the session's pane, byte for byte: `-r` keeps LF as LF (without it tmux
   * turns every LF into CR), `-p` wraps it in bracketed-paste markers when the application asked
   * for them (Claude Code does). tmux 3.3's server crashes (taking every session with
   * it) when paste-buffer targets a dead pane, so the paste is guarded inside the server by
   * `if-shell -F '#{pane_dead}'`; a dead pane leaves the buffer behind and raises PaneDead.
   */
  async pasteText(name: string, text: string): Promise<void> {
    const buffer = `cf-${randomBytes(6).toString('hex')}`;
    await this.#must(['load-buffer', '-b', buffer, '-'], text);
    await this.#must(['if-shell', '-F', '-t', `=${name}:`, '#{pane_dead}', '', `paste-buffer -p -r -d -b ${buffer} -t =${name}:`]);
    const left = await this.#tmux(['delete-buffer', '-b', buffer]);
    if (left.exitCode === 0) throw new RetryableError('CF_ERR_TMUX_PANE_DEAD', 'PaneDead', `not pasting into ${name}: its pane is dead`);
  }

  /**
   * One tmux client for the whole sequence: keys and pastes are guarded by `if-shell -F
   * '#{pane_dead}'` like sendKeys and pasteText, pauses are `run-shell -d` (tmux ≥ 3.2), which
   * delays this client's command queue only. A failover stops every session at once: one client
   * per stop instead of five.
   */
  async sendSequence(name: string, steps: readonly SequenceStep[]): Promise<void> {
    const target = `=${name}:`;
    const args: string[] = [];
    const push = (...cmd: string[]) => {
      if (args.length > 0) args.push(';');
      args.push(...cmd);
    };
    for (const step of steps) {
      if ('delayMs' in step) {
        push('run-shell', '-d', (Math.max(0, step.delayMs) / 1000).toFixed(3));
      } else if ('keys' in step) {
        for (const k of step.keys) if (!/^[A-Za-z0-9-]+$/.test(k)) throw new CfError('CF_ERR_TMUX_KEY', `not a key name: ${JSON.stringify(k)} (use pasteText for text)`);
        push('if-shell', '-F', '-t', target, '#{pane_dead}', '', `send-keys -t ${target} ${step.keys.join(' ')}`);
      } else {
        // tmux takes an argument ending in ";" as a command separator, and a buffer set from an
        // argument cannot hold a line break safely: such text goes through pasteText.
        if (step.literal.endsWith(';') || /[\n\r]/.test(step.literal)) throw new CfError('CF_ERR_TMUX_TEXT', `text for sendSequence must be one line not ending in ";" (use pasteText): ${JSON.stringify(step.literal)}`);
        const buffer = `cf-${randomBytes(6).toString('hex')}`;
        push('set-buffer', '-b', buffer, '--', step.literal);
        push('if-shell', '-F', '-t', target, '#{pane_dead}', `delete-buffer -b ${buffer}`, `paste-buffer -p -r -d -b ${buffer} -t ${target}`);
      }
    }
    if (args.length > 0) await this.#must(args);
  }

  async capturePane(name: string, history = 0): Promise<string> {
    return this.#must(['capture-pane', '-p', '-J', '-t', `=${name}:`, ...(history > 0 ? ['-S', String(-history)] : [])]);
  }

  async setOption(name: string, option: string, value: string): Promise<void> {
    await this.#must(['set-option', '-t', `=${name}:`, option.startsWith('@') ? option : `@${option}`, value]);
  }

  /**
   * Removes `names` from the server's global environment (a server started outside the controller,
   * e.g. from an operator's shell, copied that shell's environment). Returns the names removed;
   * none when no server runs. Panes never read the global environment (see paneArgv); this keeps
   * the variables out of `tmux show-environment -g`, which an agent can run.
   */
  async unsetGlobalEnvironment(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const r = await this.#tmux(['show-environment', '-g']);
    if (r.exitCode !== 0) {
      if (NO_SERVER.test(r.stderr)) return [];
      throw new RetryableError('CF_ERR_TMUX', 'TmuxCommandFailed', `tmux show-environment: ${r.stderr.trim()}`);
    }
    const present = new Set(r.stdout.split('\n').map((l) => l.slice(0, l.indexOf('='))).filter((n) => n !== '' && !n.startsWith('-')));
    const found = names.filter((n) => present.has(n));
    if (found.length === 0) return [];
    await this.#must(found.flatMap((n, i) => [...(i > 0 ? [';'] : []), 'set-environment', '-g', '-u', n]));
    return found;
  }

  async killServer(): Promise<void> {
    await this.#tmux(['kill-server']);
  }
}

/** First argument of the pane's `sh -c` (its `$0`): names the trampoline in `ps` and errors. */
const PANE_ENV_ARGV0 = 'claude-failover-env';

/**
 * The pane's program: `/bin/sh -c 'exec /usr/bin/env -i -- <tmux's own> "$@"' …` with the explicit
 * variables as `NAME=value` arguments, then the command. `env -i` starts from nothing, so whatever
 * the tmux server's global environment holds (a server started by hand from a shell) never
 * reaches the agent; tmux's own per-pane variables (TERM and friends, TMUX, TMUX_PANE, PWD) are
 * kept. A Session's `env` may override TERM; TMUX and TMUX_PANE are always tmux's. `sh` and `env`
 * both exec, so the pane's pid is the agent's.
 */
export const PANE_ENV_SCRIPT = [
  'exec /usr/bin/env -i --',
  ...['TERM', 'TERM_PROGRAM', 'TERM_PROGRAM_VERSION', 'COLORTERM', 'PWD', ...TMUX_OWN_ENV].map((v) => `\${${v}+"${v}=$${v}"}`),
  '"$@"',
].join(' ');

/** argv of a pane with exactly `base` + `spec.env` (minus `spec.unsetEnv`) and tmux's own variables. */
export function paneArgv(base: Readonly<Record<string, string>>, spec: Pick<NewSessionSpec, 'argv' | 'env' | 'unsetEnv'>): string[] {
  const env: Record<string, string> = { ...base, ...spec.env };
  for (const k of [...spec.unsetEnv, ...TMUX_OWN_ENV]) delete env[k];
  const cmd = spec.argv[0] ?? '';
  // env(1) takes every leading NAME=value argument for a variable, the command included.
  if (cmd.includes('=')) throw new CfError('CF_ERR_TMUX_COMMAND', `cannot launch ${JSON.stringify(cmd)}: a command containing "=" would be read by env(1) as a variable; use a path without "="`);
  for (const k of Object.keys(env)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new CfError('CF_ERR_TMUX_ENV', `not an environment variable name: ${JSON.stringify(k)}`);
  return ['/bin/sh', '-c', PANE_ENV_SCRIPT, PANE_ENV_ARGV0, ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...spec.argv];
}

/**
 * The exit of a process that has not been reaped yet (a zombie), from field 52 of
 * /proc/<pid>/stat (`exit_code`, in waitpid's format; Linux 3.5+): `{}` when the process is not a
 * zombie (reaped, pid reused, or no /proc).
 */
export async function zombieExit(pid: number): Promise<{ paneDeadStatus?: number; paneDeadSignal?: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const code = Number.parseInt(fields[49] ?? '', 10);
  if (fields[0] !== 'Z' || !Number.isFinite(code)) return {};
  return (code & 0x7f) === 0 ? { paneDeadStatus: (code >> 8) & 0xff } : { paneDeadSignal: code & 0x7f };
}
