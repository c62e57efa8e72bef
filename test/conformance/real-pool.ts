/**
 * A pool of REAL Claude Code sessions for the conformance suite: the CLI pinned in package.json
 * (found in node_modules, never downloaded), pointed at the Anthropic API stand-in
 * (src/demo/fake-anthropic-server.ts) on 127.0.0.1, under `claude-failover run` with default
 * flags: only paths, the tmux socket and the accounts' short pollInterval are set.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { join } from 'node:path';
import { deliverPrompt } from '../../src/adapters/delivery.js';
import { TmuxAdapter } from '../../src/adapters/tmux.js';
import { startFakeAnthropicServer, type FakeAnthropicServer, type FakeAnthropicServerOptions } from '../../src/demo/fake-anthropic-server.js';
import type { FakeWindows } from '../../src/demo/fake-usage-server.js';
import { findRealClaude, realClaudeEnv } from '../../src/demo/real-claude.js';
import { runCli } from '../support/cli.js';
import { until, type DaemonProcess } from '../support/daemon.js';
import { PoolBase, type PoolAccount } from '../support/pool.js';

/** The pinned CLI; throws (the suite fails, it never skips) when it is not installed. */
export const REAL_CLAUDE = findRealClaude();

export interface RealPoolSpec {
  accounts: PoolAccount[];
  sessions: string[];
  /** Extra arguments after `--dangerously-skip-permissions`. */
  args?: string[];
  api?: FakeAnthropicServerOptions;
  /**
   * Flags for `claude-failover run`. The conformance suite passes none (the defaults); the failover
   * bench passes the same flags to its simulator and real-CLI runs so that their figures compare.
   */
  daemonArgs?: string[];
}

export class RealPool extends PoolBase {
  api!: FakeAnthropicServer;

  constructor(readonly spec: RealPoolSpec) {
    super();
  }

  async setup(initial: Record<string, FakeWindows> = {}): Promise<void> {
    this.api = await startFakeAnthropicServer(this.spec.api);
    for (const a of this.spec.accounts) this.api.setWindows(this.token(a.name), initial[a.name] ?? { fiveHour: 10, sevenDay: 10 });
    const env = realClaudeEnv(this.api.url);
    this.writePool(this.spec.accounts, this.api.usageEndpoint, '1s', this.spec.sessions.map((name) => ({ name, command: [REAL_CLAUDE.path, '--dangerously-skip-permissions', ...(this.spec.args ?? [])], env })));
  }

  /** `claude-failover run` with default flags (paths and the tmux socket only), unless the spec names some. */
  start(): DaemonProcess {
    return this.startDaemon(this.spec.daemonArgs ?? []);
  }

  /** Queues a task with `claude-failover task add`; returns its id. */
  async addTask(title: string, body: string): Promise<string> {
    const r = await runCli(['task', 'add', '--queue', this.queue, '--title', title, '-'], { input: body });
    if (r.code !== 0) throw new Error(`task add failed: ${r.stderr}`);
    return r.stdout.trim().split('\n').at(-1) as string;
  }

  get queue(): string {
    return join(this.project, '.agent-queue');
  }

  /** The transcript of a conversation in the shared store (every account's `projects/` links there). */
  transcript(conversation: string): Record<string, unknown>[] {
    const dir = join(this.shared, 'projects', this.project.replace(/[^A-Za-z0-9]/g, '-'));
    return readFileSync(join(dir, `${conversation}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Delivers a prompt with the controller's own delivery (paste, wait until shown, Enter, verify). */
  override async prompt(session: string, text: string): Promise<void> {
    await deliverPrompt(new TmuxAdapter({ socketName: this.tmux.socket }), session, text);
  }

  /** The raw hook inputs the session's observer recorded (Claude Code's own JSON), oldest first. */
  hookInputs(session: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const name of ['events.jsonl.1', 'events.jsonl']) {
      const file = join(this.stateDir, 'sessions', session, name);
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
        const r = JSON.parse(line) as { via?: string; raw?: Record<string, unknown>; event?: string };
        out.push(r.raw ? { ...r.raw, hook_event_name: r.via === 'statusline' ? 'StatusLine' : r.raw.hook_event_name } : { hook_event_name: r.event });
      }
    }
    return out;
  }

  /** The `reason` of every SessionEnd the session's processes reported. */
  sessionEnds(session: string): unknown[] {
    return this.hookInputs(session).filter((h) => h.hook_event_name === 'SessionEnd').map((h) => h.reason);
  }

  panePids(): Record<string, number> {
    return this.tmux.panePids();
  }

  pane(session: string): string {
    return this.tmux.run(['capture-pane', '-p', '-J', '-t', `=${session}:`]).stdout;
  }

  /**
   * Until the real TUI itself is done with its turn: its mode line no longer offers `esc to
   * interrupt`. The controller sees a session idle at the Stop hook, a moment before that; a
   * prompt submitted in between is queued by Claude Code (and trimmed: docs/simulator.md).
   */
  async waitQuiet(session: string, ms = 30_000): Promise<void> {
    await until(() => !this.pane(session).includes('esc to interrupt'), ms, `${session}: no turn running in the TUI`);
  }

  async waitReady(names: string[], account: string, ms = 60_000): Promise<void> {
    await until(() => this.active() === account, ms, `${account} active`);
    await this.waitIdle(names, account, ms);
  }

  /** What to look at when a conformance test fails: panes, session states, API requests, controller warnings. */
  diagnostics(): string {
    const pool = this.status()['Account/*'] as { activeAccount?: string; conditions?: { type: string; reason: string; message: string }[] } | undefined;
    const active = pool?.conditions?.find((c) => c.type === 'Ready') ?? pool?.conditions?.[0];
    const out: string[] = [`pool ${this.root}: active=${String(pool?.activeAccount)} ${active ? `${active.reason}: ${active.message}` : ''}`];
    for (const s of this.spec.sessions) {
      const st = this.session(s) ?? {};
      const ready = (st.conditions as { type: string; reason?: string; message?: string }[] | undefined)?.find((c) => c.type === 'Ready');
      out.push(`--- session ${s}: activity=${String(st.activity)} account=${String(st.account)} conversation=${String(st.conversationId)} launches=${String(st.launches)} restarts=${String(st.restarts)} panePid=${String(st.panePid)} ready=${ready ? `${String(ready.reason)}: ${String(ready.message)}` : '-'}`);
      out.push(`pane pid now: ${String(this.panePids()[s])}; tmux: ${this.tmux.run(['list-panes', '-a', '-F', '#{session_name} pid=#{pane_pid} dead=#{pane_dead} status=#{pane_dead_status}']).stdout.trim() || '(no server)'}`);
      out.push(...this.tmux.run(['capture-pane', '-p', '-t', `=${s}:`]).stdout.split('\n').filter((l) => l.trim() !== '').slice(-25));
      out.push(`hooks: ${this.hookInputs(s).map((h) => String(h.hook_event_name)).join(' ')}`);
    }
    out.push('--- API requests (not usage polls):');
    for (const r of this.api?.requests.filter((x) => x.kind !== 'usage').slice(-20) ?? []) out.push(`#${r.seq} ${r.kind} ${r.status} token=${r.token ?? '-'} step=${r.step ?? '-'} ${JSON.stringify((r.prompt ?? '').slice(0, 80))} -> ${JSON.stringify(r.answered ?? null).slice(0, 120)}`);
    out.push('--- events (last 20):');
    for (const e of this.events().slice(-20)) out.push(`${e.time} ${e.key} ${e.type} ${e.reason}: ${e.message}`.slice(0, 300));
    out.push('--- controller warnings:');
    for (const l of this.daemon?.lines.filter((x) => typeof x.level === 'number' && x.level >= 40).slice(-15) ?? []) out.push(JSON.stringify(l).slice(0, 300));
    return out.join('\n');
  }

  protected async closeServers(): Promise<void> {
    await this.api?.close();
  }
}

/**
 * A test file's pool factory: `pool(spec)` sets a pool up (after `prepare`, for what needs the
 * pool's own directory); after each test every pool is closed, its diagnostics printed first when
 * the test failed.
 */
export function realPools(): (spec: RealPoolSpec, prepare?: (p: RealPool) => void) => Promise<RealPool> {
  const pools: RealPool[] = [];
  afterEach(async ({ task }) => {
    for (const p of pools.splice(0)) {
      if (task.result?.state === 'fail') {
        // In the failure's own message: a CI log that keeps only the failures keeps this too.
        const said = p.diagnostics();
        for (const e of task.result.errors ?? []) e.message += `\n${said}`;
        console.error(said);
      }
      await p.close();
    }
  });
  return async (spec, prepare) => {
    const p = new RealPool(spec);
    pools.push(p);
    prepare?.(p);
    await p.setup();
    return p;
  };
}
