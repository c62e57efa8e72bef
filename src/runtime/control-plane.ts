/**
 * The daemon's control-plane listener: where the HTTP API listens (`--listen HOST:PORT`, default
 * 127.0.0.1:7777, or `unix:/path` with mode 0600), its bearer token (a file created 0600 in the
 * state dir on first run; the path is logged, never the token), and the discovery record
 * `<state>/control-plane.json` the CLI reads to find a running controller.
 *
 * The server itself is built by src/server (buildServer) and handed in as a `Listenable`, so the
 * runtime does not depend on the server layer.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { createConnection, isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { writeJsonAtomic } from '../adapters/atomic-fs.js';
import { defaultFailoverTarget } from '../controllers/account.js';
import { CfError, TerminalError } from '../core/errors.js';
import type { RequestsPort } from '../core/requests.js';
import { poolStatus } from '../core/status.js';
import type { Manager } from './manager.js';

export const DEFAULT_LISTEN = '127.0.0.1:7777';
export const TOKEN_FILE = 'api-token';
export const CONTROL_PLANE_RECORD = 'control-plane.json';

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export class ControlPlaneError extends CfError {}

/** `HOST:PORT`, `[v6]:PORT`, `:PORT` (loopback) or `unix:/absolute/path`. */
export function parseListen(spec: string): ListenAddress {
  if (spec.startsWith('unix:')) {
    const path = spec.slice('unix:'.length);
    if (!path.startsWith('/')) throw new ControlPlaneError('CF_ERR_LISTEN', `--listen unix: needs an absolute socket path (got ${JSON.stringify(spec)})`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new ControlPlaneError('CF_ERR_LISTEN', `--listen must be HOST:PORT, [IPv6]:PORT or unix:/path (got ${JSON.stringify(spec)})`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  return { kind: 'tcp', host, port };
}

/** Loopback: 127.0.0.0/8, ::1, ::ffff:127.x, `localhost`. A unix socket counts as local too. */
export function isLoopback(addr: ListenAddress): boolean {
  if (addr.kind === 'unix') return true;
  const h = addr.host.toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h);
  return false;
}

/**
 * Refuses to expose the API beyond this host unless asked to (`allowRemote`, from --allow-remote),
 * and never without a token.
 */
export function checkBind(addr: ListenAddress, token: string | null, allowRemote = false): void {
  if (isLoopback(addr)) return;
  const where = addr.kind === 'tcp' ? `${addr.host}:${addr.port}` : addr.path;
  if (!allowRemote) {
    throw new ControlPlaneError('CF_ERR_LISTEN_REMOTE', `refusing to listen on ${where}: it is not a loopback address, and the API is plain HTTP; pass --allow-remote to serve it beyond this host (put a TLS reverse proxy in front, see docs/security.md)`);
  }
  if (token === null) {
    throw new ControlPlaneError('CF_ERR_LISTEN_INSECURE', `refusing to listen on ${where} without a token: a non-loopback address needs --token-file (not "none")`);
  }
}

/** The warning printed when the API listens beyond loopback (plain HTTP: the token travels in clear). */
export function remoteListenWarning(addr: ListenAddress, url: string = urlOf(addr)): string | undefined {
  if (isLoopback(addr)) return undefined;
  return `the control plane listens on ${url} beyond this host in plain HTTP: the bearer token and every answer cross the network unencrypted; serve it through a TLS reverse proxy (docs/security.md) or listen on 127.0.0.1`;
}

export function urlOf(addr: ListenAddress, boundPort?: number): string {
  if (addr.kind === 'unix') return `unix:${addr.path}`;
  const host = isIP(addr.host) === 6 ? `[${addr.host}]` : addr.host;
  return `http://${host}:${boundPort ?? addr.port}`;
}

/**
 * Reads the token file, or creates it (0600, exclusive) with 32 random bytes when missing.
 * A group/world-readable file is an error: the token would not be secret.
 */
export async function loadOrCreateToken(path: string): Promise<{ token: string; created: boolean }> {
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) throw new ControlPlaneError('CF_ERR_TOKEN_FILE_MODE', `token file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
    const token = (await readFile(path, 'utf8')).trim();
    if (token.length < 16) throw new ControlPlaneError('CF_ERR_TOKEN_FILE', `token file ${path} holds fewer than 16 characters; delete it to have a new token generated`);
    return { token, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateToken(path); // created concurrently
    throw err;
  }
  try {
    await fh.writeFile(`${token}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { token, created: true };
}

/** What the control plane needs of the HTTP server (a fastify instance satisfies it). */
export interface Listenable {
  listen(opts: { host: string; port: number } | { path: string }): Promise<string>;
  close(): Promise<unknown>;
  readonly server: { address(): { port: number } | string | null };
}

/** Discovery record for the CLI (`<state>/control-plane.json`). */
export interface ControlPlaneRecord {
  url: string;
  pid: number;
  /** Where the token is (absent when auth is disabled). */
  tokenFile?: string;
  startedAt: string;
}

export interface ControlPlane {
  url: string;
  stop(): Promise<void>;
}

async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ControlPlaneError('CF_ERR_LISTEN', `${path} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = createConnection({ path });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new ControlPlaneError('CF_ERR_LISTEN', `another process is listening on ${path}`);
  await unlink(path);
}

/**
 * Listens, records the address for the CLI, and returns a handle that stops listening. With a
 * token, `tokenFile` is required: the record always says where the token is, so that `get`,
 * `events` and `failover` find it from the state dir. A listener off loopback needs `allowRemote`.
 */
export async function startControlPlane(opts: { app: Listenable; listen: ListenAddress; stateDir: string; log: Logger; allowRemote?: boolean } & ({ token: null; tokenFile?: undefined } | { token: string; tokenFile: string })): Promise<ControlPlane> {
  const { app, listen, log } = opts;
  checkBind(listen, opts.token, opts.allowRemote ?? false);
  if (listen.kind === 'unix') {
    await mkdir(dirname(listen.path), { recursive: true, mode: 0o700 });
    await removeStaleSocket(listen.path);
    await app.listen({ path: listen.path });
    await chmod(listen.path, 0o600);
  } else {
    await app.listen({ host: listen.host, port: listen.port });
  }
  const bound = app.server.address();
  const url = urlOf(listen, typeof bound === 'object' && bound ? bound.port : undefined);
  const recordPath = join(opts.stateDir, CONTROL_PLANE_RECORD);
  const record: ControlPlaneRecord = { url, pid: process.pid, ...(opts.token !== null ? { tokenFile: resolve(opts.tokenFile) } : {}), startedAt: new Date().toISOString() };
  await writeJsonAtomic(recordPath, record, { mode: 0o600 });
  log.info({ url, tokenFile: record.tokenFile ?? null, auth: opts.token !== null, remote: !isLoopback(listen) }, 'control plane listening');
  const warning = remoteListenWarning(listen, url);
  if (warning) log.warn({ url }, warning);
  return {
    url,
    stop: async () => {
      await app.close();
      try {
        const cur = JSON.parse(await readFile(recordPath, 'utf8')) as ControlPlaneRecord;
        if (cur.pid === process.pid) await unlink(recordPath);
      } catch {
        // already gone
      }
      if (listen.kind === 'unix') await unlink(listen.path).catch(() => {});
    },
  };
}

/** How long `POST /api/v1/failover` waits for the Account controller's decision on the request. */
export const FAILOVER_DECISION_WAIT_MS = 20_000;
/** How long `POST /api/v1/sessions/:name/restart` waits for the Session controller to act on the request. */
export const RESTART_WAIT_MS = 20_000;

/**
 * `POST /api/v1/failover` for the daemon: writes the request to the state dir
 * (`requests/<id>.json`: target, reason, who, when), records it as an event and enqueues the pool
 * key, then waits (up to `waitMs`) for the Account controller's decision, which it records on the
 * request. A request survives a controller restart: the next pass serves it. A target the
 * controller refuses (excluded, exhausted) is a ControlPlaneTerminal (HTTP 409) carrying the
 * controller's reason; the refusal is also in the event log (`FailoverRejected`).
 */
export function failoverVia(deps: { manager: Manager; requests: RequestsPort; waitMs?: number }) {
  return async (to: string | undefined, reason: string | undefined, requestedBy = 'unknown client'): Promise<{ accepted: boolean; message: string; to: string; active: string | null; pending?: boolean; request: string }> => {
    const { desired, status } = deps.manager.store.state;
    const target = to ?? defaultFailoverTarget(desired, status);
    if (!target) throw new ControlPlaneTerminal('no account to fail over to');
    const request = await deps.requests.create({ kind: 'failover', target, ...(reason ? { reason } : {}), requestedBy });
    await deps.manager.event({ key: 'Account/*', type: 'Normal', reason: 'FailoverRequested', message: `operator requested failover to ${target}${reason ? `: ${reason}` : ''} (${requestedBy})`, data: { to: target, ...(reason ? { reason } : {}), requestedVia: 'api', requestedBy, request: request.id } });
    deps.manager.enqueue('Account/*', 'failover-requested');
    const outcome = await deps.requests.resultOf(request.id, deps.waitMs ?? FAILOVER_DECISION_WAIT_MS);
    const activeNow = poolStatus(deps.manager.store.state.status)?.activeAccount;
    const active = typeof activeNow === 'string' ? activeNow : null;
    if (outcome && !outcome.accepted) throw new ControlPlaneTerminal(outcome.message);
    if (!outcome) return { accepted: true, pending: true, message: `failover to ${target} requested (request ${request.id}); the Account controller has not decided yet (see \`claude-failover events --for 'Account/*'\`)`, to: target, active, request: request.id };
    return { accepted: true, message: `failover to ${target} requested and accepted: ${outcome.message}`, to: target, active, request: request.id };
  };
}

/** A request the controller refuses for a reason the caller can fix (HTTP 409). */
export class ControlPlaneTerminal extends TerminalError {
  constructor(message: string) {
    super('CF_ERR_REQUEST_REJECTED', 'Rejected', message);
  }
}

/**
 * `POST /api/v1/sessions/:name/restart` for the daemon: writes the request to the state dir and
 * enqueues the Session key. The Session controller serves it: it stops the session's tmux session
 * (owner-checked: a foreign session is never touched), records the result on the request, and
 * relaunches it, resuming its conversation. Waits up to `waitMs` for that result.
 */
export function restartSessionVia(deps: { manager: Manager; requests: RequestsPort; waitMs?: number }) {
  return async (name: string, requestedBy = 'unknown client'): Promise<{ restarted: boolean; message: string; request: string; pending?: boolean }> => {
    const key = `Session/${name}`;
    const request = await deps.requests.create({ kind: 'restart', target: name, requestedBy });
    await deps.manager.event({ key, type: 'Normal', reason: 'RestartRequested', message: `restart of session ${name} requested (${requestedBy})`, data: { requestedVia: 'api', requestedBy, request: request.id } });
    deps.manager.enqueue(key, 'restart-requested');
    const outcome = await deps.requests.resultOf(request.id, deps.waitMs ?? RESTART_WAIT_MS);
    if (!outcome) return { restarted: false, pending: true, message: `restart of session ${name} requested (request ${request.id}); the Session controller has not acted on it yet`, request: request.id };
    if (!outcome.accepted) throw new ControlPlaneTerminal(outcome.message);
    return { restarted: true, message: outcome.message, request: request.id };
  };
}
