import { parseDuration } from '../../api/duration.js';
import { UsageError } from '../../core/errors.js';
import { runDemo } from '../../demo/run-demo.js';
import { createLogger } from '../../runtime/log.js';
import { parse } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover demo [--failover-after 40s] [--task-every 8s] [--exit-after-failover] [--log-level info]

Runs the bundled demo pool (examples/demo) on this machine, with no account, token or network:
3 simulated accounts whose quota comes from a local stand-in of the usage endpoint, 2 projects,
4 pool sessions and 1 dedicated session running the Claude Code simulator, and a stream of
demo tasks. After --failover-after it drives the active account over its threshold and the
whole pool fails over, resuming every conversation. Ctrl-C stops everything it started.

Options:
      --failover-after DURATION  When to drive alpha over its threshold (default 40s)
      --task-every DURATION      How often a demo task is queued (default 8s)
      --exit-after-failover      Stop on its own once the failover completed (headless runs)
      --log-level LEVEL          Controller log level (default info)

Example:
  make demo
`;

export async function demoCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; 'failover-after'?: string; 'task-every'?: string; 'exit-after-failover'?: boolean; 'log-level'?: string }>(args, {
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
    const r = await runDemo({ failoverAfterMs, taskEveryMs, log, say: (l) => io.stdout.write(`${l}\n`), exitAfterFailover: values['exit-after-failover'] ?? false }, stop);
    return values['exit-after-failover'] && !r.failover ? 1 : 0;
  } finally {
    clearInterval(keepAlive);
  }
}
