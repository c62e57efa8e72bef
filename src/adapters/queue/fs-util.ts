/**
 * Durable filesystem primitives for the queue: directory fsync, atomic replace (temp in the same
 * directory + fsync + rename + fsync dir) and exclusive create (temp + fsync + link: never
 * overwrites). Temp files are hidden (`.cf-tmp.*`), so queue listings never see them.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const TEMP_PREFIX = '.cf-tmp.';

export function isOurTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** The longest prefix of `s` that fits in `maxBytes` UTF-8 bytes (never splits a character). */
export function truncateBytes(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

export function tempPathFor(target: string): string {
  const base = truncateBytes(path.basename(target), 210);
  return path.join(path.dirname(target), `${TEMP_PREFIX}${process.pid}.${randomBytes(4).toString('hex')}.${base}`);
}

export function errnoCode(err: unknown): string | undefined {
  return err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

export function isEnoent(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** fsync a directory so renames/creates/unlinks in it survive power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; nothing more can be done there.
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await fh?.close();
  }
}

async function writeAndSync(file: string, data: string | Uint8Array, opts: { mode?: number; mtimeMs?: number; durable: boolean }): Promise<void> {
  const fh = await fs.open(file, 'wx', opts.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (opts.durable) await fh.sync();
  } finally {
    await fh.close();
  }
  if (opts.mtimeMs !== undefined) {
    const t = new Date(opts.mtimeMs);
    await fs.utimes(file, t, t);
  }
}

export interface WriteOptions {
  /** fsync file and directory (default true). */
  durable?: boolean;
  mode?: number;
  /** Set the file's mtime (e.g. to keep a task's age across a rewrite). */
  mtimeMs?: number;
  /**
   * Only replace an existing file: if `target` is gone just before the rename (a task moved to
   * another state meanwhile), fail with ENOENT instead of recreating it. Narrows, not closes, the
   * window; callers serialize mutations of one task (see withTaskLock).
   */
  mustExist?: boolean;
}

/** Atomically replaces (or creates) `target`: readers see the old or the new content, never a mix. */
export async function writeFileAtomic(target: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = tempPathFor(target);
  try {
    await writeAndSync(tmp, data, { ...opts, durable });
    if (opts.mustExist) await fs.lstat(target);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(path.dirname(target));
}

/**
 * Creates `target` with `data` only if it does not exist: written to a temp file, fsynced, then
 * `link()`ed into place (atomic, fails with EEXIST instead of overwriting). Returns false when
 * `target` already existed.
 */
export async function createFileExclusive(target: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<boolean> {
  const durable = opts.durable ?? true;
  const tmp = tempPathFor(target);
  await writeAndSync(tmp, data, { ...opts, durable });
  try {
    await fs.link(tmp, target);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  if (durable) await fsyncDir(path.dirname(target));
  return true;
}

/** Removes a file; ENOENT is success. Returns whether something was removed. */
export async function unlinkIfExists(file: string, opts: { durable?: boolean } = {}): Promise<boolean> {
  try {
    await fs.unlink(file);
  } catch (err) {
    if (isEnoent(err)) return false;
    throw err;
  }
  if (opts.durable ?? true) await fsyncDir(path.dirname(file));
  return true;
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err) {
    if (isEnoent(err)) return false;
    throw err;
  }
}

/** readdir that returns [] for a missing directory (observation must work on a fresh machine). */
export async function readdirSafe(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isEnoent(err) || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}
