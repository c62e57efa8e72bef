/** One simulator scenario: temp config dir + workdir, hook recorders, a private tmux server. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, PrivateTmux, pollUntil, readJsonl, removeDir, SIM_JS, tempDir } from './support.js';

/** Delay between paste and Enter, as the controller uses (~100–500 ms; the real delivery waits for the paste to show, src/adapters/delivery.ts). */
export const ENTER_DELAY_MS = 120;

export const HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PostToolUse', 'Stop', 'StopFailure', 'Notification', 'SessionEnd'] as const;

export class SimScenario {
  readonly root = tempDir('e2e');
  readonly config = join(this.root, 'config');
  readonly work = join(this.root, 'work dir;x'); // a space and a `;` exercise the cwd encoding
  readonly hooksDir = join(this.root, 'hooks');
  readonly tmux = new PrivateTmux();

  constructor() {
    mkdirSync(this.config, { recursive: true });
    mkdirSync(this.work, { recursive: true });
    mkdirSync(this.hooksDir, { recursive: true });
  }

  /**
   * A command hook that appends its stdin JSON as one line to hooks/<Event>.jsonl, in a single
   * write (O_APPEND), so concurrent sessions cannot interleave their lines.
   */
  recorder(event: string): string {
    const file = join(this.hooksDir, `${event}.jsonl`);
    return `line=$(cat); printf '%s\n' "$line" >> '${file}'`;
  }

  hookEvents(event: string): Record<string, unknown>[] {
    return readJsonl(join(this.hooksDir, `${event}.jsonl`));
  }

  /** A --settings file registering recorders for every event (plus `extra` hooks per event) and a status line. */
  writeSettings(name: string, extra: Record<string, unknown[]> = {}, statusLine?: string): string {
    const hooks: Record<string, unknown[]> = {};
    for (const e of HOOK_EVENTS) hooks[e] = [{ hooks: [{ type: 'command', command: this.recorder(e) }] }, ...(extra[e] ?? [])];
    const settings: Record<string, unknown> = { hooks };
    if (statusLine !== undefined) settings['statusLine'] = { type: 'command', command: statusLine };
    const path = join(this.root, name);
    writeFileSync(path, JSON.stringify(settings, null, 2));
    return path;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return cleanEnv({ CLAUDE_CONFIG_DIR: this.config, CLAUDE_SIM_WORK_MS: '200', CLAUDE_SIM_IDLE_NOTIFY_MS: '0', TZ: 'UTC', ...extra });
  }

  launch(name: string, args: string[], extraEnv: Record<string, string> = {}): void {
    this.tmux.start(name, [process.execPath, SIM_JS, ...args], this.env(extraEnv), this.work);
  }

  log(kind: 'invocations' | 'received' | 'events'): Record<string, unknown>[] {
    return readJsonl(join(this.config, 'claude-sim', `${kind}.jsonl`));
  }

  /** Waits until the TUI shows its input box (the `> ` prompt line) and the SessionStart hook has run. */
  async ready(name: string): Promise<void> {
    await pollUntil(() => this.tmux.capture(name).includes('❯ '), `${name} prompt box`);
    await pollUntil(() => this.hookEvents('SessionStart').length > 0 || undefined, 'SessionStart hook');
  }

  /**
   * The controller's delivery protocol: paste, wait for the pane to show it, then a separate Enter
   * after a short delay. The delay is part of the protocol, not a wait for a result: the simulator,
   * like Claude Code, swallows an Enter that follows a paste within CLAUDE_SIM_PASTE_ENTER_GUARD_MS (50 ms).
   */
  async submit(name: string, text: string, marker: string): Promise<void> {
    this.tmux.paste(name, text);
    await pollUntil(() => this.tmux.capture(name).includes(marker), `pasted text "${marker}" in the input box`);
    await this.enterAfter(name, Date.now());
  }

  /**
   * Sends a separate Enter ENTER_DELAY_MS after `shownAt`: the moment the pane showed the text,
   * i.e. after the simulator had processed the paste (measuring from the send would race on a
   * loaded machine).
   */
  async enterAfter(name: string, shownAt: number): Promise<void> {
    const wait = ENTER_DELAY_MS - (Date.now() - shownAt);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.tmux.keys(name, 'Enter');
  }

  async stopCount(n: number): Promise<void> {
    await pollUntil(() => this.hookEvents('Stop').length >= n || undefined, `${n} Stop hook(s)`, 15_000);
  }

  /**
   * Waits for the pane's process to exit; returns the exit code the simulator logged for `pid`
   * (its last `exit` record), checked against tmux's `#{pane_dead_status}` when tmux has one
   * (tmux 3.3a sometimes leaves it empty).
   */
  async exitStatus(name: string, timeoutMs = 10_000): Promise<number | undefined> {
    try {
      await pollUntil(() => this.tmux.paneDead(name).dead || undefined, `${name} exit`, timeoutMs);
    } catch (e) {
      const pid = this.tmux.tmux(['display', '-p', '-t', `=${name}:`, '#{pane_pid} #{pane_dead} [#{pane_dead_status}]']).trim();
      const ps = spawnSync('sh', ['-c', `ps -eo pid,ppid,stat,etime,cmd | grep -v grep | grep -E 'claude-sim|tmux'`], { encoding: 'utf8' }).stdout;
      throw new Error(`${(e as Error).message}\npane: ${pid}\n${ps}\n${this.tmux.capture(name)}`);
    }
    const pid = Number(this.tmux.tmux(['display', '-p', '-t', `=${name}:`, '#{pane_pid}']).trim());
    const logged = this.log('invocations').filter((r) => r['type'] === 'exit' && r['pid'] === pid).pop();
    const code = typeof logged?.['code'] === 'number' ? logged['code'] : undefined;
    const tmuxStatus = this.tmux.paneDead(name).status;
    if (tmuxStatus !== undefined && code !== undefined && tmuxStatus !== code) throw new Error(`${name}: tmux exit status ${tmuxStatus} but the simulator logged ${code}`);
    return tmuxStatus ?? code;
  }

  /** Kills the tmux server, waits for the simulators to finish their SIGHUP exit, removes the temp tree. */
  async dispose(): Promise<void> {
    let pids: number[] = [];
    try {
      pids = this.tmux.tmux(['list-panes', '-a', '-F', '#{pane_pid}']).split('\n').filter((l) => l !== '').map(Number);
    } catch {
      pids = [];
    }
    this.tmux.kill();
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await pollUntil(() => pids.every((p) => !alive(p)) || undefined, 'simulators to exit after kill-server', 5000).catch(() => undefined);
    removeDir(this.root);
  }
}
