/**
 * Client of the control-plane API for the CLI (`get`, `describe`, `events`, `failover`,
 * `reconcile`). Finds a running controller from, in order: `--server URL` / `--token-file`,
 * the environment (CLAUDE_FAILOVER_URL, CLAUDE_FAILOVER_TOKEN), or the discovery record the
 * daemon writes in its state dir (`control-plane.json`). A controller found only through the
 * state dir that does not answer is treated as not running (the caller falls back to the files);
 * one named explicitly must answer.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { CfError, errorMessage, type ApiCode } from '../core/errors.js';

export const CONTROL_PLANE_RECORD_NAME = 'control-plane.json';
export const DEFAULT_TOKEN_FILE_NAME = 'api-token';

/** Options the commands accept for reaching a controller (node:util parseArgs spec). */
export const CONTROLLER_OPTIONS = {
  server: { type: 'string' },
  'token-file': { type: 'string' },
} as const;

export const CONTROLLER_HELP = `      --server URL         Control plane of a running controller: http://HOST:PORT or unix:/path
                           (or CLAUDE_FAILOVER_URL; default: found through the state dir)
      --token-file PATH    Its bearer token (or CLAUDE_FAILOVER_TOKEN; default: the state dir's api-token)`;

export interface ControllerTarget {
  url: string;
  token: string | undefined;
  source: 'flag' | 'env' | 'state-dir';
}

/** The controller could not be reached (connection refused, socket missing, timeout). */
export class ControllerUnreachableError extends CfError {
  constructor(url: string, cause: unknown) {
    super('CF_ERR_API_UNREACHABLE', `no controller answers at ${url}: ${errorMessage(cause)}`, { cause });
  }
}

/** The controller answered with an error `{error: {code, message}}`. */
export class ApiRequestError extends CfError {
  readonly statusCode: number;
  constructor(statusCode: number, code: string, message: string) {
    // The server's code as it came (CF_API_* from a controller, `HTTP_<status>` when the body had none): not ours to catalogue.
    super(code as ApiCode, message);
    this.statusCode = statusCode;
  }
}

async function readToken(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function findController(opts: { server?: string | undefined; tokenFile?: string | undefined; env: NodeJS.ProcessEnv; stateDir: string }): Promise<ControllerTarget | undefined> {
  const explicitToken = opts.tokenFile !== undefined ? await readToken(opts.tokenFile) : opts.env.CLAUDE_FAILOVER_TOKEN || undefined;
  if (opts.tokenFile !== undefined && explicitToken === undefined) throw new CfError('CF_ERR_TOKEN_FILE', `cannot read a token from ${opts.tokenFile}`);
  const url = opts.server ?? (opts.env.CLAUDE_FAILOVER_URL || undefined);
  if (url !== undefined) {
    const token = explicitToken ?? (await readToken(join(opts.stateDir, DEFAULT_TOKEN_FILE_NAME)));
    return { url, token, source: opts.server !== undefined ? 'flag' : 'env' };
  }
  let record: { url?: unknown; pid?: unknown; tokenFile?: unknown };
  try {
    record = JSON.parse(await readFile(join(opts.stateDir, CONTROL_PLANE_RECORD_NAME), 'utf8')) as typeof record;
  } catch {
    return undefined;
  }
  if (typeof record.url !== 'string' || typeof record.pid !== 'number' || !pidAlive(record.pid)) return undefined;
  // A record without tokenFile (written by an older version): the state dir's default token file, if any.
  const token = explicitToken ?? (await readToken(typeof record.tokenFile === 'string' ? record.tokenFile : join(opts.stateDir, DEFAULT_TOKEN_FILE_NAME)));
  return { url: record.url, token, source: 'state-dir' };
}

export class ApiClient {
  readonly target: ControllerTarget;
  readonly #dispatcher: Dispatcher;
  readonly #origin: string;
  readonly #timeoutMs: number;
  readonly #userAgent: string | undefined;

  /** `userAgent` names the client in the controller's audit records (e.g. `claude-failover-mcp/0.1.0`). */
  constructor(target: ControllerTarget, opts: { timeoutMs?: number; dispatcher?: Dispatcher; userAgent?: string } = {}) {
    this.target = target;
    this.#userAgent = opts.userAgent;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    if (target.url.startsWith('unix:')) {
      this.#origin = 'http://localhost';
      this.#dispatcher = opts.dispatcher ?? new Agent({ connect: { socketPath: target.url.slice('unix:'.length) } });
    } else {
      this.#origin = target.url.replace(/\/+$/, '');
      this.#dispatcher = opts.dispatcher ?? new Agent();
    }
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const text = await this.requestText(method, path, body);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      return undefined as T;
    }
  }

  /** The response body as text (for `text/plain` answers such as the plan); errors as in request(). */
  async requestText(method: 'GET' | 'POST', path: string, body?: unknown): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.target.token) headers.authorization = `Bearer ${this.target.token}`;
    if (this.#userAgent) headers['user-agent'] = this.#userAgent;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await request(`${this.#origin}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        dispatcher: this.#dispatcher,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (err) {
      throw new ControllerUnreachableError(this.target.url, err);
    }
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      let e: { code?: string; message?: string } | undefined;
      try {
        e = (JSON.parse(text) as { error?: { code?: string; message?: string } } | undefined)?.error;
      } catch {
        e = undefined;
      }
      throw new ApiRequestError(res.statusCode, e?.code ?? `HTTP_${res.statusCode}`, e?.message ?? (text.slice(0, 200) || `HTTP ${res.statusCode}`));
    }
    return text;
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

/**
 * A client for a running controller, or undefined when none runs. Only a controller found
 * through the state dir may be silently absent; one named by flag or environment must answer.
 */
export async function connectController(opts: { server?: string | undefined; tokenFile?: string | undefined; env: NodeJS.ProcessEnv; stateDir: string; userAgent?: string }): Promise<ApiClient | undefined> {
  const target = await findController(opts);
  if (!target) return undefined;
  const client = new ApiClient(target, { timeoutMs: 30_000, ...(opts.userAgent ? { userAgent: opts.userAgent } : {}) });
  if (target.source === 'state-dir') {
    try {
      await client.request('GET', '/healthz');
    } catch (err) {
      await client.close();
      if (err instanceof ControllerUnreachableError) return undefined;
      throw err;
    }
  }
  return client;
}
