/** The session checkpoint format (version 1), shared by the Project controller and its readers. */
export const CHECKPOINTS_DIR = 'checkpoints';

export interface CheckpointTask {
  id: string;
  /** `dispatched`: the session holds the task now; `finished`: it no longer does (done, requeued or failed). */
  state: 'dispatched' | 'finished';
  attempt?: number;
  /** The project's queue directory. */
  queueRoot: string;
  /** The task file while dispatched (`<queueRoot>/dispatched/<id>.md`). */
  path: string;
  claimedAt?: string;
  deliveredAt?: string;
}

export interface CheckpointToolCall {
  tool: string;
  /** Command or path, as the guard's audit log recorded it (redacted, truncated). */
  command?: string;
  at: string;
}

export interface SessionCheckpoint {
  version: 1;
  session: string;
  project: string;
  account?: string;
  conversationId?: string;
  cwd: string;
  activity?: string;
  lastTask?: CheckpointTask;
  lastToolCall?: CheckpointToolCall;
  updatedAt: string;
}
