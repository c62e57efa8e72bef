/** Filesystem effects, each idempotent and atomic. */
import { lstat, mkdir, readFile, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CfError } from '../core/errors.js';
import type { FsReadPort, PathInfo } from '../core/ports.js';
import { writeFileAtomic, writeJsonAtomic, fsyncDir } from './atomic-fs.js';

export { writeJsonAtomic };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Deep merge of plain objects; arrays and scalars in `patch` replace. */
export function deepMerge(base: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** Merges into one file run one after another (per path, in this process). */
const merging = new Map<string, Promise<void>>();

/**
 * Merges `patch` into the JSON file at `path`, keeping every other key; atomic. A file that is
 * not valid JSON is never overwritten (that would lose the user's data): it is an error.
 * Concurrent merges into the same file are serialized: a failover relaunches sessions of several
 * projects at once, each adding its folder's trust to the same account's `.claude.json`, and two
 * interleaved read-modify-writes would lose one (that session would then stop at the trust dialog).
 */
export function mergeJsonFile(path: string, patch: Record<string, unknown>, mode?: number): Promise<void> {
  const before = merging.get(path) ?? Promise.resolve();
  const run = before.then(() => mergeNow(path, patch, mode));
  const settled = run.then(() => undefined, () => undefined);
  merging.set(path, settled);
  void settled.then(() => {
    if (merging.get(path) === settled) merging.delete(path);
  });
  return run;
}

async function mergeNow(path: string, patch: Record<string, unknown>, mode?: number): Promise<void> {
  let current: Record<string, unknown> = {};
  let existingMode: number | undefined;
  try {
    const text = await readFile(path, 'utf8');
    existingMode = (await lstat(path)).mode & 0o777;
    if (text.trim() !== '') {
      const parsed: unknown = JSON.parse(text);
      if (!isPlainObject(parsed)) throw new CfError('CF_ERR_JSON_MERGE', `${path} does not hold a JSON object; not changing it`);
      current = parsed;
    }
  } catch (err) {
    if (err instanceof CfError) throw err;
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new CfError('CF_ERR_JSON_MERGE', `cannot merge into ${path}: ${(err as Error).message}; fix or remove the file`);
    }
  }
  const next = deepMerge(current, patch);
  if (JSON.stringify(next) === JSON.stringify(current)) return;
  const m = existingMode ?? mode;
  await writeJsonAtomic(path, next, m !== undefined ? { mode: m } : {});
}

export async function inspectPath(path: string): Promise<PathInfo> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { kind: 'symlink', target: await readlink(path), mtimeMs: st.mtimeMs };
    if (st.isDirectory()) return { kind: 'directory', mtimeMs: st.mtimeMs };
    if (st.isFile()) return { kind: 'file', mtimeMs: st.mtimeMs, size: st.size };
    return { kind: 'other', mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
}

/**
 * Ensures `path` is a symlink to `target`: created atomically (link at a temp name, then rename).
 * An existing symlink is replaced only with `replaceLink`; a real file or directory never is.
 */
export async function ensureSymlink(path: string, target: string, replaceLink: boolean): Promise<void> {
  const info = await inspectPath(path);
  if (info.kind === 'symlink' && info.target === target) return;
  if (info.kind === 'directory' || info.kind === 'file' || info.kind === 'other') {
    throw new CfError('CF_ERR_LINK_DIVERGED', `${path} is a real ${info.kind}, not a link to ${target}; refusing to replace it`);
  }
  if (info.kind === 'symlink' && !replaceLink) {
    throw new CfError('CF_ERR_LINK_DIVERGED', `${path} links to ${info.target}, not ${target}; refusing to replace it`);
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.lnk`);
  await symlink(target, tmp);
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dir);
}

export class NodeFsRead implements FsReadPort {
  inspect(path: string): Promise<PathInfo> {
    return inspectPath(path);
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async listDir(path: string): Promise<string[] | undefined> {
    try {
      const { readdir } = await import('node:fs/promises');
      return await readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}

export { writeFileAtomic };
