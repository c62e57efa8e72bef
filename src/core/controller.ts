/**
 * The Reconcile contract. A controller observes the world through ports, then plans with a
 * pure function of (desired, observed, prior status, owned). The runtime executes the plan's
 * effects and persists the status.
 */
import type { DesiredState } from '../api/objects.js';
import type { Kind } from '../api/schemas.js';
import type { Condition } from './conditions.js';
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
  /** A dry-run observes the same things but must not consume one-shot requests. */
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

export interface Controller<O = unknown> {
  readonly kind: Kind;
  /** Object names to reconcile: the declared ones and leftovers it owns. */
  names(desired: DesiredState, inventory: Inventory): string[];
  /** Reads the world for these names (I/O through ports only). */
  observe(names: readonly string[], ctx: ObserveContext): Promise<O>;
  /** Names found in the world that it owns (e.g. orphaned tmux sessions). Pure. */
  discovered?(observed: O): string[];
  /** Pure. Plans exactly `names`. */
  plan(input: PlanInput<O>, names: readonly string[]): PlanPart;
}
