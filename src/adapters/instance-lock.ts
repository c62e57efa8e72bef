/**
 * Single instance per state dir. The lock is a file holding the owner's pid, created with
 * O_EXCL. A lock whose pid is no longer alive (the owner was kill -9ed) is stale and taken over.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LockedError } from '../core/errors.js';

export interface InstanceLock {
  path: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPid(path: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function acquireInstanceLock(stateDir: string, pid = process.pid): Promise<InstanceLock> {
  const path = join(stateDir, 'controller.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${pid}\n`);
      await fh.sync();
      await fh.close();
      return {
        path,
        release: async () => {
          if ((await readPid(path)) === pid) await unlink(path).catch(() => {});
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readPid(path);
    if (holder !== undefined && holder !== pid && alive(holder)) throw new LockedError(stateDir, holder);
    if (holder === undefined && (await ageMs(path)) < 5_000) {
      // Another starter created the file and is about to write its pid.
      throw new LockedError(stateDir, 0);
    }
    // Stale (dead owner, or an empty file from a crash between create and write). Take it over
    // under a second exclusive file so two starters racing for one stale lock cannot both win.
    await takeOverStale(path, holder, pid);
  }
  const holder = (await readPid(path)) ?? 0;
  throw new LockedError(stateDir, holder);
}

async function takeOverStale(path: string, staleHolder: number | undefined, pid: number): Promise<void> {
  const guard = `${path}.takeover`;
  let fh;
  try {
    fh = await open(guard, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const guardPid = await readPid(guard);
    if (guardPid === undefined || !alive(guardPid)) await unlink(guard).catch(() => {});
    return; // someone else is taking over; the caller retries
  }
  try {
    await fh.writeFile(`${pid}\n`);
    await fh.close();
    fh = undefined;
    const now = await readPid(path);
    if (now === staleHolder) await unlink(path).catch(() => {});
  } finally {
    await fh?.close();
    await unlink(guard).catch(() => {});
  }
}

async function ageMs(path: string): Promise<number> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return Infinity;
  }
}
