/**
 * Linking an account's shared directories to the shared store, with explicit adoption of the
 * per-session directories whose files have unique names (account homes migrated from the Go
 * system hold real `todos/` and `shell-snapshots/` directories).
 *
 * For each of the account's `sharedDirs`:
 * - missing → the store directory is created and the link made (what the controller does too);
 * - a link to the store → nothing to do; a link elsewhere → reported, never touched;
 * - a real directory:
 *   - of {@link ADOPTABLE_DIRS}, with `adopt` → every entry is moved into the store directory
 *     without overwriting anything (an identical file already there is a duplicate and the
 *     account's copy is dropped; a different one is a conflict and stays where it is), the
 *     emptied directory is removed and the link made. With conflicts the directory stays (the
 *     account stays diverged) and each conflicting path is reported;
 *   - otherwise (no `adopt`, or `projects/`, `file-history/`, `session-env/`, or a directory
 *     name of your own) → reported with what to do; never merged automatically.
 * - a file → reported, never touched.
 *
 * Every move is recorded (`onMove`), so the caller can keep a log of what went where. With
 * `dryRun` nothing is changed and the report says what would be done.
 */
import { lstat, mkdir, readdir, readFile, readlink, rename, rmdir, cp, rm, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { ADOPTABLE_DIRS, NEVER_MERGED_DIRS } from '../core/shared-state.js';
import { errorMessage } from '../core/errors.js';
import { ensureSymlink } from './fs-effects.js';

export type LinkOutcome =
  /** Already a link to the store. */
  | 'linked'
  /** Was missing: link created. */
  | 'created'
  /** A real directory whose files were moved into the store; now a link. */
  | 'adopted'
  /** A real directory left as it is (not adoptable, or no `adopt`). */
  | 'diverged'
  /** Adoption moved what it could; files that differ from the store's are still in the directory. */
  | 'conflict'
  /** A link to somewhere else, or a file: never touched. */
  | 'foreign';

export interface LinkDirReport {
  dir: string;
  /** `<configDir>/<dir>` */
  path: string;
  /** `<sharedStateDir>/<dir>` */
  target: string;
  outcome: LinkOutcome;
  /** Entries moved into the store (files, or whole directories that did not exist there). */
  moved: number;
  /** Files identical to the store's copy: the account's copy was dropped. */
  duplicates: number;
  /** Paths (relative to `path`) that differ from the store's and were kept. */
  conflicts: string[];
  /** Human explanation, with what to do when something is left. */
  message: string;
}

export interface LinkSharedStateOptions {
  account: string;
  configDir: string;
  sharedStateDir: string;
  dirs: readonly string[];
  /** Move the files of adoptable real directories into the store (else they are only reported). */
  adopt: boolean;
  /** Report only; change nothing. */
  dryRun?: boolean;
  /** Called for every entry moved (or that would be moved, in a dry-run). */
  onMove?: (from: string, to: string) => void;
}

type Kind = 'missing' | 'file' | 'directory' | 'symlink' | 'other';

async function kindOf(path: string): Promise<Kind> {
  try {
    const st = await lstat(path);
    return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstat(a), lstat(b)]);
  if (sa.size !== sb.size) return false;
  const [ca, cb] = await Promise.all([readFile(a), readFile(b)]);
  return ca.equals(cb);
}

/** rename, or copy + remove across filesystems. */
async function move(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await cp(from, to, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true, verbatimSymlinks: true });
    await rm(from, { recursive: true, force: true });
  }
}

interface MergeTally {
  moved: number;
  duplicates: number;
  conflicts: string[];
}

/** Moves every entry of `src` into `dst` without overwriting; recurses into directories both have. */
async function merge(src: string, dst: string, root: string, tally: MergeTally, opts: LinkSharedStateOptions): Promise<void> {
  for (const name of (await readdir(src)).sort()) {
    const from = join(src, name);
    const to = join(dst, name);
    const [fk, tk] = await Promise.all([kindOf(from), kindOf(to)]);
    if (tk === 'missing') {
      opts.onMove?.(from, to);
      if (!opts.dryRun) await move(from, to);
      tally.moved += 1;
    } else if (fk === 'directory' && tk === 'directory') {
      await merge(from, to, root, tally, opts);
      if (!opts.dryRun && (await readdir(from)).length === 0) await rmdir(from);
    } else if (fk === 'file' && tk === 'file' && (await sameContent(from, to))) {
      if (!opts.dryRun) await unlink(from);
      tally.duplicates += 1;
    } else {
      tally.conflicts.push(relative(root, from));
    }
  }
}

async function linkOne(dir: string, opts: LinkSharedStateOptions): Promise<LinkDirReport> {
  const path = join(opts.configDir, dir);
  const target = join(opts.sharedStateDir, dir);
  const base = { dir, path, target, moved: 0, duplicates: 0, conflicts: [] as string[] };
  const kind = await kindOf(path);
  const would = opts.dryRun ? 'would be ' : '';
  if (kind === 'missing') {
    if (!opts.dryRun) {
      await mkdir(target, { recursive: true });
      await ensureSymlink(path, target, false);
    }
    return { ...base, outcome: 'created', message: `${path} ${would}linked to ${target}` };
  }
  if (kind === 'symlink') {
    const stored = await readlink(path);
    if (resolve(dirname(path), stored) === target) return { ...base, outcome: 'linked', message: `${path} already links to ${target}` };
    return { ...base, outcome: 'foreign', message: `${path} links to ${stored}, not ${target}; not touched (point it at ${target} yourself once nothing runs under this account)` };
  }
  if (kind !== 'directory') return { ...base, outcome: 'foreign', message: `${path} is a ${kind}, not a directory; not touched (move it away, then run this again)` };
  if (!ADOPTABLE_DIRS.includes(dir)) {
    const why = NEVER_MERGED_DIRS.includes(dir) ? 'its contents are never merged automatically' : 'only todos, shell-snapshots, plans and tasks are adopted';
    return { ...base, outcome: 'diverged', message: `${path} is a real directory; ${why}: merge it into ${target} by hand (docs/operations.md, "Diverged shared state")` };
  }
  if (!opts.adopt) return { ...base, outcome: 'diverged', message: `${path} is a real directory; its files have unique names: run again with --adopt to move them into ${target} and link it` };
  const tally: MergeTally = { moved: 0, duplicates: 0, conflicts: [] };
  if (!opts.dryRun) await mkdir(target, { recursive: true });
  if (opts.dryRun && (await kindOf(target)) === 'missing') {
    for (const name of await readdir(path)) opts.onMove?.(join(path, name), join(target, name));
    tally.moved = (await readdir(path)).length;
  } else {
    await merge(path, target, path, tally, opts);
  }
  const counts = `${tally.moved} moved${tally.duplicates > 0 ? `, ${tally.duplicates} identical duplicate(s) dropped` : ''}`;
  if (tally.conflicts.length > 0) {
    const shown = tally.conflicts.slice(0, 5).join(', ');
    return { ...base, ...tally, outcome: 'conflict', message: `${path}: ${counts}; ${tally.conflicts.length} file(s) differ from the store's copy and ${opts.dryRun ? 'would be' : 'were'} kept (${shown}${tally.conflicts.length > 5 ? ', …' : ''}); resolve them by hand, then run this again` };
  }
  if (!opts.dryRun) {
    try {
      await rmdir(path);
      await ensureSymlink(path, target, false);
    } catch (err) {
      // Something wrote into it meanwhile (an agent running under this account).
      return { ...base, ...tally, outcome: 'conflict', message: `${path}: ${counts}, but it could not be replaced by the link (${errorMessage(err)}); is an agent running under this account? Stop it and run this again` };
    }
  }
  return { ...base, ...tally, outcome: 'adopted', message: `${path}: ${counts} into ${target}; ${would}replaced by a link` };
}

/** Links (and with `adopt`, adopts) every shared directory of one account. See the module comment. */
export async function linkSharedState(opts: LinkSharedStateOptions): Promise<LinkDirReport[]> {
  const out: LinkDirReport[] = [];
  for (const dir of opts.dirs) out.push(await linkOne(dir, opts));
  return out;
}

/** Whether every directory is (or, in a dry-run, would be) a link to the store afterwards. */
export function allLinked(reports: readonly LinkDirReport[]): boolean {
  return reports.every((r) => r.outcome === 'linked' || r.outcome === 'created' || r.outcome === 'adopted');
}
