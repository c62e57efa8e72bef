import { parseDuration } from '../../api/duration.js';
import { UsageError } from '../../core/errors.js';
import { join, resolve } from 'node:path';
import { demoHome, runDemo } from '../../demo/run-demo.js';
import type { Daemon } from '../../runtime/daemon.js';
import { sendToSessionVia } from '../../runtime/session-send.js';
import { failoverVia, loadOrCreateToken, restartSessionVia, startControlPlane, TOKEN_FILE, type ControlPlane } from '../../runtime/control-plane.js';
import { VERSION } from '../version.js';
import { createLogger } from '../../runtime/log.js';
import { parse } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover demo [--failover-after 40s] [--task-every 8s] [--exit-after-failover] [--dir DIR] [--log-level info]

Runs the bundled demo pool (examples/demo) on this machine, with no account, token or network:
3 simulated accounts whose quota comes from a local stand-in of the usage endpoint, 2 projects,
4 pool sessions and 1 dedicated session running the Claude Code simulator, and a stream of
demo tasks. After --failover-after it drives the active account over its threshold and the
whole pool fails over, resuming every conversation. Ctrl-C stops everything it started.

The demo writes its manifests and run dir (accounts, projects, state) under a directory of your
own, never into the install: --dir, default $XDG_STATE_HOME/claude-failover-demo (else
~/.local/state/claude-failover-demo). Each start begins afresh there.

Options:
      --failover-after DURATION  When to drive alpha over its threshold (default 40s)
      --task-every DURATION      How often a demo task is queued (default 8s)
      --exit-after-failover      Stop on its own once the failover completed (headless runs)
      --port PORT                Dashboard port on 127.0.0.1 (default 7777; a free one when busy)
      --dir DIR                  The demo's directory (default $XDG_STATE_HOME/claude-failover-demo)
      --log-level LEVEL          Controller log level (default info)

Example:
  make demo
`;

export async function demoCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; 'failover-after'?: string; 'task-every'?: string; 'exit-after-failover'?: boolean; 'log-level'?: string; port?: string; dir?: string }>(args, {
    port: { type: 'string' },
    dir: { type: 'string' },
    'failover-after': { type: 'string' },
    'task-every': { type: 'string' },
    'exit-after-failover': { type: 'boolean' },
    'log-level': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const failoverAfterMs = parseDuration(values['failover-after'] ?? '40s');
  const taskEveryMs = parseDuration(values['task-every'] ?? '8s');
  if (failoverAfterMs === undefined || taskEveryMs === undefined || taskEveryMs < 500) throw new UsageError('--failover-after and --task-every take durations (e.g. 40s, 8s)');
  const isTTY = (process.stdout as { isTTY?: boolean }).isTTY === true;
  const log = createLogger({ level: values['log-level'] ?? 'info', format: 'pretty', isTTY, stream: process.stdout });
  let signalled = 0;
  const stop = new Promise<void>((resolve) => {
    const onSignal = () => {
      signalled += 1;
      if (signalled === 1) resolve();
      if (signalled >= 3) process.kill(process.pid, 'SIGKILL');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    let plane: ControlPlane | undefined;
    const around = {
      // The dashboard and API on loopback. The demo prints its (demo-only, local) token in the
      // URL fragment so the browser page can use it; a real `run` never prints its token.
      start: async (daemon: Daemon): Promise<string | undefined> => {
        const { buildServer, Metrics } = await import('../../server/index.js');
        const { DEFAULT_API_RATE } = await import('../../server/admission.js');
        const stateDir = daemon.opts.stateDir;
        const { token } = await loadOrCreateToken(join(stateDir, TOKEN_FILE));
        const { manager, executor, accounts } = daemon.wired;
        const app = buildServer({ manager, stateDir, token, log, version: VERSION, metrics: new Metrics({ version: VERSION }), failover: failoverVia({ manager, accounts }), restartSession: restartSessionVia({ manager, executor }), sendToSession: sendToSessionVia({ manager, tmux: daemon.wired.tmux, stateDir }), apiRate: DEFAULT_API_RATE });
        for (const port of [values.port ? Number(values.port) : 7777, 0]) {
          try {
            plane = await startControlPlane({ app, listen: { kind: 'tcp', host: '127.0.0.1', port }, token, stateDir, log });
            return `${plane.url}/#token=${encodeURIComponent(token)}`;
          } catch (err) {
            log.warn({ port, err: (err as Error).message }, 'demo: dashboard port busy; trying a free one');
          }
        }
        await app.close();
        return undefined;
      },
      stop: async () => {
        await plane?.stop();
      },
    };
    const r = await runDemo({ dir: values.dir ? resolve(io.cwd, values.dir) : demoHome(io.env), failoverAfterMs, taskEveryMs, log, say: (l) => io.stdout.write(`${l}\n`), exitAfterFailover: values['exit-after-failover'] ?? false, around }, stop);
    return values['exit-after-failover'] && !r.failover ? 1 : 0;
  } finally {
    clearInterval(keepAlive);
  }
}
