/**
 * Operator requests under `<stateDir>/requests/<id>.json` (src/core/requests.ts), written
 * atomically (mode 0600). Completed requests beyond the newest {@link KEEP_COMPLETED} are removed
 * when a new one is created.
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CfError } from '../core/errors.js';
import type { OperatorRequest, RequestKind, RequestResult, RequestsPort } from '../core/requests.js';
import { writeJsonAtomic } from './atomic-fs.js';

export const REQUESTS_DIR = 'requests';
export const KEEP_COMPLETED = 200;
const ID = /^[0-9a-z]+-[0-9a-z]+$/;

export class FileRequestStore implements RequestsPort {
  readonly #dir: string;
  readonly #now: () => number;
  #counter = 0;
  /** Callers of `resultOf` waiting for a request's result, by id. */
  readonly #waiting = new Map<string, ((r: RequestResult) => void)[]>();

  constructor(stateDir: string, opts: { now?: () => number } = {}) {
    this.#dir = join(stateDir, REQUESTS_DIR);
    this.#now = opts.now ?? Date.now;
  }

  async create(req: { kind: RequestKind; target: string; reason?: string; requestedBy: string }): Promise<OperatorRequest> {
    const now = this.#now();
    // Fixed-width time so ids sort by creation; the counter orders requests of the same millisecond.
    const id = `${now.toString(36).padStart(9, '0')}-${(++this.#counter).toString(36).padStart(4, '0')}${randomBytes(3).toString('hex')}`;
    const record: OperatorRequest = { version: 1, id, kind: req.kind, target: req.target, ...(req.reason ? { reason: req.reason } : {}), requestedBy: req.requestedBy, requestedAt: new Date(now).toISOString() };
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(this.#path(id), record, { mode: 0o600 });
    await this.#prune();
    return record;
  }

  async pending(kind: RequestKind): Promise<OperatorRequest[]> {
    return (await this.#all()).filter((r) => r.kind === kind && !r.result);
  }

  async complete(id: string, result: RequestResult): Promise<void> {
    const cur = await this.get(id);
    if (!cur || cur.result) return;
    await writeJsonAtomic(this.#path(id), { ...cur, result }, { mode: 0o600 });
    for (const wake of this.#waiting.get(id) ?? []) wake(result);
    this.#waiting.delete(id);
  }

  async resultOf(id: string, ms: number): Promise<RequestResult | undefined> {
    let wake: (r: RequestResult | undefined) => void = () => {};
    const result = new Promise<RequestResult | undefined>((resolve) => {
      const timer = setTimeout(() => wake(undefined), ms);
      wake = (r) => {
        clearTimeout(timer);
        const left = (this.#waiting.get(id) ?? []).filter((w) => w !== wake);
        if (left.length > 0) this.#waiting.set(id, left);
        else this.#waiting.delete(id);
        resolve(r);
      };
    });
    // Waiting before reading: a result recorded in between is not missed.
    this.#waiting.set(id, [...(this.#waiting.get(id) ?? []), wake]);
    const done = (await this.get(id))?.result;
    if (done) wake(done);
    return result;
  }

  async get(id: string): Promise<OperatorRequest | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(this.#path(id), 'utf8')) as OperatorRequest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CfError('CF_ERR_STATE_CORRUPT', `request ${this.#path(id)} cannot be read: ${(err as Error).message}`);
    }
  }

  async list(limit = 50): Promise<OperatorRequest[]> {
    return (await this.#all()).reverse().slice(0, limit);
  }

  #path(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  /** Every readable request, oldest first (a torn or foreign file is skipped). */
  async #all(): Promise<OperatorRequest[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)).filter((id) => ID.test(id)).sort();
    const out: OperatorRequest[] = [];
    for (const id of ids) {
      try {
        const r = await this.get(id);
        if (r) out.push(r);
      } catch {
        // unreadable: left for the operator, not served
      }
    }
    return out;
  }

  async #prune(): Promise<void> {
    const done = (await this.#all()).filter((r) => r.result);
    for (const r of done.slice(0, Math.max(0, done.length - KEEP_COMPLETED))) await unlink(this.#path(r.id)).catch(() => {});
  }
}
