import { parseDuration } from '../../api/duration.js';
import { ManifestError, UsageError } from '../../core/errors.js';
import { formatDiagnostic } from '../../api/objects.js';
import { defaultStateDir } from '../../adapters/state-store.js';
import { Daemon } from '../../runtime/daemon.js';
import { createLogger } from '../../runtime/log.js';
import { COMMON, oneOf, parse, POOL, POOL_HELP, poolOptions, requireFiles } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover run -f PATH... [--state-dir DIR] [--tmux-socket NAME] [--resync 15s]
                            [--log-level info] [--log-format json|pretty] [--prune]

Runs the controller: keeps the declared sessions running, watches the manifests (a change is
validated as a whole and applied; an invalid set is rejected and the last good one stays),
and reconciles on events and every --resync. SIGTERM/SIGINT stop intake and drain in-flight
work (--drain-timeout). One controller per state dir: a second one exits at once.

Options:
  -f, --filename PATH      Manifest file or directory; repeatable (or CLAUDE_FAILOVER_MANIFESTS)
      --state-dir DIR      State directory (default $XDG_STATE_HOME/claude-failover, /var/lib/claude-failover as root)
      --tmux-socket NAME   tmux server of the controller (-L NAME, or a socket path; default claude-failover)
      --resync DURATION    Reconcile everything at least this often (default 15s)
      --drain-timeout DUR  How long SIGTERM waits for in-flight work (default 20s)
      --prune              Stop sessions whose manifests were removed
${POOL_HELP}
      --log-level LEVEL    trace, debug, info (default), warn, error
      --log-format FORMAT  json (default when not a terminal) or pretty

Examples:
  claude-failover run -f /etc/claude-failover/manifests
  claude-failover run -f manifests/ --log-format pretty --resync 30s
`;

interface Values {
  help?: boolean;
  filename?: string[];
  'state-dir'?: string;
  'tmux-socket'?: string;
  resync?: string;
  'drain-timeout'?: string;
  prune?: boolean;
  'log-level'?: string;
  'log-format'?: string;
  'min-dwell'?: string;
  'failover-grace'?: string;
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, {
    ...COMMON,
    ...POOL,
    resync: { type: 'string' },
    'drain-timeout': { type: 'string' },
    prune: { type: 'boolean' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const resyncMs = parseDuration(values.resync ?? '15s');
  const drainMs = parseDuration(values['drain-timeout'] ?? '20s');
  if (resyncMs === undefined || resyncMs < 1000) throw new UsageError('--resync must be a duration of at least 1s, e.g. 15s');
  if (drainMs === undefined) throw new UsageError('--drain-timeout must be a duration, e.g. 20s');
  const level = oneOf('--log-level', values['log-level'], ['trace', 'debug', 'info', 'warn', 'error'] as const, 'info');
  const isTTY = (process.stderr as { isTTY?: boolean }).isTTY === true;
  const format = oneOf('--log-format', values['log-format'], ['json', 'pretty'] as const, isTTY ? 'pretty' : 'json');
  const log = createLogger({ level, format, isTTY, stream: process.stdout });
  const daemon = new Daemon({
    manifests: requireFiles(values.filename, io),
    stateDir: values['state-dir'] ?? defaultStateDir(io.env),
    resyncMs,
    prune: values.prune ?? false,
    log,
    displayBase: io.cwd,
    pool: poolOptions(values),
    ...(values['tmux-socket'] ? { tmuxSocket: values['tmux-socket'] } : {}),
  });
  // Listen before starting: a SIGTERM during start-up still stops cleanly once start-up is done.
  // Persistent listeners (not `once`): execa's signal-exit re-raises a signal when it finds no
  // other listener left, which would kill the process before the drain. A second signal forces exit.
  let signalled = 0;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      signalled += 1;
      if (signalled === 1) resolve(sig);
      else io.stderr.write(`claude-failover run: ${sig} again while draining; press once more to abort\n`);
      if (signalled >= 3) process.kill(process.pid, 'SIGKILL');
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  try {
    await daemon.start();
  } catch (err) {
    if (err instanceof ManifestError) {
      for (const d of err.diagnostics) io.stderr.write(`${formatDiagnostic({ ...d, severity: 'error', code: '' })}\n`);
      io.stderr.write(`\n${err.diagnostics.length} problem(s) in the manifests; the controller did not start.\n`);
      return 1;
    }
    throw err;
  }
  // Signal listeners do not keep the event loop alive; this timer does, until a signal arrives.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = await stopSignal;
  clearInterval(keepAlive);
  log.info({ signal, drainMs }, 'stopping: no new work, draining in-flight reconciles');
  const drained = await daemon.stop(drainMs);
  log.info({ drained }, drained ? 'stopped cleanly' : 'stopped: drain timed out');
  return 0;
}
