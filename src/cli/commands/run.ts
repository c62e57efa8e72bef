import { parseDuration } from '../../api/duration.js';
import { errorMessage, ManifestError, UsageError } from '../../core/errors.js';
import { formatDiagnostic } from '../../api/objects.js';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Daemon, DEFAULT_WORKERS } from '../../runtime/daemon.js';
import { sendToSessionVia } from '../../runtime/session-send.js';
import { DEFAULT_LISTEN, failoverVia, isLoopback, loadOrCreateToken, parseListen, remoteListenWarning, restartSessionVia, startControlPlane, TOKEN_FILE, urlOf, type ControlPlane, type ListenAddress } from '../../runtime/control-plane.js';
import { VERSION } from '../version.js';
import { createLogger } from '../../runtime/log.js';
import { COMMON, oneOf, parse, POOL, POOL_HELP, poolOptions, requireFiles, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';
import { COMPAT_HELP } from '../../core/compat.js';
import { COMPAT_OPTION, compatFrom, compatSummary, tmuxSocketFor } from '../compat.js';
import type { Metrics } from '../../server/index.js';
import { DEFAULT_API_RATE } from '../../server/admission.js';

const HELP = `Usage: claude-failover run -f PATH... [--state-dir DIR] [--tmux-socket NAME] [--resync 15s]
                            [--log-level info] [--log-format json|pretty] [--prune] [--strict]

Runs the controller: keeps the declared sessions running, watches the manifests (a change is
validated as a whole and applied; an invalid set is rejected and the last good one stays),
and reconciles on events and every --resync. SIGTERM/SIGINT stop intake and drain in-flight
work (--drain-timeout). One controller per state dir: a second one exits at once.

The last applied set is recorded in the state dir. If the set on disk is invalid at start-up,
the controller starts on that recorded set (condition ManifestsInvalid, an event and a
notification); --strict refuses to start instead (exit 1), as CI wants. A change that empties
the manifests, or drops every Session or more than --max-delete-share of them, is held until it
stays unchanged for --deletion-grace or is confirmed (claude-failover manifests confirm).

Options:
  -f, --filename PATH      Manifest file or directory; repeatable (or CLAUDE_FAILOVER_MANIFESTS)
      --state-dir DIR      State directory (default $XDG_STATE_HOME/claude-failover, /var/lib/claude-failover as root)
      --tmux-socket NAME   tmux server of the controller (-L NAME, or a socket path; default claude-failover)
      --resync DURATION    Reconcile everything at least this often (default 15s)
      --drain-timeout DUR  How long SIGTERM waits for in-flight work (default 20s)
      --prune              Stop sessions whose manifests were removed
      --strict             Refuse to start on an invalid manifest set (default: start on the last
                           applied set recorded in the state dir)
      --max-delete-share P A change dropping more than this share of the Sessions is held: 50% (default),
                           a percentage or a fraction (0.25). An empty set, or one dropping every
                           Session, is always held.
      --deletion-grace DUR A held change is applied once the manifests stay unchanged this long
                           (default 2m); confirm it sooner with \`claude-failover manifests confirm\`
      --workers N          Objects reconciled at once (default 32)
${POOL_HELP}
${COMPAT_HELP}
      --listen ADDR        Control plane (HTTP API, /metrics, dashboard): HOST:PORT (default 127.0.0.1:7777),
                           unix:/path (socket mode 0600), or none. A non-loopback address needs
                           --allow-remote and a token.
      --allow-remote       Allow a non-loopback --listen address. The API is plain HTTP: put a TLS
                           reverse proxy in front of it (docs/security.md). Prints a warning.
      --token-file PATH    Bearer token of the API (default <state-dir>/api-token, created 0600 on first
                           run); "none" disables auth (loopback or unix socket only)
      --api-rate N         Requests per second the API admits (default 50; 0 = no limit). Requests over
                           it wait their turn, so API clients cannot slow reconciliation; 429 only
                           when 256 already wait. /healthz and /readyz are never held.
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
  listen?: string;
  'token-file'?: string;
  workers?: string;
  'api-rate'?: string;
  'allow-remote'?: boolean;
  compat?: string[];
  strict?: boolean;
  'max-delete-share'?: string;
  'deletion-grace'?: string;
}

export async function runCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, {
    ...COMMON,
    ...POOL,
    resync: { type: 'string' },
    'drain-timeout': { type: 'string' },
    prune: { type: 'boolean' },
    workers: { type: 'string' },
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    listen: { type: 'string' },
    'token-file': { type: 'string' },
    'api-rate': { type: 'string' },
    'allow-remote': { type: 'boolean' },
    ...COMPAT_OPTION,
    strict: { type: 'boolean' },
    'max-delete-share': { type: 'string' },
    'deletion-grace': { type: 'string' },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const resyncMs = parseDuration(values.resync ?? '15s');
  const drainMs = parseDuration(values['drain-timeout'] ?? '20s');
  if (resyncMs === undefined || resyncMs < 1000) throw new UsageError('--resync must be a duration of at least 1s, e.g. 15s');
  if (drainMs === undefined) throw new UsageError('--drain-timeout must be a duration, e.g. 20s');
  const maxDeleteShare = parseShare(values['max-delete-share']);
  const deletionGraceMs = values['deletion-grace'] === undefined ? undefined : parseDuration(values['deletion-grace']);
  if (values['deletion-grace'] !== undefined && deletionGraceMs === undefined) throw new UsageError('--deletion-grace must be a duration, e.g. 2m (0 applies a held set at once, after its event)');
  const level = oneOf('--log-level', values['log-level'], ['trace', 'debug', 'info', 'warn', 'error'] as const, 'info');
  const isTTY = (process.stderr as { isTTY?: boolean }).isTTY === true;
  const format = oneOf('--log-format', values['log-format'], ['json', 'pretty'] as const, isTTY ? 'pretty' : 'json');
  const log = createLogger({ level, format, isTTY, stream: process.stdout });
  const listenSpec = values.listen ?? io.env.CLAUDE_FAILOVER_LISTEN ?? DEFAULT_LISTEN;
  const listen = listenSpec === 'none' ? undefined : parseListenArg(listenSpec);
  const allowRemote = values['allow-remote'] ?? false;
  if (listen && !isLoopback(listen) && !allowRemote) throw new UsageError(`--listen ${listenSpec} is not a loopback address: the API is plain HTTP, so serving it beyond this host needs --allow-remote (and a TLS reverse proxy in front, see docs/security.md)`);
  if (listen && values['token-file'] === 'none' && !isLoopback(listen)) throw new UsageError(`--listen ${listenSpec} is not a loopback address: it needs a token (drop --token-file none)`);
  const compat = compatFrom(values, io.env);
  if (listen && compat.switches.has('anonymous-compat-read') && !isLoopback(listen)) throw new UsageError(`--compat anonymous-compat-read needs a loopback --listen (got ${listenSpec}): it lets clients read without a token`);
  // Warned once every refusal of the listen address is behind us.
  const remoteWarning = listen ? remoteListenWarning(listen) : undefined;
  if (remoteWarning) io.stderr.write(`claude-failover run: warning: ${remoteWarning}\n`);
  const tmuxSocket = tmuxSocketFor(values['tmux-socket'], compat);
  const apiRate = values['api-rate'] === undefined ? DEFAULT_API_RATE : Number(values['api-rate']);
  if (!Number.isFinite(apiRate) || apiRate < 0 || apiRate > 100_000) throw new UsageError('--api-rate must be a number of requests per second from 0 (no limit) to 100000');
  // Metrics exist before the controller starts, so the first reconciles are counted too.
  const metrics = listen ? new (await import('../../server/index.js')).Metrics({ version: VERSION }) : undefined;
  const daemon = new Daemon({
    ...(metrics ? { onReconcile: metrics.onReconcile } : {}),
    manifests: requireFiles(values.filename, io),
    stateDir: stateDirOf(values['state-dir'], io),
    resyncMs,
    prune: values.prune ?? false,
    log,
    displayBase: io.cwd,
    pool: poolOptions(values),
    workers: positiveInt('--workers', values.workers, DEFAULT_WORKERS),
    ...(tmuxSocket ? { tmuxSocket } : {}),
    compat,
    strict: values.strict ?? false,
    ...(maxDeleteShare !== undefined ? { maxDeleteShare } : {}),
    ...(deletionGraceMs !== undefined ? { deletionGraceMs } : {}),
  });
  if (compat.switches.size > 0) log.warn({ compat: compatSummary(compat) }, 'Go-system compatibility switches are on (docs/migrating.md); turn them off once the transition is done');
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
  // The token is read (or created) before anything starts: a bad token file stops the start-up.
  const auth = listen ? await loadAuth(daemon.opts.stateDir, values['token-file'], log) : undefined;
  try {
    await daemon.start();
  } catch (err) {
    if (err instanceof ManifestError) {
      for (const d of err.diagnostics) io.stderr.write(`${formatDiagnostic({ ...d, severity: 'error', code: '' })}\n`);
      io.stderr.write(`\n${err.diagnostics.length} problem(s) in the manifests; the controller did not start${values.strict ? ' (--strict)' : ' (no last applied set is recorded in the state dir to start on)'}.\n`);
      return 1;
    }
    throw err;
  }
  const controlPlane = listen && auth ? await startApi(daemon, listen, auth, log, metrics, apiRate, allowRemote, compat.switches.has('anonymous-compat-read')) : undefined;
  // Signal listeners do not keep the event loop alive; this timer does, until a signal arrives.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const signal = await stopSignal;
  clearInterval(keepAlive);
  log.info({ signal, drainMs }, 'stopping: no new work, draining in-flight reconciles');
  await controlPlane?.stop().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'control plane did not close cleanly'));
  const drained = await daemon.stop(drainMs);
  log.info({ drained }, drained ? 'stopped cleanly' : 'stopped: drain timed out');
  return 0;
}

function parseListenArg(spec: string): ListenAddress {
  try {
    return parseListen(spec);
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/**
 * Starts the HTTP control plane once the controller runs. A listener that cannot bind (port in
 * use) is logged as an error and the controller keeps running without it: the agents matter more.
 */
type Auth = { token: null } | { token: string; tokenFile: string };

async function loadAuth(stateDir: string, tokenFileArg: string | undefined, log: Logger): Promise<Auth> {
  if (tokenFileArg === 'none') return { token: null };
  const tokenFile = resolve(tokenFileArg ?? join(stateDir, TOKEN_FILE));
  const t = await loadOrCreateToken(tokenFile);
  log.info({ tokenFile }, t.created ? 'control plane token created' : 'control plane token loaded');
  return { token: t.token, tokenFile };
}

async function startApi(daemon: Daemon, listen: ListenAddress, auth: Auth, log: Logger, metrics: Metrics | undefined, apiRate: number, allowRemote: boolean, anonymousCompatRead: boolean): Promise<ControlPlane | undefined> {
  const stateDir = daemon.opts.stateDir;
  const { token } = auth;
  const { buildServer, Metrics: MetricsClass } = await import('../../server/index.js');
  const { manager, requests } = daemon.wired;
  const app = buildServer({
    manager,
    stateDir,
    token,
    log,
    version: VERSION,
    metrics: metrics ?? new MetricsClass({ version: VERSION }),
    failover: failoverVia({ manager, requests }),
    restartSession: restartSessionVia({ manager, requests }),
    confirmManifests: (id) => daemon.confirmHeld(id),
    sendToSession: sendToSessionVia({ manager, tmux: daemon.wired.tmux, stateDir }),
    apiRate,
    ...(anonymousCompatRead ? { anonymousCompatRead } : {}),
  });
  try {
    return await startControlPlane({ app, listen, ...auth, stateDir, log, allowRemote });
  } catch (err) {
    log.error({ err: errorMessage(err), listen: urlOf(listen) }, 'control plane could not listen; the controller runs without its API');
    await app.close().catch(() => {});
    await manager.event({ key: 'ControlPlane/*', type: 'Warning', reason: 'ControlPlaneUnavailable', message: `could not listen on ${urlOf(listen)}: ${errorMessage(err)}` });
    return undefined;
  }
}

/** `--max-delete-share`: `50%` or `0.5`, from 0 to 1. */
function parseShare(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(v.trim());
  const n = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new UsageError('--max-delete-share must be a percentage (50%) or a fraction (0.5) from 0 to 1');
  return n;
}

function positiveInt(flag: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new UsageError(`${flag} must be a whole number from 1 to 256`);
  return n;
}
