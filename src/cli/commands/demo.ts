import { parseDuration } from '../../api/duration.js';
import { UsageError } from '../../core/errors.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { claudeVersionOutput, findRealClaude, type RealClaude } from '../../demo/real-claude.js';
import { demoHome, runDemo } from '../../demo/run-demo.js';
import type { Daemon } from '../../runtime/daemon.js';
import { sendToSessionVia } from '../../runtime/session-send.js';
import { failoverVia, loadOrCreateToken, restartSessionVia, startControlPlane, TOKEN_FILE, type ControlPlane } from '../../runtime/control-plane.js';
import { VERSION } from '../version.js';
import { createLogger } from '../../runtime/log.js';
import { parse } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover demo [--claude sim|real|PATH] [--failover-after 40s] [--task-every 8s] [--exit-after-failover] [--dir DIR] [--log-level info]

Runs the bundled demo pool (examples/demo) on this machine, with no account, token or network:
3 simulated accounts whose quota comes from a local stand-in of the usage endpoint, 2 projects,
4 pool sessions and 1 dedicated session running the Claude Code simulator, and a stream of
demo tasks. After --failover-after it drives the active account over its threshold and the
whole pool fails over, resuming every conversation. Ctrl-C stops everything it started.

With --claude real the sessions run the real Claude Code CLI (the version this repository pins
as a devDependency, installed by npm ci) against a local stand-in of the Anthropic API: you
watch the real TUI work on the demo tasks and fail over. --claude PATH runs that claude binary.

The demo writes its manifests and run dir (accounts, projects, state) under a directory of your
own, never into the install: --dir, default $XDG_STATE_HOME/claude-failover-demo (else
~/.local/state/claude-failover-demo). Each start begins afresh there.

Options:
      --claude sim|real|PATH     The agents: the simulator (default), the pinned real CLI, or a binary
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
  const { values } = parse<{ help?: boolean; claude?: string; 'failover-after'?: string; 'task-every'?: string; 'exit-after-failover'?: boolean; 'log-level'?: string; port?: string; dir?: string }>(args, {
    claude: { type: 'string' },
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
  const realClaude = demoClaude(values.claude ?? 'sim');
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
        const tokenFile = join(stateDir, TOKEN_FILE);
        const { token } = await loadOrCreateToken(tokenFile);
        const { manager, requests } = daemon.wired;
        const app = buildServer({ manager, stateDir, token, log, version: VERSION, metrics: new Metrics({ version: VERSION }), failover: failoverVia({ manager, requests }), restartSession: restartSessionVia({ manager, requests }), sendToSession: sendToSessionVia({ manager, tmux: daemon.wired.tmux, stateDir }), apiRate: DEFAULT_API_RATE });
        for (const port of [values.port ? Number(values.port) : 7777, 0]) {
          try {
            // The record names the token file: the `get sessions` / `events` commands the demo prints find it.
            plane = await startControlPlane({ app, listen: { kind: 'tcp', host: '127.0.0.1', port }, token, tokenFile, stateDir, log });
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
    const r = await runDemo({ dir: values.dir ? resolve(io.cwd, values.dir) : demoHome(io.env), failoverAfterMs, taskEveryMs, log, say: (l) => io.stdout.write(`${l}\n`), exitAfterFailover: values['exit-after-failover'] ?? false, around, ...(realClaude ? { realClaude } : {}) }, stop);
    return values['exit-after-failover'] && !r.failover ? 1 : 0;
  } finally {
    clearInterval(keepAlive);
  }
}

/** `--claude`: undefined for the simulator; the real CLI's binary and version otherwise. */
function demoClaude(choice: string): RealClaude | undefined {
  if (choice === 'sim' || choice === '') return undefined;
  if (choice === 'real') {
    try {
      const found = findRealClaude();
      return { ...found, version: claudeVersionOutput(found.path).split(' ')[0] ?? found.version };
    } catch (err) {
      throw new UsageError(`--claude real: ${(err as Error).message}\nOr pass the path of a claude binary: --claude /path/to/claude`);
    }
  }
  const path = resolve(choice);
  if (!existsSync(path)) throw new UsageError(`--claude: ${path} does not exist (use sim, real or the path of a claude binary)`);
  try {
    return { path, version: claudeVersionOutput(path).split(' ')[0] ?? 'unknown' };
  } catch (err) {
    throw new UsageError(`--claude: ${path} --version failed: ${(err as Error).message}`);
  }
}
