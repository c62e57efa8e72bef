/**
 * The state directory: small JSON records and JSONL logs, written atomically.
 * A read-only store (dry-run) reads what exists and refuses every write, so a dry-run cannot
 * create the directory or any file.
 */
import { appendFile, chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CfError } from '../core/errors.js';
import type { StateStore } from '../core/ports.js';
import { writeJsonAtomic } from './atomic-fs.js';

const NAME = /^[a-z0-9][a-z0-9._/-]*$/;

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 1000): string {
  if (env.CLAUDE_FAILOVER_STATE_DIR) return env.CLAUDE_FAILOVER_STATE_DIR;
  if (uid === 0) return '/var/lib/claude-failover';
  const base = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  return join(base, 'claude-failover');
}

export class FileStateStore implements StateStore {
  readonly dir: string;
  readonly readOnly: boolean;

  constructor(dir: string, opts: { readOnly?: boolean } = {}) {
    this.dir = dir;
    this.readOnly = opts.readOnly ?? false;
  }

  #path(name: string): string {
    if (!NAME.test(name) || name.includes('..')) throw new CfError('CF_ERR_STATE_NAME', `invalid state record name: ${name}`);
    return join(this.dir, name);
  }

  #guard(name: string): void {
    if (this.readOnly) throw new CfError('CF_ERR_STATE_READONLY', `state store is read-only (dry-run): refusing to write ${name}`);
  }

  async read<T>(name: string): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new CfError('CF_ERR_STATE_CORRUPT', `state record ${this.#path(name)} is not valid JSON: ${(err as Error).message}`);
    }
  }

  async write(name: string, value: unknown): Promise<void> {
    this.#guard(name);
    await writeJsonAtomic(this.#path(name), value, { mode: 0o600 });
  }

  async append(name: string, line: unknown): Promise<void> {
    this.#guard(name);
    const p = this.#path(name);
    await mkdir(join(p, '..'), { recursive: true, mode: 0o700 });
    // One write() of a line below PIPE_BUF-ish sizes is atomic enough for JSONL; readers skip a torn last line.
    await appendFile(p, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  }

  async readLines<T>(name: string, limit?: number): Promise<T[]> {
    let text: string;
    try {
      text = await readFile(this.#path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: T[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // a torn line from a crash mid-append: skip it
      }
    }
    return limit !== undefined ? out.slice(-limit) : out;
  }

  async exists(): Promise<boolean> {
    try {
      return (await stat(this.dir)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Creates the directory (0700), or narrows an existing one that group or others may enter to
   * 0700: it holds the API token, the last applied manifests and the agents' settings. Returns the
   * mode it had when it was narrowed.
   */
  async ensure(): Promise<{ narrowedFrom?: number }> {
    this.#guard('.');
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    if ((st.mode & 0o077) === 0 || st.uid !== process.getuid?.()) return {};
    await chmod(this.dir, 0o700);
    return { narrowedFrom: st.mode & 0o777 };
  }
}
