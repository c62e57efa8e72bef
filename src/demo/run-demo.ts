/**
 * `claude-failover demo`: the bundled demo pool, live. It runs everything on this machine and
 * needs no account, token or network:
 * - a local stand-in of the usage endpoint on 127.0.0.1:18471 (the demo accounts' manifests
 *   point there) with demo-only tokens in the demo accounts' config dirs; with the real CLI
 *   (`--claude real`), a stand-in of the whole Anthropic API on the same address, which also
 *   answers the agents' turns and sends the quota headers;
 * - the controller itself (the same Daemon as `run`) on a private tmux server running the
 *   Claude Code simulator (or the real Claude Code CLI) in 4 pool sessions and 1 dedicated session;
 * - a stream of demo tasks into the two projects' queues;
 * - after --failover-after, it drives the active account's usage over its 90 % threshold (at the
 *   endpoint and in the simulator) and the pool fails over.
 * Ctrl-C stops everything it started and leaves nothing running.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { parseAllDocuments, stringify } from 'yaml';
import { enqueueTask } from '../adapters/queue/index.js';
import { DEFAULT_QUEUE_DIR } from '../api/queue-root.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import { Daemon } from '../runtime/daemon.js';
import type { CfEvent } from '../runtime/events.js';
import { startFakeAnthropicServer, type FakeAnthropicServer } from './fake-anthropic-server.js';
import { startFakeUsageServer, type FakeUsageServer } from './fake-usage-server.js';
import { realClaudeEnv, type RealClaude } from './real-claude.js';

export const DEMO_USAGE_PORT = 18471;
export const DEMO_TMUX_SOCKET = 'cf-demo';
export const DEMO_ACCOUNTS = ['alpha', 'beta', 'gamma'] as const;

export interface DemoOptions {
  /** Directory of the demo manifests to copy (default: the package's examples/demo). */
  manifestsDir?: string;
  /** Where the demo writes its manifests and run dir (default `demoHome()`: a per-user dir). */
  dir?: string;
  failoverAfterMs: number;
  taskEveryMs: number;
  log: Logger;
  /** Writes human lines (banner, progress) for the person watching. */
  say: (line: string) => void;
  /** Stop on its own once the failover completed (headless runs, tests). */
  exitAfterFailover?: boolean;
  /** Extra start/stop of things around the daemon (the control plane). */
  around?: { start(daemon: Daemon): Promise<string | undefined>; stop(): Promise<void> };
  /** Run the real Claude Code CLI (this binary) instead of the simulator. */
  realClaude?: RealClaude;
  /** With the real CLI: how long each answer of the API stand-in takes (default 4 s). */
  turnMs?: number;
}

/** The demo modules' summaries, answered by the API stand-in after an `ls` (real CLI only). */
const MODULES = ['auth', 'billing', 'search', 'ui'] as const;

/**
 * The demo's Session manifests with the real CLI: examples/demo/sessions.yaml with each command
 * replaced by the real binary and the simulator's settings by the stand-in's environment.
 */
export function realSessionsYaml(sessionsYaml: string, claudePath: string, baseUrl: string): string {
  const docs = parseAllDocuments(sessionsYaml).map((d) => d.toJS() as { spec?: Record<string, unknown> } | null).filter((d): d is { spec?: Record<string, unknown> } => d !== null);
  return docs.map((d) => stringify({ ...d, spec: { ...d.spec, command: [claudePath, '--dangerously-skip-permissions'], env: realClaudeEnv(baseUrl) } })).join('---\n');
}

export function demoManifestsDir(): string {
  return resolve(fileURLToPath(new URL('../../examples/demo', import.meta.url)));
}

/**
 * The demo's own directory, per user and outside the install dir (a system-wide install is not
 * writable by its users): `$XDG_STATE_HOME/claude-failover-demo`, else
 * `~/.local/state/claude-failover-demo`. Beside, not inside, the controller's default state dir.
 */
export function demoHome(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'claude-failover-demo');
}

/** The Claude Code simulator's launcher shipped with the package (src/sim/bin/claude), absolute. */
export function simulatorCommand(): string {
  return fileURLToPath(new URL('../../src/sim/bin/claude', import.meta.url));
}

/**
 * Writes the demo manifests into `<dir>/manifests/`, made to run from there: the simulator and the
 * JSON Schemas by absolute path into the package, the run dir `<dir>/run/`, and the usage endpoint
 * on `usagePort`. Every rewrite must apply to every file that has the pattern (a drifted example
 * fails here, not half-way into a demo).
 */
export function writeDemoManifests(source: string, dir: string, usagePort: number): string {
  const out = join(dir, 'manifests');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const schemas = fileURLToPath(new URL('../../schemas/', import.meta.url));
  const rewrites: [RegExp, string][] = [
    [/\.\.\/\.\.\/src\/sim\/bin\/claude/g, simulatorCommand()],
    [/\$schema=\.\.\/\.\.\/schemas\//g, `$schema=${schemas}`],
    [/(^|[\s"'])\.\/run\//gm, '$1../run/'],
    [/127\.0\.0\.1:18471\b/g, `127.0.0.1:${usagePort}`],
  ];
  let files = 0;
  for (const f of readdirSync(source).filter((n) => n.endsWith('.yaml')).sort()) {
    let text = readFileSync(join(source, f), 'utf8');
    for (const [re, to] of rewrites) text = text.replace(re, to);
    if (/\.\.\/\.\.\/|(^|\s)\.\/run\//m.test(text)) throw new Error(`demo manifest ${f}: a path relative to examples/demo is left after the rewrite`);
    writeFileSync(join(out, f), text);
    files += 1;
  }
  if (files === 0) throw new Error(`no demo manifests in ${source}`);
  return out;
}

/** The command a person types to run this CLI again (the installed bin, or node and the script). */
function selfInvocation(): string {
  const script = process.argv[1] ?? 'dist/cli/main.js';
  return basename(script) === 'claude-failover' ? 'claude-failover' : `node ${script}`;
}

function token(account: string): string {
  return `sk-ant-oat01-demo-${account}-local-only`;
}

/** Runs the demo until `stop` resolves (or the failover completed with exitAfterFailover). */
export async function runDemo(opts: DemoOptions, stop: Promise<unknown>): Promise<{ failover?: { from: string; to: string; seconds: number } }> {
  const source = opts.manifestsDir ?? demoManifestsDir();
  const dir = opts.dir ?? demoHome();
  const run = join(dir, 'run');
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  const usageAt = new Map<string, number>([['alpha', 35], ['beta', 20], ['gamma', 10]]);
  let usage: FakeUsageServer | FakeAnthropicServer | undefined;
  const real = opts.realClaude;
  let daemon: Daemon | undefined;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const tmux = new TmuxAdapter({ socketName: DEMO_TMUX_SOCKET });
  let result: { failover?: { from: string; to: string; seconds: number } } = {};
  try {
    // The usual port, else any free one (another user's demo may hold it): the manifests follow.
    // With the real CLI the stand-in is the whole Anthropic API (it serves the usage endpoint too).
    for (const port of [DEMO_USAGE_PORT, 0]) {
      try {
        if (real) {
          const api = await startFakeAnthropicServer({ host: '127.0.0.1', port, turnMs: opts.turnMs ?? 4_000 });
          // Each demo task looks at the project (a real Bash tool call in the real TUI), then answers.
          for (const m of MODULES) api.onPrompt(`Summarize the module ${m}`, { tools: [{ name: 'Bash', input: { command: 'ls -la', description: 'List the project files' } }], text: `Summary of the ${m} module:
- entry points
- data model
- error handling
- tests
- open issues` });
          usage = api;
        } else {
          usage = await startFakeUsageServer({ host: '127.0.0.1', port });
        }
        break;
      } catch (err) {
        if (port === 0) throw new Error(`cannot start the demo ${real ? 'API' : 'usage endpoint'} stand-in on 127.0.0.1 (${(err as Error).message})`);
      }
    }
    if (!usage) throw new Error('the demo usage endpoint did not start');
    const manifests = writeDemoManifests(source, dir, Number(new URL(usage.url).port));
    if (real) {
      const sessions = join(manifests, 'sessions.yaml');
      writeFileSync(sessions, realSessionsYaml(readFileSync(sessions, 'utf8'), real.path, usage.url));
    }
    const setUsage = (account: string, fiveHour: number) => {
      usageAt.set(account, fiveHour);
      usage?.setWindows(token(account), { fiveHour, sevenDay: Math.round(fiveHour / 3) });
      // The simulator reads its own usage file for the status line and the limit message.
      const simDir = join(run, 'accounts', account, 'claude-sim');
      mkdirSync(simDir, { recursive: true });
      writeFileSync(join(simDir, 'usage.json'), JSON.stringify({
        five_hour: { utilization: fiveHour, resets_at: new Date(Date.now() + 3 * 3_600_000).toISOString() },
        seven_day: { utilization: Math.round(fiveHour / 3), resets_at: new Date(Date.now() + 4 * 86_400_000).toISOString() },
      }));
    };
    for (const a of DEMO_ACCOUNTS) {
      const cfg = join(run, 'accounts', a);
      mkdirSync(cfg, { recursive: true });
      // A demo-only token the local stand-in accepts; never a real credential.
      writeFileSync(join(cfg, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: token(a), refreshToken: 'demo', expiresAt: Date.now() + 30 * 86_400_000, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
      setUsage(a, usageAt.get(a) ?? 0);
    }
    await tmux.killServer(); // a demo interrupted by kill -9 may have left its server

    const events: CfEvent[] = [];
    daemon = new Daemon({
      manifests: [manifests],
      stateDir: join(run, 'state'),
      tmuxSocket: DEMO_TMUX_SOCKET,
      resyncMs: 5_000,
      prune: true,
      log: opts.log,
      onEvent: (e) => events.push(e),
    });
    opts.say(real
      ? `demo: in ${dir} (manifests/, run/); the real Claude Code CLI ${real.version} (${real.path}) against the Anthropic API stand-in on ${usage.url}; starting the controller on tmux server "${DEMO_TMUX_SOCKET}"`
      : `demo: in ${dir} (manifests/, run/); usage endpoint stand-in on ${'endpoint' in usage ? usage.endpoint : usage.usageEndpoint}; starting the controller on tmux server "${DEMO_TMUX_SOCKET}"`);
    await daemon.start();
    const url = await opts.around?.start(daemon);
    opts.say('');
    opts.say(`  claude-failover demo is running: 3 accounts (alpha, beta, gamma), 2 projects, 4 pool sessions + 1 dedicated (${real ? `the real Claude Code ${real.version}` : 'the Claude Code simulator'})`);
    if (url) opts.say(`  dashboard:        ${url}`);
    opts.say(`  attach a session: tmux -L ${DEMO_TMUX_SOCKET} attach -t =ccl-0      (detach: Ctrl-b d)`);
    opts.say(`  sessions:         ${selfInvocation()} get sessions --state-dir ${join(run, 'state')}`);
    opts.say(`  in ${Math.round(opts.failoverAfterMs / 1000)}s the demo drives alpha's usage over its 90% threshold and the pool fails over.`);
    opts.say('  Ctrl-C stops everything the demo started.');
    opts.say('');

    let n = 0;
    const projects = ['webapp', 'docs'];
    const addTask = async () => {
      n += 1;
      const project = projects[n % 2] as string;
      const root = join(run, 'projects', project, DEFAULT_QUEUE_DIR); // the demo's Projects keep the default queueDir
      try {
        const t = await enqueueTask(root, { title: `demo task ${n}`, body: `# Demo task ${n}\n\nSummarize the module ${['auth', 'billing', 'search', 'ui'][n % 4]} in five bullet points.\n` });
        opts.log.info({ project, task: t.id }, 'demo: task queued');
      } catch (err) {
        opts.log.warn({ err: (err as Error).message }, 'demo: could not queue a task');
      }
    };
    const tick = () => {
      void addTask();
      timers.push(setTimeout(tick, opts.taskEveryMs));
    };
    timers.push(setTimeout(tick, 1_000));

    const ramp = [60, 80, 93];
    ramp.forEach((pct, i) => {
      timers.push(setTimeout(() => {
        setUsage('alpha', pct);
        opts.say(`demo: alpha's 5-hour usage is now ${pct}%${pct >= 90 ? ' (over its 90% threshold)' : ''}`);
      }, opts.failoverAfterMs + i * 3_000));
    });

    const failedOver = new Promise<{ from: string; to: string; seconds: number }>((resolveDone) => {
      const poll = setInterval(() => {
        const done = events.find((e) => e.reason === 'FailoverCompleted');
        const started = events.find((e) => e.reason === 'FailoverStarted');
        if (done && started) {
          clearInterval(poll);
          const data = done.data as { from?: string; to?: string } | undefined;
          resolveDone({ from: data?.from ?? '?', to: data?.to ?? '?', seconds: Math.round((Date.parse(done.time) - Date.parse(started.time)) / 100) / 10 });
        }
      }, 200);
      timers.push(poll as unknown as ReturnType<typeof setTimeout>);
    });
    void failedOver.then((f) => {
      result = { failover: f };
      opts.say(`demo: FAILOVER COMPLETE: the pool moved from ${f.from} to ${f.to}; every session resumed its conversation (${f.seconds}s). See: ${selfInvocation()} events --state-dir ${join(run, 'state')}`);
    });
    await Promise.race([stop, opts.exitAfterFailover ? failedOver : new Promise(() => {})]);
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    opts.say(`demo: stopping (controller, tmux server, ${real ? 'API' : 'usage endpoint'} stand-in)...`);
    await opts.around?.stop().catch(() => {});
    await daemon?.stop(5_000).catch(() => {});
    await tmux.killServer().catch(() => {});
    await usage?.close().catch(() => {});
    opts.say('demo: stopped; nothing left running.');
  }
}
