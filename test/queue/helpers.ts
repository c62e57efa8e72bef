import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASK_STATES } from '../../src/core/task.js';
import type { TaskState } from '../../src/core/task.js';

/** A fresh queue root under os.tmpdir(); `cleanup` removes it. */
export async function tempQueue(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cf-queue-'));
  const root = path.join(dir, '.agent-queue');
  return { root, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Writes `files` (relative path → content) under `root`, creating directories. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, content);
  }
}

/** Sets a file's mtime (epoch ms). */
export async function setMtime(p: string, ms: number): Promise<void> {
  const t = new Date(ms);
  await fs.utimes(p, t, t);
}

/** Every task id → the state directories it is in (archive months flattened), from readdir. */
export async function taskLocations(root: string): Promise<Map<string, TaskState[]>> {
  const out = new Map<string, TaskState[]>();
  const add = (name: string, s: TaskState) => {
    if (!name.endsWith('.md') || name.startsWith('.')) return;
    const id = name.slice(0, -3);
    out.set(id, [...(out.get(id) ?? []), s]);
  };
  for (const s of TASK_STATES) {
    if (s === 'archive') {
      const months = await fs.readdir(path.join(root, 'archive')).catch(() => [] as string[]);
      for (const m of months) for (const n of await fs.readdir(path.join(root, 'archive', m))) add(n, 'archive');
    } else {
      for (const n of await fs.readdir(path.join(root, s)).catch(() => [] as string[])) add(n, s);
    }
  }
  return out;
}

export async function readText(p: string): Promise<string> {
  return fs.readFile(p, 'utf8');
}
