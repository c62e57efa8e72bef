/**
 * The status of each kind, typed, and the accessors controllers use to read another kind's status.
 *
 * Storage stays untyped (`StatusMap`: a record of `ObjectStatus`, persisted as JSON), so the store,
 * the state file and the API need not know the kinds. Reading is typed here, in one place: each
 * accessor narrows `status[key]` to the status of the key's kind. That narrowing is sound because a
 * key's status is only ever written by its own kind's controller (`Account/<name>` and `Account/*`
 * by the Account controller, `Session/<name>` by the Session controller, …: the manager merges a
 * controller's plan status only under its own kind), and each controller writes the interface
 * declared here. Fields added later are optional, so a status persisted by an older version reads
 * as a valid (partial) one.
 */
import type { Kind } from '../api/schemas.js';
import type { Activity, ActivityState } from './activity.js';
import type { ObjectStatus, StatusMap } from './controller.js';
import type { PollState } from './poll-schedule.js';
import type { UsageProbe, UsageFetch } from './ports.js';
import type { MergedUsage, UsageSnapshot } from './quota.js';
import type { QuotaHealthReason } from './quota-health.js';
import type { QueueCounts, SessionQueueState } from './task.js';

/** Where the Account controller records the pool-wide decision (the active account). */
export const POOL_KEY = 'Account/*';

// ---------------------------------------------------------------------------------------------
// Account

/** `status` of `Account/<name>`: its conditions, tier, merged usage and poll bookkeeping. */
export interface AccountStatus extends ObjectStatus {
  active: boolean;
  /** The decision's tier for this account (src/controllers/account-decision.ts). */
  tier: 'good' | 'unknown' | 'over' | 'exhausted' | 'excluded';
  usage: Pick<MergedUsage, 'fiveHour' | 'sevenDay' | 'scoped' | 'exhausted' | 'exhaustedUntil' | 'evidence'>;
  freshness: { state: 'Fresh' | 'Stale' | 'Unknown'; ageMs?: number };
  quotaHealth?: { known: boolean; reason: QuotaHealthReason; failures: number; ageMs?: number };
  poll: PollState<UsageSnapshot>;
  /** Since when this controller has been watching the account (ISO): the start of a blind spell. */
  observingSince: string;
  /** The last failed poll, kept until a poll succeeds. */
  lastPollError?: { kind: Extract<UsageFetch, { ok: false }>['kind']; message: string; at: string };
  /** The last tokenless probe while polls backed off: did the endpoint's server answer? */
  lastProbe?: UsageProbe & { at: string };
}

/** `status` of `Account/*`: the pool decision. */
export interface PoolStatus extends ObjectStatus {
  activeAccount: string | null;
  activeSince?: string;
  lastDecision?: { reason: string; message: string; at: string };
  allExhausted: boolean;
  exhausted: string[];
  requeueAt?: string;
  failover?: { from: string | null; to: string; reason: string; startedAt: string; completedAt?: string };
  /** Set while no account can take the pool (every account excluded): sessions are not launched. */
  noEligibleAccount?: { since: string; message: string; accounts: { name: string; why: string }[] };
  /** The outcome of the last forced request (`failover --to`), by its id. */
  forced?: { id?: string; to: string; accepted: boolean; message: string; at: string };
}

// ---------------------------------------------------------------------------------------------
// Session

/** One failure of a session's process (src/controllers/crash-loop.ts). */
export interface FailureRecord {
  at: string;
  /** `LaunchFailed`: the launch itself failed (no process ran; its change's error is in the ApplyFailed event). */
  reason: 'Exited' | 'Vanished' | 'LaunchFailed';
  exitStatus?: number | null;
  /** How long the process had run. */
  uptimeMs: number;
  /** The last lines the process left in its pane (at most a few, each shortened), oldest first. */
  lastOutput?: string[];
  /** Why the launch failed (`LaunchFailed`: the failed change's error). */
  error?: string;
}

/** The worktree as shown in the Session's status. */
export interface WorktreeStatus {
  path: string;
  /** The branch checked out now (the agent may have switched it), else the one asked for. */
  branch: string;
  /** The project path it was created from (its repository). */
  repo: string;
  head?: string;
  /** Removed with the Session by its prune annotation (as well as by --prune). */
  prune?: boolean;
}

/** `status` of `Session/<name>`: the fields beyond the conditions. */
export interface SessionStatus extends ObjectStatus, Partial<ActivityState> {
  tmuxSession?: string;
  project?: string;
  mode?: 'pool' | 'dedicated';
  account?: string | null;
  conversationId?: string;
  launchMode?: 'new' | 'resume';
  launchedAt?: string;
  launches?: number;
  launch?: Record<string, unknown>;
  restarts?: number;
  failures?: FailureRecord[];
  panePid?: number | null;
  /** Where `activity` came from: the hooks (primary) or the pane capture fallback. */
  activitySource?: 'hooks' | 'pane';
  /** A limit message seen in the pane's status region (fallback); confirmed on a second sighting. */
  paneLimit?: { text: string; resetsAt?: string; at: string; confirmed: boolean };
  /** The session's git worktree (`spec.worktree`). */
  worktree?: WorktreeStatus;
  /** The last exit of the agent's process: status, uptime and the last lines of its pane. */
  lastExit?: { at: string; exitStatus: number | null; uptimeMs: number; output: string[] };
}

// ---------------------------------------------------------------------------------------------
// Project

/** `status` of `Project/<name>` (beyond conditions). */
export interface ProjectStatus extends ObjectStatus {
  queueRoot: string;
  counts: QueueCounts & { settling: number };
  sessions: Record<string, { state: SessionQueueState; task?: string; since?: string }>;
  busy: number;
  idle: number;
  dispatchPaused?: string;
  awaitingDelegation?: { taskId: string; provider?: string; rule: string }[];
  waiting?: { taskId: string; reason: string }[];
  /** Task id → when it was first held for a rate limit (ISO). */
  holds?: Record<string, string>;
  /** Dispatched tasks without activity for `alerts.stuckTaskAfter`: task id → the last activity (ISO) of the spell reported. */
  stuck?: Record<string, string>;
  /** Fingerprint of the last status.json written. */
  published?: string;
  janitorAt?: string;
}

// ---------------------------------------------------------------------------------------------
// DelegationPolicy

export interface ActiveJob {
  taskId: string;
  project: string;
  provider: string;
  attempt: number;
  state: 'pending' | 'submitted';
  jobId?: string;
  jobStatus?: string;
  createdAt: string;
  submittedAt?: string;
}

export interface DelegationCounters {
  /** Jobs accepted by the API (records kept: `recordRetentionMs`). */
  submitted: number;
  succeeded: number;
  failed: number;
  /** Tasks returned to local sessions (timeout with fallbackToLocal). */
  returned: number;
}

/** The circuit breaker of a policy's API (src/adapters/delegation/circuit-breaker.ts), as its status shows it. */
export interface CircuitView {
  state: 'closed' | 'open' | 'halfOpen';
  /** Consecutive failures (reset by a success). */
  consecutiveFailures: number;
  /** How many times the breaker opened since it was last closed (drives the open period). */
  opens: number;
  /** Epoch ms the breaker last opened. */
  openedAt?: number;
  /** Epoch ms from which a probe is allowed (open), or when the probe was let through (halfOpen). */
  retryAt?: number;
  /** halfOpen: a probe request is in flight; other requests are refused until it ends. */
  probeInFlight?: boolean;
  /** The last failure, for the condition message (never carries a secret: client messages are scrubbed). */
  lastError?: string;
  /** Epoch ms of the last failure. */
  lastFailureAt?: number;
}

/** `status` of `DelegationPolicy/<name>` (for `get`, the control plane's /api/v1/delegation). */
export interface DelegationPolicyStatus extends ObjectStatus {
  endpoint: string;
  projects: string[];
  activeJobs: ActiveJob[];
  activeCount: number;
  maxConcurrentJobs: number;
  counters: DelegationCounters;
  /** Cost of the jobs that finished today (UTC day `day`), from the job records. */
  costToday: number;
  currency: string;
  day: string;
  budget?: { maxCostPerDay: number; remaining: number };
  budgetExhausted: boolean;
  /** The UTC day DelegationBudgetReached was emitted (once per day). */
  budgetReachedOn?: string;
  circuit: CircuitView;
  /** Tasks routed to delegation that wait in inbox/, and why. */
  waiting?: { taskId: string; project: string; provider?: string; reason: string }[];
}

// ---------------------------------------------------------------------------------------------
// Notifier

/** `status` of `Notifier/<name>`: its Ready condition and the dispatcher's delivery counters. */
export interface NotifierStatus extends ObjectStatus {
  delivery?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The map and the accessors

/** The status each kind's controller writes under `<Kind>/<name>`. */
export interface StatusByKind {
  Account: AccountStatus;
  Project: ProjectStatus;
  DelegationPolicy: DelegationPolicyStatus;
  Session: SessionStatus;
  Notifier: NotifierStatus;
}

export type StatusOf<K extends Kind> = StatusByKind[K];

/**
 * The status of `<kind>/<name>`, typed. The one narrowing of a stored status: sound because only
 * the kind's own controller writes under its keys (see the module comment).
 */
export function statusOf<K extends Kind>(status: StatusMap, kind: K, name: string): StatusOf<K> | undefined {
  return asStatusOf(kind, status[`${kind}/${name}`]);
}

/**
 * One status known to be of `kind`, typed (e.g. what a controller's watch `signature` receives for
 * a watched object: the manager passes the statuses of that kind's keys only).
 */
export function asStatusOf<K extends Kind>(_kind: K, st: ObjectStatus | undefined): StatusOf<K> | undefined {
  return st as StatusOf<K> | undefined;
}

/** The status stored under `Account/*`, typed as the pool decision. */
export function asPoolStatus(st: ObjectStatus | undefined): PoolStatus | undefined {
  return st as PoolStatus | undefined;
}

/** Every named status of a kind (not the pool's `Account/*`), by name, in the map's order. */
export function statusesOf<K extends Kind>(status: StatusMap, kind: K): [string, StatusOf<K>][] {
  const prefix = `${kind}/`;
  const out: [string, StatusOf<K>][] = [];
  for (const [key, st] of Object.entries(status)) {
    const typed = asStatusOf(kind, st);
    if (key.startsWith(prefix) && key !== POOL_KEY && typed) out.push([key.slice(prefix.length), typed]);
  }
  return out;
}

/** The pool decision, as the Account controller recorded it under `Account/*`. */
export function poolStatus(status: StatusMap): PoolStatus | undefined {
  return asPoolStatus(status[POOL_KEY]);
}

export function accountStatus(status: StatusMap, name: string): AccountStatus | undefined {
  return statusOf(status, 'Account', name);
}

export function sessionStatus(status: StatusMap, name: string): SessionStatus | undefined {
  return statusOf(status, 'Session', name);
}

export function projectStatus(status: StatusMap, name: string): ProjectStatus | undefined {
  return statusOf(status, 'Project', name);
}

export function delegationPolicyStatus(status: StatusMap, name: string): DelegationPolicyStatus | undefined {
  return statusOf(status, 'DelegationPolicy', name);
}

/** The activity state recorded in a session's status; undefined before its first observation. */
export function activityOf(st: SessionStatus | undefined): ActivityState | undefined {
  if (!st?.activity) return undefined;
  // `turns` is always written with `activity` (src/controllers/session.ts pickActivity).
  return { ...st, activity: st.activity, turns: st.turns ?? 0 };
}

/**
 * A session as the other controllers see it, from its status alone: the account its process runs
 * under, what it is doing, and whether it is Ready. (The Project controller's richer view, with the
 * manifest and tmux, is src/controllers/project-decide.ts `SessionView`.)
 */
export interface SessionView {
  name: string;
  /** The account its current launch runs under (null: none; undefined: never launched). */
  account?: string | null;
  launchedAt?: string;
  activity?: Activity;
  currentTask?: string;
  /** Its Ready condition is True. */
  ready: boolean;
  readyReason?: string;
  /** The status line's usage figures, with the account of the process that reported them. */
  rateLimits?: ActivityState['rateLimits'];
  /** The last StopFailure (e.g. `rate_limit`), with the account of the process that reported it. */
  lastError?: ActivityState['lastError'];
  /** A limit message read from the pane (fallback for sessions without hooks). */
  paneLimit?: SessionStatus['paneLimit'];
}

function viewOf(name: string, st: SessionStatus): SessionView {
  const ready = st.conditions?.find((c) => c.type === 'Ready');
  return {
    name,
    ...(st.account !== undefined ? { account: st.account } : {}),
    ...(st.launchedAt !== undefined ? { launchedAt: st.launchedAt } : {}),
    ...(st.activity !== undefined ? { activity: st.activity } : {}),
    ...(st.currentTask !== undefined ? { currentTask: st.currentTask } : {}),
    ready: ready?.status === 'True',
    ...(ready?.reason ? { readyReason: ready.reason } : {}),
    ...(st.rateLimits !== undefined ? { rateLimits: st.rateLimits } : {}),
    ...(st.lastError !== undefined ? { lastError: st.lastError } : {}),
    ...(st.paneLimit !== undefined ? { paneLimit: st.paneLimit } : {}),
  };
}

/** The view of `Session/<name>`; undefined when it has no status yet. */
export function sessionView(status: StatusMap, name: string): SessionView | undefined {
  const st = sessionStatus(status, name);
  return st ? viewOf(name, st) : undefined;
}

/** The views of every session with a status, in the map's order. */
export function sessionViews(status: StatusMap): SessionView[] {
  return statusesOf(status, 'Session').map(([name, st]) => viewOf(name, st));
}
