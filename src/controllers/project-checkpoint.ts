/**
 * Session checkpoints (docs/queue-protocol.md, "Recovery, janitor, views"): `<state-dir>/checkpoints/<session>.json`, the last task, the
 * conversation id, the working directory and the last tool call of each session, rewritten
 * atomically (an `fs.writeJson` effect) whenever one of them changes. Failover replay and crash
 * recovery read them (src/adapters/checkpoints.ts). Pure.
 */
import { posix } from 'node:path';

export { CHECKPOINTS_DIR, type CheckpointTask, type CheckpointToolCall, type SessionCheckpoint } from '../core/checkpoint.js';
import { CHECKPOINTS_DIR, type CheckpointTask, type CheckpointToolCall, type SessionCheckpoint } from '../core/checkpoint.js';

export function checkpointPath(stateDir: string, session: string): string {
  return posix.join(stateDir, CHECKPOINTS_DIR, `${session}.json`);
}

export interface CheckpointInput {
  session: string;
  project: string;
  cwd: string;
  account?: string;
  conversationId?: string;
  activity?: string;
  /** The task this session holds now (its lease), if any. */
  held?: Omit<CheckpointTask, 'state'>;
  lastToolCall?: CheckpointToolCall;
}

/**
 * The checkpoint a session should have now: what it holds, else its previous last task marked
 * finished. Returns the previous checkpoint unchanged (same object) when nothing but the time
 * would differ, so callers write only on change.
 */
export function nextCheckpoint(prev: SessionCheckpoint | undefined, input: CheckpointInput, now: Date): SessionCheckpoint {
  const lastTask: CheckpointTask | undefined = input.held
    ? { ...input.held, state: 'dispatched' }
    : prev?.lastTask
      ? { ...prev.lastTask, state: 'finished' }
      : undefined;
  const next: SessionCheckpoint = {
    version: 1,
    session: input.session,
    project: input.project,
    ...(input.account !== undefined ? { account: input.account } : {}),
    ...(input.conversationId !== undefined ? { conversationId: input.conversationId } : prev?.conversationId !== undefined ? { conversationId: prev.conversationId } : {}),
    cwd: input.cwd,
    ...(input.activity !== undefined ? { activity: input.activity } : {}),
    ...(lastTask ? { lastTask } : {}),
    ...(input.lastToolCall ? { lastToolCall: input.lastToolCall } : prev?.lastToolCall ? { lastToolCall: prev.lastToolCall } : {}),
    updatedAt: now.toISOString(),
  };
  if (prev && sameCheckpoint(prev, next)) return prev;
  return next;
}

/** Equal apart from `updatedAt`. */
export function sameCheckpoint(left: SessionCheckpoint, right: SessionCheckpoint): boolean {
  return canonical({ ...left, updatedAt: '' }) === canonical({ ...right, updatedAt: '' });
}

/** JSON with sorted keys and without undefined members. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record).filter((k) => record[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
