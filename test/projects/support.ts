/** A project pool for e2e tests: simulator sessions on a private tmux server, a queue, readers. */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { enqueueTask } from '../../src/adapters/queue/index.js';
import { TASK_STATES } from '../../src/core/task.js';
import { SIM_BIN } from '../support/cli.js';
import { DaemonProcess } from '../support/daemon.js';
import { tempDir, writeCredentials } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

export interface PoolSession {
  name: string;
  mode?: 'pool' | 'dedicated';
  env?: Record<string, string>;
  /** Extra spec lines (indented two spaces), e.g. `  resume: false\n`. */
  spec?: string;
}

export interface ProjectPool {
  root: string;
  stateDir: string;
  manifests: string;
  queueRoot: string;
  tmux: PrivateTmuxServer;
  args: string[];
  simLog(session: string): string;
  cleanup(): Promise<void>;
}

export function projectPool(opts: { sessions: PoolSession[]; env?: Record<string, string>; projectSpec?: string; resync?: string }): ProjectPool {
  const tmux = new PrivateTmuxServer();
  const root = tempDir('proj');
  const manifests = join(root, 'manifests');
  mkdirSync(manifests, { recursive: true });
  const simLog = (s: string) => join(root, `sim-${s}.jsonl`);
  writeCredentials(join(root, 'accounts', 'a'));
  const docs = [
    `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: a\nspec:\n  configDir: ${root}/accounts/a\n`,
    `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${root}/projects/p\n${opts.projectSpec ?? ''}`,
    ...opts.sessions.map((s) => {
      const env = { CLAUDE_SIM_LOG: simLog(s.name), CLAUDE_SIM_IDLE_NOTIFY_MS: '0', ...opts.env, ...s.env };
      return `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${s.name}\nspec:\n  project: p\n  mode: ${s.mode ?? 'pool'}\n${s.spec ?? ''}  command: ${JSON.stringify([SIM_BIN, '--dangerously-skip-permissions'])}\n  env:\n${Object.entries(env).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
    }),
  ];
  writeFileSync(join(manifests, 'pool.yaml'), docs.join('---\n'));
  const stateDir = join(root, 'state');
  return {
    root, stateDir, manifests, tmux, simLog,
    queueRoot: join(root, 'projects', 'p', '.agent-queue'),
    args: ['-f', manifests, '--state-dir', stateDir, '--tmux-socket', tmux.socket, '--resync', opts.resync ?? '3s'],
    cleanup: async () => {
      tmux.kill();
      // Killed agents still run their SessionEnd hooks for a moment (which write under state/).
      for (let i = 0; ; i++) {
        try {
          rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
          return;
        } catch (err) {
          if (i >= 40) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    },
  };
}

/** Enqueues a task the way `task add` does (atomic, settle-backdated); returns its id. */
export async function addTask(queueRoot: string, body: string, opts: { id?: string; priority?: 'high' | 'normal' | 'low'; frontmatter?: Record<string, unknown> } = {}): Promise<string> {
  const r = await enqueueTask(queueRoot, { body, ...(opts.id ? { id: opts.id } : {}), ...(opts.priority ? { priority: opts.priority } : {}), ...(opts.frontmatter ? { frontmatter: opts.frontmatter } : {}) }, { settleMs: 2000 });
  return r.id;
}

/** Task id → every state directory it is in (archive months included). */
export function locations(queueRoot: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (dir: string, state: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith('.md') || n.startsWith('.')) continue;
      const id = n.slice(0, -3);
      out.set(id, [...(out.get(id) ?? []), state]);
    }
  };
  for (const s of TASK_STATES) {
    if (s === 'archive') {
      let months: string[] = [];
      try {
        months = readdirSync(join(queueRoot, 'archive'));
      } catch {
        // none
      }
      for (const m of months) add(join(queueRoot, 'archive', m), 'archive');
    } else add(join(queueRoot, s), s);
  }
  return out;
}

/** Ids in a state. */
export function inState(queueRoot: string, state: string): string[] {
  return [...locations(queueRoot)].filter(([, s]) => s.includes(state)).map(([id]) => id).sort();
}

/** Throws unless every id is in exactly one state directory. */
export function assertOneStateEach(queueRoot: string, ids: readonly string[]): void {
  const loc = locations(queueRoot);
  const bad = ids.map((id) => [id, loc.get(id) ?? []] as const).filter(([, s]) => s.length !== 1);
  if (bad.length > 0) throw new Error(`tasks not in exactly one state directory: ${bad.map(([id, s]) => `${id}: [${s.join(', ')}]`).join('; ')}`);
}

export interface Receipt {
  session: string;
  taskId: string;
  time: number;
  pid: number;
  queued: boolean;
  sha256: string;
}

/** Prompts the simulator sessions received that carry a task marker. */
export function receipts(pool: ProjectPool, sessions: readonly string[]): Receipt[] {
  const out: Receipt[] = [];
  for (const s of sessions) {
    let text = '';
    try {
      text = readFileSync(pool.simLog(s), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('"received"')) continue;
      const r = JSON.parse(line) as { type: string; preview?: string; time: string; pid: number; queued?: boolean; sha256: string };
      const m = /\[cf-task:([A-Za-z0-9._-]+)\]/.exec(r.preview ?? '');
      if (r.type === 'received' && m?.[1]) out.push({ session: s, taskId: m[1], time: Date.parse(r.time), pid: r.pid, queued: r.queued === true, sha256: r.sha256 });
    }
  }
  return out.sort((a, b) => a.time - b.time);
}

/**
 * Deliveries of one task to two different sessions that overlap: the earlier session had not
 * ended a turn between receiving the task and the later delivery (so both held it at once).
 */
export function overlappingDeliveries(pool: ProjectPool, got: readonly Receipt[]): string[] {
  const out: string[] = [];
  const turnEnds = new Map<string, number[]>();
  const ends = (s: string) => {
    let v = turnEnds.get(s);
    if (!v) {
      v = simRecords(pool, s, 'turn-end').map((r) => Date.parse(r.time as string));
      turnEnds.set(s, v);
    }
    return v;
  };
  const byTask = new Map<string, Receipt[]>();
  for (const r of got) byTask.set(r.taskId, [...(byTask.get(r.taskId) ?? []), r]);
  for (const [id, rs] of byTask) {
    for (let i = 1; i < rs.length; i++) {
      const a = rs[i - 1] as Receipt;
      const b = rs[i] as Receipt;
      if (a.session === b.session) continue;
      if (!ends(a.session).some((t) => t >= a.time && t <= b.time)) out.push(`${id}: ${a.session} at ${new Date(a.time).toISOString()} and ${b.session} at ${new Date(b.time).toISOString()}`);
    }
  }
  return out;
}

/** Sim log records of one type (turn-end, invocation, ...). */
export function simRecords(pool: ProjectPool, session: string, type: string): Record<string, unknown>[] {
  try {
    return readFileSync(pool.simLog(session), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.type === type);
  } catch {
    return [];
  }
}

export function readStatusMap(stateDir: string): Record<string, Record<string, unknown>> {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'status.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  } catch {
    return {};
  }
}

export function startDaemon(pool: ProjectPool, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  return new DaemonProcess(pool.args, env);
}
