/**
 * `claude-failover demo`: the bundled demo pool, live. It runs everything on this machine and
 * needs no account, token or network:
 * - a local stand-in of the usage endpoint on 127.0.0.1:18471 (the demo accounts' manifests
 *   point there) with demo-only tokens in the demo accounts' config dirs;
 * - the controller itself (the same Daemon as `run`) on a private tmux server running the
 *   Claude Code simulator in 4 pool sessions and 1 dedicated session;
 * - a stream of demo tasks into the two projects' queues;
 * - after --failover-after, it drives the active account's usage over its 90 % threshold (at the
 *   endpoint and in the simulator) and the pool fails over.
 * Ctrl-C stops everything it started and leaves nothing running.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { enqueueTask } from '../adapters/queue/index.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import { Daemon } from '../runtime/daemon.js';
import type { CfEvent } from '../runtime/events.js';
import { startFakeUsageServer, type FakeUsageServer } from './fake-usage-server.js';

export const DEMO_USAGE_PORT = 18471;
export const DEMO_TMUX_SOCKET = 'cf-demo';
export const DEMO_ACCOUNTS = ['alpha', 'beta', 'gamma'] as const;

export interface DemoOptions {
  /** Directory of the demo manifests (examples/demo). */
  manifestsDir?: string;
  failoverAfterMs: number;
  taskEveryMs: number;
  log: Logger;
  /** Writes human lines (banner, progress) for the person watching. */
  say: (line: string) => void;
  /** Stop on its own once the failover completed (headless runs, tests). */
  exitAfterFailover?: boolean;
  /** Extra start/stop of things around the daemon (the control plane). */
  around?: { start(daemon: Daemon): Promise<string | undefined>; stop(): Promise<void> };
}

export function demoManifestsDir(): string {
  return resolve(fileURLToPath(new URL('../../examples/demo', import.meta.url)));
}

function token(account: string): string {
  return `sk-ant-oat01-demo-${account}-local-only`;
}

/** Runs the demo until `stop` resolves (or the failover completed with exitAfterFailover). */
export async function runDemo(opts: DemoOptions, stop: Promise<unknown>): Promise<{ failover?: { from: string; to: string; seconds: number } }> {
  const dir = opts.manifestsDir ?? demoManifestsDir();
  const run = join(dir, 'run');
  rmSync(run, { recursive: true, force: true });
  const usageAt = new Map<string, number>([['alpha', 35], ['beta', 20], ['gamma', 10]]);
  let usage: FakeUsageServer | undefined;
  let daemon: Daemon | undefined;
  const timers: ReturnType<typeof setTimeout>[] = [];
  const tmux = new TmuxAdapter({ socketName: DEMO_TMUX_SOCKET });
  let result: { failover?: { from: string; to: string; seconds: number } } = {};
  try {
    try {
      usage = await startFakeUsageServer({ host: '127.0.0.1', port: DEMO_USAGE_PORT });
    } catch (err) {
      throw new Error(`cannot start the demo usage endpoint on 127.0.0.1:${DEMO_USAGE_PORT} (${(err as Error).message}); is another demo running?`);
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
      manifests: [dir],
      stateDir: join(run, 'state'),
      tmuxSocket: DEMO_TMUX_SOCKET,
      resyncMs: 5_000,
      prune: true,
      log: opts.log,
      onEvent: (e) => events.push(e),
    });
    opts.say(`demo: usage endpoint stand-in on ${usage.endpoint}; starting the controller on tmux server "${DEMO_TMUX_SOCKET}"`);
    await daemon.start();
    const url = await opts.around?.start(daemon);
    opts.say('');
    opts.say('  claude-failover demo is running: 3 accounts (alpha, beta, gamma), 2 projects, 4 pool sessions + 1 dedicated');
    if (url) opts.say(`  dashboard:        ${url}`);
    opts.say(`  attach a session: tmux -L ${DEMO_TMUX_SOCKET} attach -t =ccl-0      (detach: Ctrl-b d)`);
    opts.say(`  sessions:         node ${process.argv[1] ?? 'dist/cli/main.js'} get sessions --state-dir ${join(run, 'state')}`);
    opts.say(`  in ${Math.round(opts.failoverAfterMs / 1000)}s the demo drives alpha's usage over its 90% threshold and the pool fails over.`);
    opts.say('  Ctrl-C stops everything the demo started.');
    opts.say('');

    let n = 0;
    const projects = ['webapp', 'docs'];
    const addTask = async () => {
      n += 1;
      const project = projects[n % 2] as string;
      const root = join(run, 'projects', project, '.agent-queue');
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
      opts.say(`demo: FAILOVER COMPLETE: the pool moved from ${f.from} to ${f.to}; every session resumed its conversation (${f.seconds}s). See: claude-failover events --state-dir ${join(run, 'state')}`);
    });
    await Promise.race([stop, opts.exitAfterFailover ? failedOver : new Promise(() => {})]);
    return result;
  } finally {
    for (const t of timers) clearTimeout(t);
    opts.say('demo: stopping (controller, tmux server, usage endpoint)...');
    await opts.around?.stop().catch(() => {});
    await daemon?.stop(5_000).catch(() => {});
    await tmux.killServer().catch(() => {});
    await usage?.close().catch(() => {});
    opts.say('demo: stopped; nothing left running.');
  }
}
