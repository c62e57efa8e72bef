/**
 * Session checkpoints on disk: `<state-dir>/checkpoints/<session>.json` (written by the Project
 * controller through `fs.writeJson` effects, atomically). Readers for failover replay and crash
 * recovery, and the last tool call per session from the guard's audit log.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { auditFile } from '../guard/audit.js';

export { CHECKPOINTS_DIR, type CheckpointTask, type CheckpointToolCall, type SessionCheckpoint } from '../core/checkpoint.js';
import { CHECKPOINTS_DIR, type CheckpointToolCall, type SessionCheckpoint } from '../core/checkpoint.js';

export function checkpointPath(stateDir: string, session: string): string {
  return join(stateDir, CHECKPOINTS_DIR, `${session}.json`);
}

export interface CheckpointFile {
  session: string;
  path: string;
  mtimeMs: number;
  checkpoint?: SessionCheckpoint;
}

function parse(text: string): SessionCheckpoint | undefined {
  try {
    const v = JSON.parse(text) as Partial<SessionCheckpoint>;
    return v && v.version === 1 && typeof v.session === 'string' && typeof v.project === 'string' ? (v as SessionCheckpoint) : undefined;
  } catch {
    return undefined;
  }
}

/** The checkpoint of one session (undefined when there is none or it is unreadable). */
export async function readCheckpoint(stateDir: string, session: string): Promise<SessionCheckpoint | undefined> {
  try {
    return parse(await readFile(checkpointPath(stateDir, session), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every checkpoint file (unparseable ones with `checkpoint` undefined, so the janitor can prune them). */
export async function listCheckpoints(stateDir: string): Promise<CheckpointFile[]> {
  const dir = join(stateDir, CHECKPOINTS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: CheckpointFile[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    const p = join(dir, n);
    try {
      const [st, text] = await Promise.all([stat(p), readFile(p, 'utf8')]);
      const checkpoint = parse(text);
      out.push({ session: n.slice(0, -5), path: p, mtimeMs: st.mtimeMs, ...(checkpoint ? { checkpoint } : {}) });
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/**
 * The last tool call of each session, from the tail (last `tailBytes`) of the guard's audit log
 * `<state-dir>/audit/guard.jsonl`. Sessions without a recent record are absent; the guard's own
 * deployment probe (audited with `probe: true`) is never a session's last call.
 */
export async function readLastToolCalls(stateDir: string, tailBytes = 256 * 1024): Promise<Record<string, CheckpointToolCall>> {
  const out: Record<string, CheckpointToolCall> = {};
  let fh;
  try {
    fh = await open(auditFile(stateDir), 'r');
  } catch {
    return out;
  }
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - tailBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n');
    if (start > 0) lines.shift(); // a partial first line
    for (const line of lines) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as { session?: unknown; tool?: unknown; command?: unknown; time?: unknown; probe?: unknown };
        if (typeof r.session !== 'string' || typeof r.tool !== 'string' || typeof r.time !== 'string') continue;
        // The guard's deployment self-check is not a call the agent made.
        if (r.probe === true) continue;
        out[r.session] = { tool: r.tool, ...(typeof r.command === 'string' && r.command !== '' ? { command: r.command } : {}), at: r.time };
      } catch {
        // torn line
      }
    }
  } finally {
    await fh.close();
  }
  return out;
}
