/**
 * Effects: the serializable commands a Change carries. Every effect is idempotent: running it
 * twice leaves the world as running it once. The runtime's executor maps each `type` to a port
 * call; controllers only ever build these objects.
 */
import type { QueueStatus, RecoveryAction } from './task.js';


export interface TmuxNewSessionEffect {
  type: 'tmux.newSession';
  session: string;
  cwd: string;
  argv: string[];
  /** The session's own variables; the pane gets these on top of the controller's allowlisted base (nothing else is inherited). */
  env: Record<string, string>;
  /** Variables never passed, even when `env` declares them. */
  unsetEnv: string[];
  /** Ownership tag value, `Session/<name>`. */
  owner: string;
  /** Extra tmux user options (`@cf-*`) to record on the session. */
  options: Record<string, string>;
}

export interface TmuxKillSessionEffect {
  type: 'tmux.killSession';
  session: string;
  /** Only kill when the session carries this owner tag. */
  owner: string;
}

/** Graceful stop: Ctrl-C twice, `/exit` + Enter (runtime/executor.ts STOP_SEQUENCE), then kill after `graceMs`. */
export interface TmuxStopSessionEffect {
  type: 'tmux.stopSession';
  session: string;
  owner: string;
  graceMs: number;
}

export interface FsWriteJsonEffect {
  type: 'fs.writeJson';
  path: string;
  value: unknown;
  mode?: number;
}

/** Merge `patch` (deep, objects only) into the JSON file at `path`, keeping other keys. */
export interface FsMergeJsonEffect {
  type: 'fs.mergeJson';
  path: string;
  patch: Record<string, unknown>;
}

export interface FsSymlinkEffect {
  type: 'fs.symlink';
  path: string;
  target: string;
  /** Replace an existing symlink (never a real file or directory). */
  replaceLink: boolean;
}

export interface FsMkdirEffect {
  type: 'fs.mkdir';
  path: string;
}

/** Record a controller-level fact in the state dir (inventory, active account, ...). */
export interface StateRecordEffect {
  type: 'state.record';
  key: string;
  record: string;
  value: unknown;
}

/** Writes the safety guard's hook into `<project>/.claude/hooks/` (mode 0555). */
export interface GuardDeployEffect {
  type: 'guard.deploy';
  projectPath: string;
  session: string;
  mode: 'enforce' | 'warn' | 'off';
  /** Paths the guard protects from writes (state dir, manifests). */
  protectPaths: string[];
  /** On a relaunch, log a failed deployment and go on (the earlier one is in place). */
  failOpen?: boolean;
}

/**
 * Creates a session's git worktree (`git worktree add`): checks `branch` out at `path`, creating
 * the branch from `base` (default: the checkout's HEAD) when it does not exist. Idempotent: a
 * worktree of `repo` already at `path` is left as it is (whatever it has checked out). Anything
 * else at `path` is an error, never overwritten.
 */
export interface GitAddWorktreeEffect {
  type: 'git.addWorktree';
  /** A directory of the repository (the project path). */
  repo: string;
  path: string;
  branch: string;
  base?: string;
}

/**
 * Removes a session's git worktree (`git worktree remove`, never forced): refused by git while it has
 * uncommitted changes. The branch is kept. A worktree already gone is success.
 */
export interface GitRemoveWorktreeEffect {
  type: 'git.removeWorktree';
  repo: string;
  path: string;
}

export type Effect =
  | TmuxNewSessionEffect
  | TmuxKillSessionEffect
  | TmuxStopSessionEffect
  | FsWriteJsonEffect
  | FsMergeJsonEffect
  | FsSymlinkEffect
  | FsMkdirEffect
  | StateRecordEffect
  | GuardDeployEffect
  | GitAddWorktreeEffect
  | GitRemoveWorktreeEffect
  | QueueEffect
  | DelegationEffect;

export type EffectType = Effect['type'];

// ---------------------------------------------------------------------------------------------
// Task queues (Project controller). `root` is the project's queue directory
// (`<project path>/<queueDir>`). Handlers: src/runtime/project-effects.ts.

/** Creates the queue layout (state dirs, leases/, intents/, .tmp/); idempotent. */
export interface QueueEnsureDirsEffect {
  type: 'queue.ensureDirs';
  root: string;
}

/**
 * Claims an inbox task for a session, durably, before any delivery: exclusive lease
 * (`leases/<id>.json`), then one rename inbox/ → dispatched/. Idempotent: a task already
 * dispatched under a lease of this session counts as claimed. Any other outcome throws, so the
 * change stops before its delivery effect.
 */
export interface QueueClaimEffect {
  type: 'queue.claim';
  root: string;
  taskId: string;
  session: string;
  account: string;
}

/**
 * Delivers a prompt into a session's pane: paste (load-buffer + paste-buffer), a separate Enter
 * after a short delay, verify the pane changed (one more Enter if not). With `task`, records
 * `deliveredAt` (when the paste started) on the task's lease afterwards (only when the lease
 * belongs to `session`). With
 * `task.continuation`, the prompt continues the task after a relaunch: it is pasted only while
 * the lease is still that claim with that last continuation (so one relaunch gets at most one
 * continuation), and `continuedAt` (the paste's start) and `continuations` are recorded instead.
 */
export interface TmuxDeliverEffect {
  type: 'tmux.deliver';
  session: string;
  text: string;
  task?: { root: string; taskId: string; continuation?: { claimId: string; previous?: string } };
}

/** dispatched/ → done/ with the footer appended (finish intent, footer, rename). */
export interface QueueCompleteEffect {
  type: 'queue.complete';
  root: string;
  taskId: string;
  footer: string;
  /** Refuse when the lease now belongs to another claim. */
  expectClaimId?: string;
}

/** Ends a dispatched delivery: back to inbox/ with attempts + 1, or failed/ at max attempts. */
export interface QueueRequeueEffect {
  type: 'queue.requeue';
  root: string;
  taskId: string;
  reason: string;
  maxAttempts: number;
  expectClaimId?: string;
}

/** Dead-letters a task (malformed, pinned to nothing, ...) to failed/ with the reason. */
export interface QueueFailEffect {
  type: 'queue.fail';
  root: string;
  taskId: string;
  from: 'inbox' | 'dispatched' | 'delegated';
  reason: string;
}

/** Renames an inbox file whose id exists in another state to `<id>-dup-<hex>.md` (inside inbox/). */
export interface QueueResolveConflictEffect {
  type: 'queue.resolveConflict';
  root: string;
  taskId: string;
}

/** Applies queue recovery actions (core/task.ts `planRecovery`): roll forward, drop records, requeue unleased. */
export interface QueueRecoverEffect {
  type: 'queue.recover';
  root: string;
  actions: RecoveryAction[];
}

/** Moves done tasks to archive/YYYY-MM/. */
export interface QueueArchiveEffect {
  type: 'queue.archive';
  root: string;
  tasks: { id: string; month: string }[];
}

/** Removes leftover temp files (only names the queue layer writes as temp files, inside `root`). */
export interface QueueCleanupTempEffect {
  type: 'queue.cleanupTemp';
  root: string;
  paths: string[];
}

/** Writes `<root>/status.json` atomically (for other tools). */
export interface QueueWriteStatusEffect {
  type: 'queue.writeStatus';
  root: string;
  status: QueueStatus;
}

/** Removes a session checkpoint file (janitor: older than pruneCheckpointsAfter). */
export interface CheckpointRemoveEffect {
  type: 'checkpoint.remove';
  path: string;
}

export type QueueEffect =
  | QueueEnsureDirsEffect
  | QueueClaimEffect
  | TmuxDeliverEffect
  | QueueCompleteEffect
  | QueueRequeueEffect
  | QueueFailEffect
  | QueueResolveConflictEffect
  | QueueRecoverEffect
  | QueueArchiveEffect
  | QueueCleanupTempEffect
  | QueueWriteStatusEffect
  | CheckpointRemoveEffect;

// ---------------------------------------------------------------------------------------------
// Delegation (DelegationPolicy controller, src/controllers/delegation-policy.ts). `root` is the
// project's queue directory. Handlers: src/adapters/delegation/service.ts, registered in wiring.

/** What a job record says about the job: its place in the delegation lifecycle. */
export type DelegationJobState =
  /** Record written, the job not (known to be) accepted: submit (again) with the same Idempotency-Key. */
  | 'pending'
  /** The API accepted the job (`jobId` set): poll it. */
  | 'submitted'
  /** Terminal: the result is in done/. */
  | 'succeeded'
  /** Terminal: the job failed, timed out or was refused; the task is in failed/. */
  | 'failed'
  /** Terminal: the task went back to inbox/ for a local session (timeout with fallbackToLocal). */
  | 'returned';

/**
 * The durable record of one task's delegation: `<root>/jobs/<taskId>.json`, written atomically
 * BEFORE the job is submitted, so a restart at any point neither loses the job nor submits twice
 * (no `jobId` → submit again with the same `idempotencyKey`; `jobId` → poll).
 */
export interface DelegationJobRecord {
  version: 1;
  taskId: string;
  project: string;
  policy: string;
  provider: string;
  /** 1-based delegation attempt of this task; part of the idempotency key. */
  attempt: number;
  /** `Idempotency-Key` of the submit (derived from task id and attempt; filled in before the submit). */
  idempotencyKey?: string;
  state: DelegationJobState;
  jobId?: string;
  /** Last job status reported by the API (queued, running, succeeded, failed). */
  jobStatus?: string;
  /** ISO times. */
  createdAt: string;
  submittedAt?: string;
  finishedAt?: string;
  cost?: number;
  currency?: string;
  /** Why the job failed / the task went back (terminal states). */
  error?: string;
  /** Failed submit attempts of this record (the API was unavailable). */
  submitFailures?: number;
  /** Earlier attempts of the same task (cost accounting and counters survive a re-delegation). */
  history?: { attempt: number; jobId?: string; state: DelegationJobState; cost?: number; currency?: string; finishedAt?: string }[];
}

/**
 * Delegates a task: (from inbox) write the pending record durably, rename inbox/ → delegated/;
 * then submit the job with the record's Idempotency-Key and record the job id. From `delegated`
 * (a pending record after a crash, or a task without a record) only the submit step runs, with the
 * same key, so the API returns the job it already has. Refused (retryable) while the circuit is open.
 */
export interface DelegationSubmitEffect {
  type: 'delegation.submit';
  policy: string;
  root: string;
  taskId: string;
  from: 'inbox' | 'delegated';
  /** The pending record to write (attempt, provider, ...); the handler adds the idempotency key. */
  record: DelegationJobRecord;
}

/**
 * Finishes a delegation: writes the terminal record, then moves the task delegated/ → done/
 * (result + delegated footer), failed/ (reason), or inbox/ (frontmatter `set`, e.g.
 * `allow_delegation: false`, so a local session takes it). With `cancelJob`, asks the API to
 * cancel the job first (best effort).
 */
export interface DelegationFinishEffect {
  type: 'delegation.finish';
  policy: string;
  root: string;
  taskId: string;
  to: 'done' | 'failed' | 'inbox';
  /** done: result section + footer; failed: the reason; inbox: unused (empty). */
  text: string;
  /** inbox: frontmatter fields to set before the move. */
  set?: Record<string, unknown>;
  record: DelegationJobRecord;
  cancelJob?: boolean;
}

/** Marks an inbox task local (frontmatter `allow_delegation: false`): budget reached. Keeps the mtime. */
export interface DelegationRouteLocalEffect {
  type: 'delegation.routeLocal';
  root: string;
  taskId: string;
  set: Record<string, unknown>;
}

/** Writes (replaces) a job record atomically. */
export interface DelegationWriteRecordEffect {
  type: 'delegation.writeRecord';
  root: string;
  record: DelegationJobRecord;
}

/** Removes job records (terminal ones past retention, or pending ones whose task never moved). */
export interface DelegationRemoveRecordsEffect {
  type: 'delegation.removeRecords';
  root: string;
  taskIds: string[];
}

export type DelegationEffect =
  | DelegationSubmitEffect
  | DelegationFinishEffect
  | DelegationRouteLocalEffect
  | DelegationWriteRecordEffect
  | DelegationRemoveRecordsEffect;

// ---------------------------------------------------------------------------------------------
// The typed effect registry: one handler per effect type, receiving its own shape.

/** The effect of type `T`. */
export type EffectOf<T extends EffectType> = Extract<Effect, { type: T }>;

/** Runs one effect of type `T` (idempotent). */
export type EffectHandler<T extends EffectType> = (effect: EffectOf<T>) => Promise<void>;

/** Handlers by effect type; the executor needs one for every type (see {@link EFFECT_TYPES}). */
export type EffectHandlers = { [T in EffectType]?: EffectHandler<T> };

const EFFECT_TYPE_SET = {
  'tmux.newSession': true,
  'tmux.killSession': true,
  'tmux.stopSession': true,
  'fs.writeJson': true,
  'fs.mergeJson': true,
  'fs.symlink': true,
  'fs.mkdir': true,
  'state.record': true,
  'guard.deploy': true,
  'git.addWorktree': true,
  'git.removeWorktree': true,
  'queue.ensureDirs': true,
  'queue.claim': true,
  'tmux.deliver': true,
  'queue.complete': true,
  'queue.requeue': true,
  'queue.fail': true,
  'queue.resolveConflict': true,
  'queue.recover': true,
  'queue.archive': true,
  'queue.cleanupTemp': true,
  'queue.writeStatus': true,
  'checkpoint.remove': true,
  'delegation.submit': true,
  'delegation.finish': true,
  'delegation.routeLocal': true,
  'delegation.writeRecord': true,
  'delegation.removeRecords': true,
} as const satisfies Record<EffectType, true>;

/** Every effect type (tsc checks the list is complete: a new type without an entry does not build). */
export const EFFECT_TYPES = Object.keys(EFFECT_TYPE_SET) as EffectType[];

/** A complete handler table for a family of effects (e.g. every QueueEffect). */
export type HandlersFor<U extends Effect> = { [T in U['type']]: EffectHandler<T> };
