/**
 * The Reconcile contract. A controller observes the world through ports, then plans with a
 * pure function of (desired, observed, prior status, owned). The runtime executes the plan's
 * effects and persists the status.
 */
import type { DesiredState } from '../api/objects.js';
import type { Kind } from '../api/schemas.js';
import type { Condition } from './conditions.js';
import type { ApplyFailure } from './outcome.js';
import type { Change, Drift, Note } from './plan.js';

/** Status of one object, Kubernetes-shaped: conditions plus kind-specific fields. */
export interface ObjectStatus {
  observedGeneration: string;
  conditions: Condition[];
  [field: string]: unknown;
}

export type StatusMap = Record<string, ObjectStatus>;

/** What the controller created, per object key, so removed manifests can be pruned safely. */
export interface OwnedResource {
  type: 'tmux-session' | 'symlink' | 'file' | 'directory' | 'git-worktree';
  /** The session, link, file or directory name; for a git worktree its path. */
  name: string;
  /** git-worktree: a directory of its repository (the project path it was created from). */
  repo?: string;
}
export type Inventory = Record<string, OwnedResource[]>;

export interface ObserveContext {
  desired: DesiredState;
  prior: StatusMap;
  /** What each object owns (e.g. the worktrees of a removed Session, to check before pruning them). */
  inventory?: Inventory;
  /**
   * A dry-run (a plan preview): observe what a real pass would, but reuse the latest committed
   * observation where getting a fresh one costs a request to another service (a usage poll).
   */
  dryRun?: boolean;
}

export interface PlanInput<O> {
  desired: DesiredState;
  observed: O;
  prior: StatusMap;
  inventory: Inventory;
  now: Date;
  options: ReconcileOptions;
}

export interface ReconcileOptions {
  /** Stop and remove what removed manifests owned. */
  prune: boolean;
  dryRun: boolean;
}

export interface PlanPart {
  changes: Change[];
  drift: Drift[];
  notes: Note[];
  /** New status of each object this pass looked at. */
  status: StatusMap;
  /** Per key: check back after this many ms (level-triggered follow-up). */
  requeueAfterMs: Record<string, number>;
  /** Events to record (and notify) when the plan is applied. */
  events: PlannedEvent[];
}

export interface PlannedEvent {
  key: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  data?: Record<string, unknown>;
}

export function emptyPlanPart(): PlanPart {
  return { changes: [], drift: [], notes: [], status: {}, requeueAfterMs: {}, events: [] };
}

/**
 * What a controller watches besides its own objects (kube-rs `watches_with`, controller-runtime
 * `Watches` + `EnqueueRequestsFromMapFunc`): its plans read objects of `kind`, so when one of them
 * changes, `map` names the objects of this controller to reconcile again. The manager builds the
 * triggers from these declarations (src/runtime/manager.ts).
 */
export interface Watch {
  /** The kind whose objects this controller's plans read. */
  kind: Kind;
  /**
   * What wakes it: `status`, a change of a watched object's status (as seen by `signature`);
   * `trigger`, an event source waking a watched object (an inbox file of a Project). Default: status.
   */
  on?: readonly ('status' | 'trigger')[];
  /**
   * The part of a watched object's status the plans read, compared as JSON (default: all of it).
   * `undefined` for an object whose status does not matter.
   */
  signature?: (status: ObjectStatus | undefined, key: string) => unknown;
  /** Names of this controller's objects to reconcile when `key` (`Kind/name` of `kind`) changed. */
  map: (key: string, desired: DesiredState) => string[];
}

/** A plan part after it was applied: the changes that failed, with their classes. */
export interface AppliedPlan {
  part: PlanPart;
  failures: readonly ApplyFailure[];
}

export interface Controller<O = unknown> {
  readonly kind: Kind;
  /** Object names to reconcile: the declared ones and leftovers it owns. */
  names(desired: DesiredState, inventory: Inventory): string[];
  /**
   * Reads the world for these names (I/O through ports only). Changes nothing that a later observe
   * or another reader relies on: what observing consumes (an events cursor, poll bookkeeping, an
   * operator's request) is returned as part of `O` and taken by `commit`.
   */
  observe(names: readonly string[], ctx: ObserveContext): Promise<O>;
  /**
   * Takes what `observed` consumed, once the plan made from it has been applied and its status
   * committed (never for a dry-run): moves the events cursor, keeps the poll bookkeeping, records
   * the outcome of a request. `applied` is that plan.
   */
  commit?(observed: O, applied: AppliedPlan): Promise<void> | void;
  /** Other objects whose changes this controller's plans depend on (see {@link Watch}). */
  readonly watches?: readonly Watch[];
  /** Names found in the world that it owns (e.g. orphaned tmux sessions). Pure. */
  discovered?(observed: O): string[];
  /** Pure. Plans exactly `names`. */
  plan(input: PlanInput<O>, names: readonly string[]): PlanPart;
}
