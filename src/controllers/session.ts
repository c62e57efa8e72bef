/**
 * Session controller: one tmux session per Session manifest on the controller's tmux server,
 * running Claude Code with a known conversation id, observer hooks and the safety guard.
 * observe() reads tmux, the session's hook events and transcripts; plan() is pure.
 */
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { applyEvents, initialActivity, type Activity, type ActivityState, type HookEventRecord } from '../core/activity.js';
import { transcriptPath, isConversationId } from '../core/claude-paths.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { emptyPlanPart, type AppliedPlan, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';
import { fieldDiff } from '../core/diff.js';
import type { OperatorRequest, RequestsPort } from '../core/requests.js';
import type { Effect } from '../core/effects.js';
import { errorCode, errorMessage } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import type { EventsCursor, FsReadPort, GitPort, GitRepoInfo, SessionEventsPort, TmuxPort, TmuxSessionInfo } from '../core/ports.js';
import { worktreeTarget, type WorktreeTarget } from '../api/worktree.js';
import { confirmPaneLimit, readPane } from '../core/pane-fallback.js';
import { waitingForInputAlerts } from './session-alerts.js';
import { crashLoopVerdict, DEFAULT_CRASH_LOOP, exitOutput, exitSummary, recordFailure, type CrashLoopPolicy } from './crash-loop.js';
import { accountStatus, activityOf, asPoolStatus, POOL_KEY, poolStatus, sessionStatus, type SessionStatus } from '../core/status.js';
import {
  conversationArgs, launchGeneration, launchSpec, launchView, prepareEffects, sessionSettings, UNSET_ENV,
  type LaunchContext, type LaunchSpec, type WorktreeLaunch,
} from './session-launch.js';
import {
  decideWorktree, judgeOrphanWorktree, ownedWorktrees,
  type OrphanWorktreeObserved, type WorktreeDecision, type WorktreeObserved,
} from './session-worktree.js';

export { UNSET_ENV, launchSpec, launchGeneration };
export type { SessionStatus };
export const PRUNE_ANNOTATION = 'claudefailover.io/prune';
export const DEFAULT_STOP_GRACE_MS = 10_000;
/** How long a working session may finish its turn before a failover stops it. */
export const DEFAULT_FAILOVER_GRACE_MS = 120_000;

/** The account reported a hard limit (evidence, or utilization at or over 100 %). */
function accountHitLimit(prior: PlanInput<unknown>['prior'], account: string | undefined): boolean {
  if (!account) return false;
  return accountStatus(prior, account)?.usage?.exhausted === true;
}

export interface SessionObserved {
  tmux: Map<string, TmuxSessionInfo>;
  /** Set when tmux itself could not be run (not installed): nothing is observed. */
  tmuxProblem?: string;
  /** Hook events appended since the last committed observation, per session. */
  events: Record<string, HookEventRecord[]>;
  /** Where each session's events were read up to: committed after the plan is applied (`commit`). */
  eventCursors?: Record<string, EventsCursor>;
  /** Absolute path of each session's command (undefined: not found in PATH). */
  commands: Record<string, string | undefined>;
  /** Whether the transcript of the conversation a session would resume exists. */
  transcripts: Record<string, boolean>;
  /** A fresh conversation id per session, used only if it must start a new conversation. */
  freshIds: Record<string, string>;
  /** Pane text, captured only for sessions that send no hook events (the fallback). */
  panes: Record<string, string>;
  /** Text left in the pane of a process that exited (captured once per exit, before the relaunch). */
  exitPanes: Record<string, string>;
  /** Declared sessions with `spec.worktree`: their repository and what is at the worktree's path. */
  worktrees?: Record<string, WorktreeObserved>;
  /** Sessions no longer declared that own worktrees (inventory): each worktree and its changes. */
  orphanWorktrees?: Record<string, OrphanWorktreeObserved[]>;
  /** Pending restart requests per session (served by the plan, closed by `commit`). */
  restarts?: Record<string, OperatorRequest[]>;
}

/** An observation of nothing (observe starts from it; tests build theirs on it). */
export function emptySessionObserved(over: Partial<SessionObserved> = {}): SessionObserved {
  return { tmux: new Map(), events: {}, commands: {}, transcripts: {}, freshIds: {}, panes: {}, exitPanes: {}, ...over };
}

/** A session without any hook event this long after launch is read from its pane instead. */
export const PANE_FALLBACK_AFTER_MS = 20_000;

export interface SessionControllerDeps extends LaunchContext {
  tmux: TmuxPort;
  fs: FsReadPort;
  /** Hook events appended since the committed cursor; `commit` moves the cursor (after an apply). */
  events: SessionEventsPort;
  resolveCommand(command: string): Promise<string | undefined>;
  newId(): string;
  crashLoop?: CrashLoopPolicy;
  /** How long a working session may finish its turn on failover (default 2 min). */
  failoverGraceMs?: number;
  /** git, for sessions with `spec.worktree` (without it they are not launched, and say why). */
  git?: GitPort;
  /** Operator requests (restarts) in the state dir. */
  requests?: RequestsPort;
  /** Builds the guard's PreToolUse hook entry for a session (undefined: guard disabled). */
  guardHook?: (session: ManifestObject<'Session'>, project: ManifestObject<'Project'> | undefined) => { settings: Record<string, unknown>; effect: Effect } | undefined;
}

export function ownerOf(name: string): string {
  return `Session/${name}`;
}

/** What a Session's plans read of the pool's status: the active account, and whether any account can take it. */
export function poolSignatureForSessions(st: ObjectStatus | undefined, key: string): unknown {
  if (key !== POOL_KEY) return undefined;
  const pool = asPoolStatus(st);
  return [pool?.activeAccount, pool?.allExhausted, pool?.noEligibleAccount === undefined];
}

export class SessionController implements Controller<SessionObserved> {
  readonly kind = 'Session' as const;
  /** The pool moving to another account (or none being eligible) re-plans every session. */
  readonly watches: readonly Watch[] = [{ kind: 'Account', signature: poolSignatureForSessions, map: (_key, desired) => desired.sessions.map((s) => s.metadata.name) }];
  readonly #deps: SessionControllerDeps;

  constructor(deps: SessionControllerDeps) {
    this.#deps = deps;
  }

  names(desired: DesiredState, inventory: Inventory): string[] {
    const names = new Set(desired.sessions.map((s) => s.metadata.name));
    for (const key of Object.keys(inventory)) if (key.startsWith('Session/')) names.add(key.slice('Session/'.length));
    return [...names].sort();
  }

  discovered(observed: SessionObserved): string[] {
    return [...observed.tmux.values()].filter((t) => t.owner === ownerOf(t.name)).map((t) => t.name);
  }

  async observe(names: readonly string[], ctx: ObserveContext): Promise<SessionObserved> {
    const out = emptySessionObserved();
    try {
      const list = await this.#deps.tmux.listSessions();
      out.tmux = new Map(list.map((s) => [s.name, s]));
    } catch (err) {
      // Dry-run must work where tmux is not installed (CI): observe nothing and say so.
      if (errorCode(err) !== 'CF_ERR_TMUX_MISSING') throw err;
      out.tmuxProblem = errorMessage(err);
    }
    const repos = new Map<string, Promise<GitRepoInfo | undefined>>();
    const restarts = (await this.#deps.requests?.pending('restart')) ?? [];
    for (const name of names) {
      const mine = restarts.filter((r) => r.target === name);
      if (mine.length > 0) (out.restarts ??= {})[name] = mine;
      const read = await this.#deps.events.read(name);
      out.events[name] = read.records;
      if (read.cursor) (out.eventCursors ??= {})[name] = read.cursor;
      out.freshIds[name] = this.#deps.newId();
      const s = ctx.desired.sessions.find((x) => x.metadata.name === name);
      if (!s) {
        const owned = ownedWorktrees(ctx.inventory?.[`Session/${name}`]);
        if (owned.length > 0) (out.orphanWorktrees ??= {})[name] = await Promise.all(owned.map((w) => this.#observeOrphanWorktree(w)));
        continue;
      }
      const project = ctx.desired.projects.find((p) => p.metadata.name === s.spec.project);
      const target = worktreeTarget(s, project);
      let worktree: WorktreeLaunch | undefined;
      if (target && project) {
        const w = await this.#observeWorktree(target, project.spec.path, repos);
        (out.worktrees ??= {})[name] = w;
        const d = decideWorktree(w, project.spec.path, false);
        if (d.kind === 'ready') worktree = { cwd: d.cwd, path: target.path, branch: d.status.branch };
      }
      const cmd = s.spec.command[0] as string;
      if (!(cmd in out.commands)) out.commands[cmd] = cmd.includes('/') ? cmd : await this.#deps.resolveCommand(cmd);
      const prior = sessionStatus(ctx.prior, name);
      const t = out.tmux.get(name);
      if (t && t.owner === ownerOf(name) && t.paneDead && prior?.launchedAt) {
        // Why did it exit? The pane stays after the process (remain-on-exit): keep its last lines.
        try {
          out.exitPanes[name] = await this.#deps.tmux.capturePane(name, 200);
        } catch {
          // gone meanwhile: the failure is recorded without output
        }
      }
      const silent = !prior?.lastHeartbeat || (prior.launchedAt !== undefined && prior.lastHeartbeat < prior.launchedAt);
      const launchedLongAgo = prior?.launchedAt !== undefined && Date.now() - Date.parse(prior.launchedAt) > PANE_FALLBACK_AFTER_MS;
      if (t && t.owner === ownerOf(name) && !t.paneDead && silent && launchedLongAgo && (out.events[name] ?? []).length === 0) {
        try {
          out.panes[name] = await this.#deps.tmux.capturePane(name);
        } catch {
          // the pane went away; the next observation sees it
        }
      }
      const l = launchSpec(s, ctx.desired, ctx.prior, this.#deps, undefined, worktree);
      const id = prior?.conversationId;
      if (id && isConversationId(id) && l.configDir) {
        const info = await this.#deps.fs.inspect(transcriptPath(l.configDir, l.cwd, id));
        out.transcripts[name] = info.kind === 'file';
      }
    }
    return out;
  }

  async #observeWorktree(target: WorktreeTarget, projectPath: string, repos: Map<string, Promise<GitRepoInfo | undefined>>): Promise<WorktreeObserved> {
    const git = this.#deps.git;
    if (!git) return { target, problem: 'git is not available to this controller' };
    try {
      let repo = repos.get(projectPath);
      if (!repo) {
        repo = git.repoOf(projectPath);
        repos.set(projectPath, repo);
      }
      const info = await repo;
      return { target, ...(info ? { repo: info, at: await git.worktreeAt(target.path) } : {}) };
    } catch (err) {
      return { target, problem: errorMessage(err) };
    }
  }

  async #observeOrphanWorktree(w: { path: string; repo: string }): Promise<OrphanWorktreeObserved> {
    const git = this.#deps.git;
    if (!git) return { ...w, changes: [], problem: 'git is not available to this controller' };
    try {
      const at = await git.worktreeAt(w.path);
      return { ...w, at, changes: at.state === 'worktree' ? await git.changes(w.path) : [] };
    } catch (err) {
      return { ...w, changes: [], problem: errorMessage(err) };
    }
  }

  /**
   * The plan made from this observation was applied (and its status committed): the events it
   * read are read, and each restart request it served gets its result.
   */
  async commit(observed: SessionObserved, applied: AppliedPlan): Promise<void> {
    for (const [name, cursor] of Object.entries(observed.eventCursors ?? {})) this.#deps.events.commit(name, cursor);
    const requests = this.#deps.requests;
    if (!requests) return;
    const at = new Date().toISOString();
    for (const [name, pending] of Object.entries(observed.restarts ?? {})) {
      const result = restartResult(`Session/${name}`, applied);
      for (const r of pending) await requests.complete(r.id, { ...result, at });
    }
  }

  plan(input: PlanInput<SessionObserved>, names: readonly string[]): PlanPart {
    const out = emptyPlanPart();
    if (input.observed.tmuxProblem) out.notes.push({ key: 'Session/*', level: 'warning', message: `${input.observed.tmuxProblem}; no sessions observed` });
    for (const name of names) {
      if (planRestart(name, input, out)) continue;
      planOne(name, input, out, this.#deps);
    }
    return out;
  }
}

const RESTART_REASON = 'restart requested';

/**
 * Serves an operator's restart request: a running session owned by this controller is stopped now
 * (the kill is immediate: the operator asked), keeping its status, and checked again at once; the
 * next pass relaunches it and resumes its conversation. Returns whether it planned the stop.
 */
export function planRestart(name: string, input: PlanInput<SessionObserved>, out: PlanPart): boolean {
  const requests = input.observed.restarts?.[name];
  const tmuxSession = input.observed.tmux.get(name);
  if (!requests || requests.length === 0 || !tmuxSession || tmuxSession.owner !== ownerOf(name) || tmuxSession.paneDead) return false;
  const key = `Session/${name}`;
  const latest = requests.at(-1) as OperatorRequest;
  out.changes.push({
    key,
    action: 'delete',
    resource: `tmux session "${name}"`,
    reason: `${RESTART_REASON} by ${latest.requestedBy}${latest.reason ? `: ${latest.reason}` : ''} (request ${latest.id})`,
    effects: [{ type: 'tmux.killSession', session: name, owner: ownerOf(name) }],
  });
  const prior = input.prior[key];
  if (prior) out.status[key] = prior;
  out.requeueAfterMs[key] = 0;
  return true;
}

/** The result of the restart requests of `key` once its plan was applied. */
export function restartResult(key: string, applied: AppliedPlan): { accepted: boolean; message: string } {
  const stop = applied.part.changes.find((c) => c.key === key && c.reason.startsWith(RESTART_REASON));
  if (!stop) return { accepted: false, message: `${key} has no running tmux session of this controller to restart` };
  const failed = applied.failures.find((f) => f.key === key);
  if (failed) return { accepted: false, message: `${stop.resource} could not be stopped: ${failed.error}` };
  return { accepted: true, message: `${stop.resource} stopped; the Session controller relaunches it and resumes its conversation` };
}

/** One session's pass through the phases below: what they all read. */
export interface SessionPass {
  name: string;
  /** `Session/<name>`. */
  key: string;
  /** `tmux session "<name>"`, as changes and messages name it. */
  resource: string;
  session: ManifestObject<'Session'>;
  /** Its tmux session, whoever owns it. */
  tmux: TmuxSessionInfo | undefined;
  prior: SessionStatus | undefined;
  input: PlanInput<SessionObserved>;
  deps: SessionControllerDeps;
}

/** What the launch phases need: the launch spec, the worktree decision and its effects. */
export interface LaunchPlan {
  spec: LaunchSpec;
  worktree: WorktreeDecision | undefined;
  /** `git.addWorktree` when the worktree must be made before the launch. */
  createWorktree: Effect[];
  /** `; creating its git worktree …` for the change's reason, or ''. */
  inWorktree: string;
}

/**
 * One session, in phases: a removed one is stopped or reported; a declared one gets its activity
 * folded in, then is left alone (name conflict), stopped (suspended), launched (gone), relaunched
 * (settings or account changed) or recorded as running.
 */
function planOne(name: string, input: PlanInput<SessionObserved>, out: PlanPart, deps: SessionControllerDeps): void {
  const session = input.desired.sessions.find((s) => s.metadata.name === name);
  const tmux = input.observed.tmux.get(name);
  const prior = sessionStatus(input.prior, name);
  if (!session) {
    planRemoved(name, tmux, prior, input, out);
    return;
  }
  const pass: SessionPass = { name, key: `Session/${name}`, resource: `tmux session "${name}"`, session, tmux, prior, input, deps };
  const { status: base, activity } = observedStatus(pass, out);
  if (planLeftOrStopped(pass, base, out)) return;
  const launch = launchPlan(pass, base, out);
  const gone = !tmux || tmux.paneDead;
  if (gone && prior?.launchedAt) recordExit(pass, prior.launchedAt, base, out);
  if (launch.worktree?.kind === 'blocked') {
    planWorktreeBlocked(pass, base, launch.worktree, gone, out);
    return;
  }
  if (gone) {
    planLaunch(pass, base, launch, out);
    return;
  }
  if (tmux && planRelaunch(pass, tmux, base, activity, launch, out)) return;
  if (tmux) planRunning(pass, tmux, base, activity, launch.spec, out);
}

function readyCondition(pass: SessionPass, conditions: Condition[] | undefined, status: Condition['status'], reason: string, message: string): Condition[] {
  return setCondition(conditions, { type: 'Ready', status, reason, message }, pass.input.now, pass.session.generation);
}

/** A session no longer declared: stopped and its worktrees removed with --prune (or its annotation); otherwise reported as drift. Pure (appends to `out`). */
export function planRemoved(name: string, tmux: TmuxSessionInfo | undefined, prior: SessionStatus | undefined, input: PlanInput<SessionObserved>, out: PlanPart): void {
  const key = `Session/${name}`;
  const resource = `tmux session "${name}"`;
  const owned = tmux !== undefined && tmux.owner === ownerOf(name);
  const worktrees = input.observed.orphanWorktrees?.[name] ?? [];
  if (!owned && worktrees.length === 0) return; // not ours, not declared: nothing to do (a foreign session is never touched)
  const optIn = (owned && tmux.options['cf-prune'] === 'true') || prior?.worktree?.prune === true;
  if (!input.options.prune && !optIn) {
    if (owned) out.drift.push({ key, message: `${resource} is orphaned: its Session was removed from the manifests; it keeps running (use --prune, or annotate ${PRUNE_ANNOTATION}: "true", to stop it)` });
    for (const w of worktrees) {
      if (w.at?.state === 'missing') continue;
      out.drift.push({ key, message: `git worktree ${w.path} is orphaned: its Session was removed from the manifests; it is kept (use --prune, or annotate ${PRUNE_ANNOTATION}: "true", to remove it; a worktree with uncommitted changes is never removed, and its branch always stays)` });
    }
    return;
  }
  const reason = optIn ? `removed from the manifests (annotation ${PRUNE_ANNOTATION})` : 'removed from the manifests (--prune)';
  const removal = removedWorktrees(key, worktrees, prior, input.now, out);
  if (!owned) {
    if (removal.effects.length > 0) out.changes.push({ key, action: 'delete', resource: removal.resource, reason: `${reason}${removal.said}`, effects: removal.effects });
    return;
  }
  out.changes.push({
    key, action: 'delete', resource, reason: `${reason}${removal.said}`,
    effects: [{ type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS }, ...removal.effects],
  });
  // The status stays with its conversation id: a Session declared again resumes it (when its
  // transcript is still there). The stop is not a failure: it does not count as a restart.
  // A worktree kept for its uncommitted changes keeps its own Ready condition (set above).
  const recorded = sessionStatus(out.status, name) ?? prior;
  if (!recorded) return;
  const { launchedAt: _launchedAt, panePid: _panePid, currentTask: _currentTask, ...kept } = recorded;
  const conditions = removal.keptWorktree ? kept.conditions : setCondition(recorded.conditions, { type: 'Ready', status: 'False', reason: 'Pruned', message: `${resource} was stopped: its Session was removed from the manifests` }, input.now, recorded.observedGeneration);
  out.status[key] = { ...kept, activity: 'exited', conditions };
}

/**
 * The session's status before any decision: the prior one with the hook events since this launch
 * folded in (activity, heartbeat, current task), or the pane's reading for a session without
 * hooks; and the waiting-for-input alerts. `activity` is the hooks' reading (the decisions below
 * use it, not the pane's). Pure (appends events to `out`).
 */
export function observedStatus(pass: SessionPass, out: PlanPart): { status: SessionStatus; activity: Activity } {
  const { name, key, session, prior, input } = pass;
  const now = input.now;
  const sinceMs = Math.max(prior?.launchedAt ? Date.parse(prior.launchedAt) : 0, prior?.lastHeartbeat ? Date.parse(prior.lastHeartbeat) : 0);
  const activityBase = activityOf(prior) ?? initialActivity(now.getTime());
  const events = input.observed.events[name] ?? [];
  const activity = applyEvents(activityBase, events, sinceMs);
  out.events.push(...waitingForInputAlerts(key, events, sinceMs, activityBase));
  const base: SessionStatus = {
    ...(prior ?? {}),
    ...pickActivity(activity),
    observedGeneration: session.generation,
    conditions: prior?.conditions ?? [],
    tmuxSession: name,
    project: session.spec.project,
    mode: session.spec.mode,
    restarts: prior?.restarts ?? 0,
    failures: prior?.failures ?? [],
  };
  // The fold clears the current task when a turn ends; the spread of the prior status must not bring it back.
  if (activity.currentTask === undefined) delete base.currentTask;
  if (activity.claudeSessionId && isConversationId(activity.claudeSessionId)) base.conversationId = activity.claudeSessionId;
  const pane = input.observed.panes[name];
  if (pane !== undefined) {
    // Fallback only: this session has sent no hook event since its launch.
    const reading = readPane(pane, now);
    if (reading.activity) {
      base.activity = reading.activity;
      base.activitySource = 'pane';
    }
    if (reading.limit) {
      base.paneLimit = { ...reading.limit, at: now.toISOString(), confirmed: confirmPaneLimit(prior?.paneLimit, reading.limit) };
    } else {
      delete base.paneLimit;
    }
  } else if (activity.lastHeartbeat) {
    base.activitySource = 'hooks';
    delete base.paneLimit;
  }
  return { status: base, activity: activity.activity };
}

/** A tmux session of that name that is not ours is left alone; a suspended session is stopped. True when the pass ends here. Pure (appends to `out`). */
export function planLeftOrStopped(pass: SessionPass, base: SessionStatus, out: PlanPart): boolean {
  const { name, key, resource, tmux } = pass;
  if (tmux && tmux.owner !== ownerOf(name)) {
    out.notes.push({ key, level: 'warning', message: `a tmux session named "${name}" exists but was not created by claude-failover (owner ${tmux.owner ?? 'none'}); it is left alone` });
    out.status[key] = { ...base, conditions: readyCondition(pass, base.conditions, 'False', 'NameConflict', `tmux session "${name}" exists and is not owned by claude-failover`) };
    return true;
  }
  if (!pass.session.spec.suspended) return false;
  if (tmux && !tmux.paneDead) {
    out.changes.push({ key, action: 'delete', resource, reason: 'suspended', effects: [{ type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS }] });
  }
  out.status[key] = { ...base, activity: 'exited', conditions: readyCondition(pass, base.conditions, 'False', 'Suspended', 'spec.suspended is true: stopped and kept stopped') };
  return true;
}

/** The launch the session should run (account, command, worktree), and the warnings about it. Records the worktree in `base`. Pure (appends notes to `out`). */
export function launchPlan(pass: SessionPass, base: SessionStatus, out: PlanPart): LaunchPlan {
  const { key, session, input, deps } = pass;
  const command = session.spec.command[0] as string;
  const resolved = input.observed.commands[command];
  const worktree = worktreeDecision(session, input);
  if (worktree?.kind === 'ready') base.worktree = worktree.status;
  else if (!worktree) delete base.worktree;
  const spec = launchSpec(session, input.desired, input.prior, deps, resolved, worktree?.kind === 'ready' ? { cwd: worktree.cwd, path: worktree.status.path, branch: worktree.status.branch } : undefined);
  const create = worktree?.kind === 'ready' ? worktree.create : undefined;
  if (!command.includes('/') && resolved === undefined && command in input.observed.commands) {
    out.notes.push({ key, level: 'warning', message: `command "${command}" was not found in PATH; the launch will fail until it is installed or spec.command names it by absolute path` });
  }
  if (!spec.account) out.notes.push({ key, level: 'warning', message: 'no usable Account: the session runs without CLAUDE_CONFIG_DIR' });
  return { spec, worktree, createWorktree: create ? [create] : [], inWorktree: create ? `; creating its git worktree ${create.path} (branch ${create.branch})` : '' };
}

/**
 * The last launch never ran: its change failed before the tmux session was made (a failed guard
 * check, a tmux client that lost its server), so no session and no pane pid was ever seen.
 */
export function launchNeverRan(tmux: TmuxSessionInfo | undefined, prior: SessionStatus): boolean {
  return tmux === undefined && prior.panePid === null && prior.conditions?.find((c) => c.type === 'Ready')?.reason === 'ApplyFailed';
}

/**
 * The process is gone: record the failure (once per launch), its exit and the drift. A launch
 * that never ran is a failure (it counts toward a crash loop) but not a restart, and nothing
 * disappeared. Pure (updates `base`, appends to `out`).
 */
export function recordExit(pass: SessionPass, launchedAt: string, base: SessionStatus, out: PlanPart): void {
  const { name, key, resource, tmux, input } = pass;
  const now = input.now;
  const uptimeMs = Math.max(0, now.getTime() - Date.parse(launchedAt));
  if (pass.prior && launchNeverRan(tmux, pass.prior)) {
    const error = pass.prior.conditions?.find((c) => c.type === 'Ready')?.message;
    base.failures = recordFailure(base.failures ?? [], { at: now.toISOString(), reason: 'LaunchFailed', exitStatus: null, uptimeMs: 0, ...(error ? { error } : {}) });
    delete base.launchedAt;
    return;
  }
  const pane = input.observed.exitPanes[name];
  const output = tmux && pane !== undefined ? exitOutput(pane) : undefined;
  base.failures = recordFailure(base.failures ?? [], { at: now.toISOString(), reason: tmux ? 'Exited' : 'Vanished', exitStatus: tmux?.paneDeadStatus ?? null, uptimeMs, ...(output && output.length > 0 ? { lastOutput: output } : {}) });
  base.restarts = (base.restarts ?? 0) + 1;
  delete base.launchedAt;
  if (!tmux) {
    out.drift.push({ key, message: `${resource} disappeared outside the controller` });
    return;
  }
  base.lastExit = { at: now.toISOString(), exitStatus: tmux.paneDeadStatus ?? null, uptimeMs, output: output ?? [] };
  const said = exitSummary(output);
  const message = `${resource}: the agent exited (${exitOf(tmux)}) after ${Math.round(uptimeMs / 1000)}s${said ? `: ${said}` : output !== undefined ? ' (its pane was empty)' : ''}`;
  out.drift.push({ key, message });
  // Each crash is an event (and a notification, rate-limited per session), not only a crash loop.
  out.events.push({ key, type: 'Warning', reason: 'SessionExited', message, data: { exitStatus: tmux.paneDeadStatus ?? null, uptimeMs, ...(output !== undefined ? { output } : {}) } });
}

/** The worktree cannot be used: no launch (a running agent is left as it is). Pure (appends to `out`). */
export function planWorktreeBlocked(pass: SessionPass, base: SessionStatus, worktree: Extract<WorktreeDecision, { kind: 'blocked' }>, gone: boolean, out: PlanPart): void {
  const { key } = pass;
  out.notes.push({ key, level: 'warning', message: `${worktree.message}; the session is ${gone ? 'not launched' : 'left as it is'}` });
  const was = pass.prior?.conditions?.find((c) => c.type === 'Ready');
  if (was?.reason !== worktree.reason || was.message !== worktree.message) out.events.push({ key, type: 'Warning', reason: worktree.reason, message: worktree.message });
  out.status[key] = { ...base, ...(gone ? { activity: 'exited' as const } : {}), conditions: readyCondition(pass, base.conditions, 'False', worktree.reason, worktree.message) };
}

/** The process is gone: launch it again, unless it crash-loops (back off) or no account can take the pool. Pure (appends to `out`). */
export function planLaunch(pass: SessionPass, base: SessionStatus, launch: LaunchPlan, out: PlanPart): void {
  const { name, key, resource, session, tmux, prior, input, deps } = pass;
  const now = input.now;
  const nowMs = now.getTime();
  const policy = deps.crashLoop ?? DEFAULT_CRASH_LOOP;
  const verdict = crashLoopVerdict(base.failures ?? [], nowMs, policy);
  if (verdict.looping && verdict.nextLaunchAt !== undefined && verdict.nextLaunchAt > nowMs) {
    const wait = verdict.nextLaunchAt - nowMs;
    const wasLooping = prior?.conditions?.find((c) => c.type === 'Ready')?.reason === 'CrashLoopBackOff';
    const last = (base.failures ?? []).at(-1);
    const said = exitSummary(last?.lastOutput);
    const message = `${verdict.quickFailures} quick failures in ${Math.round(policy.windowMs / 60000)}m (last: ${last?.reason ?? 'unknown'}${last?.exitStatus != null ? `, status ${last.exitStatus}` : ''}${said ? `: ${said}` : ''}); next launch in ${Math.ceil(wait / 1000)}s`;
    out.status[key] = { ...base, activity: 'exited', conditions: readyCondition(pass, base.conditions, 'False', 'CrashLoopBackOff', message) };
    out.requeueAfterMs[key] = wait;
    out.notes.push({ key, level: 'warning', message: `CrashLoopBackOff: ${message}` });
    if (!wasLooping) out.events.push({ key, type: 'Warning', reason: 'SessionCrashLoop', message: `${resource}: ${message}`, data: { failures: base.failures, ...(last?.lastOutput ? { lastOutput: last.lastOutput } : {}) } });
    return;
  }
  const noEligible = poolStatus(input.prior)?.noEligibleAccount;
  if (!session.spec.account && noEligible) {
    // No account can take the pool: launching would run the agent on an excluded account.
    out.status[key] = { ...base, activity: 'exited', conditions: readyCondition(pass, base.conditions, 'False', 'NoEligibleAccount', noEligible.message) };
    out.notes.push({ key, level: 'warning', message: `${resource} is not ${prior?.tmuxSession ? 'relaunched' : 'launched'}: no account can take the pool (the reasons: Account/*)` });
    return;
  }
  const spec = launch.spec;
  const conversation = chooseConversation(session, base, input.observed, name);
  const effects: Effect[] = [...launch.createWorktree, ...prepareLaunch(session, spec, input, deps)];
  if (tmux) effects.unshift({ type: 'tmux.killSession', session: name, owner: ownerOf(name) });
  effects.push(newSessionEffect(name, spec, session, conversation, now));
  const said = tmux ? exitSummary(base.lastExit?.output) : undefined;
  const resuming = conversation.mode === 'resume' ? ' and resuming' : '';
  const change: Change = {
    key,
    action: tmux ? 'replace' : 'create',
    resource,
    reason: `${tmux ? `its process exited (${exitOf(tmux)}${said ? `: ${said}` : ''}); relaunching${resuming}` : prior?.tmuxSession ? `tmux session is missing; relaunching${resuming}` : 'declared in the manifests'}${launch.inWorktree}`,
    diff: fieldDiff(tmux || prior?.launch ? prior?.launch ?? {} : {}, launchView(spec, conversation)),
    effects,
  };
  out.changes.push(change);
  out.status[key] = {
    ...base, ...launchedStatus(spec, conversation, now, base),
    conditions: readyCondition(pass, base.conditions, 'False', 'Launching', `${tmux ? 'relaunching' : 'launching'} ${resource}${conversation.mode === 'resume' ? ` (resuming ${conversation.id})` : ''}${said ? `; the agent exited (${tmux ? exitOf(tmux) : 'status unknown'}): ${said}` : ''}`),
  };
}

/**
 * Alive and ours. Launch settings changed (e.g. another account), or its worktree is gone (removed
 * by hand: made again): relaunch, resuming — after the current turn, within the failover grace,
 * when the old account did not hit its limit. True when the pass ends here. Pure (appends to `out`).
 */
export function planRelaunch(pass: SessionPass, tmux: TmuxSessionInfo, base: SessionStatus, activity: Activity, launch: LaunchPlan, out: PlanPart): boolean {
  const { name, key, resource, session, prior, input, deps } = pass;
  const now = input.now;
  const spec = launch.spec;
  const want = launchGeneration(spec);
  const pool = poolStatus(input.prior);
  const running = tmux.options['cf-generation'];
  const lostWorktree = launch.createWorktree.length > 0 && running === want;
  const stranded = !session.spec.account && pool?.noEligibleAccount !== undefined && running !== want;
  if (stranded) {
    // No account can take the pool: a running agent is left as it is rather than relaunched onto an excluded account.
    out.notes.push({ key, level: 'warning', message: `${resource} is not relaunched (it stays on account ${tmux.options['cf-account'] ?? 'none'}): no account can take the pool (the reasons: Account/*)` });
    return false;
  }
  if (!lostWorktree && running === want) return false;
  const from = tmux.options['cf-account'];
  const accountMove = from !== spec.account;
  // Failover: a session whose account actually hit its limit stops now; one still working on
  // an account that merely crossed its threshold may finish its turn, up to the grace period.
  if (accountMove && activity === 'working' && !accountHitLimit(input.prior, from)) {
    const waited = pool?.activeSince ? now.getTime() - Date.parse(pool.activeSince) : Infinity;
    const grace = deps.failoverGraceMs ?? DEFAULT_FAILOVER_GRACE_MS;
    if (waited < grace) {
      const left = grace - waited;
      out.status[key] = { ...base, conditions: readyCondition(pass, base.conditions, 'False', 'WaitingForTurnEnd', `moving to account ${spec.account ?? 'none'} once the current turn ends (at most ${Math.ceil(left / 1000)}s more)`) };
      out.notes.push({ key, level: 'info', message: `waiting up to ${Math.ceil(left / 1000)}s for the turn to end before moving from ${from ?? 'none'} to ${spec.account ?? 'none'}` });
      out.requeueAfterMs[key] = Math.min(left, 5_000);
      return true;
    }
  }
  const conversation = chooseConversation(session, base, input.observed, name);
  const why = accountMove ? `moving from account ${from ?? 'none'} to ${spec.account ?? 'none'}` : lostWorktree ? 'its git worktree is missing' : 'launch settings changed';
  out.changes.push({
    key, action: 'replace', resource,
    reason: `${why}${launch.inWorktree}`,
    diff: fieldDiff(prior?.launch ?? {}, launchView(spec, conversation)),
    effects: [
      { type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS },
      ...launch.createWorktree,
      ...prepareLaunch(session, spec, input, deps, true),
      newSessionEffect(name, spec, session, conversation, now),
    ],
  });
  out.status[key] = { ...base, ...launchedStatus(spec, conversation, now, base), conditions: readyCondition(pass, base.conditions, 'False', 'Relaunching', `${why}; relaunching`) };
  return true;
}

/** Running as it should: record (or adopt) its launch; a session pinned to an exhausted account waits. Pure (appends to `out`). */
export function planRunning(pass: SessionPass, tmux: TmuxSessionInfo, base: SessionStatus, activity: Activity, spec: LaunchSpec, out: PlanPart): void {
  const { key, resource, session, input } = pass;
  const nowMs = input.now.getTime();
  const adoptedLaunch = base.launchedAt ?? tmux.options['cf-launched-at'] ?? new Date((tmux.created || nowMs / 1000) * 1000).toISOString();
  if (session.spec.account && accountHitLimit(input.prior, session.spec.account)) {
    out.status[key] = {
      ...base, launchedAt: adoptedLaunch, panePid: tmux.panePid ?? null,
      conditions: readyCondition(pass, base.conditions, 'False', 'QuotaExhausted', `pinned to account ${session.spec.account}, which is out of quota; it stays until the account resets`),
    };
    return;
  }
  const conversation = tmux.options['cf-conversation'];
  out.status[key] = {
    ...base,
    account: tmux.options['cf-account'] ?? spec.account ?? null,
    launchedAt: adoptedLaunch,
    ...(base.conversationId ? {} : conversation ? { conversationId: conversation } : {}),
    panePid: tmux.panePid ?? null,
    conditions: readyCondition(pass, base.conditions, 'True', activityReason(activity), `${resource} is running (${activity})`),
  };
}

function pickActivity(state: ActivityState): Partial<SessionStatus> {
  const { activity, claudeSessionId, lastHeartbeat, since, rateLimits, currentTask, lastCompletedTask, lastCompletedAt, lastTurnEndedAt, lastError, turns, processStartedAt } = state;
  const out: Partial<SessionStatus> = { activity, turns };
  if (claudeSessionId !== undefined) out.claudeSessionId = claudeSessionId;
  if (lastHeartbeat !== undefined) out.lastHeartbeat = lastHeartbeat;
  if (since !== undefined) out.since = since;
  if (rateLimits !== undefined) out.rateLimits = rateLimits;
  if (currentTask !== undefined) out.currentTask = currentTask;
  if (lastCompletedTask !== undefined) out.lastCompletedTask = lastCompletedTask;
  if (lastCompletedAt !== undefined) out.lastCompletedAt = lastCompletedAt;
  if (lastTurnEndedAt !== undefined) out.lastTurnEndedAt = lastTurnEndedAt;
  if (lastError !== undefined) out.lastError = lastError;
  if (processStartedAt !== undefined) out.processStartedAt = processStartedAt;
  return out;
}

function activityReason(activity: ActivityState['activity']): string {
  return { starting: 'Starting', idle: 'Idle', working: 'Working', waitingInput: 'WaitingInput', rateLimited: 'RateLimited', exited: 'Exited' }[activity];
}

/** Resume the known conversation when its transcript exists; otherwise start a new one. */
function chooseConversation(session: ManifestObject<'Session'>, st: SessionStatus, observed: SessionObserved, name: string): { mode: 'new' | 'resume'; id: string } {
  const id = st.conversationId;
  if (session.spec.resume && id && isConversationId(id) && observed.transcripts[name]) return { mode: 'resume', id };
  return { mode: 'new', id: observed.freshIds[name] ?? '00000000-0000-4000-8000-000000000000' };
}

function prepareLaunch(session: ManifestObject<'Session'>, spec: LaunchSpec, input: PlanInput<SessionObserved>, deps: SessionControllerDeps, relaunch = false): Effect[] {
  const project = input.desired.projects.find((p) => p.metadata.name === session.spec.project);
  const guard = deps.guardHook?.(session, project);
  const effects = prepareEffects(spec, sessionSettings(deps, session.metadata.name, spec.account, guard?.settings));
  if (guard) {
    // Fail closed on first launch (the effect throws, the session is not launched);
    // fail open on a relaunch (the earlier deployment is in place).
    effects.unshift(relaunch && guard.effect.type === 'guard.deploy' ? { ...guard.effect, failOpen: true } : guard.effect);
  }
  return effects;
}

function newSessionEffect(name: string, spec: LaunchSpec, session: ManifestObject<'Session'>, conversation: { mode: 'new' | 'resume'; id: string }, now: Date): Effect {
  const options: Record<string, string> = {
    'cf-generation': launchGeneration(spec),
    'cf-conversation': conversation.id,
    'cf-launch-mode': conversation.mode,
    'cf-launched-at': now.toISOString(),
  };
  if (spec.account) options['cf-account'] = spec.account;
  if (spec.configDir) options['cf-config-dir'] = spec.configDir;
  if (session.metadata.annotations?.[PRUNE_ANNOTATION] === 'true') options['cf-prune'] = 'true';
  // Appended after the user's argv with the other flags, so a wrapper (`bash -lc 'exec claude "$@"' claude`,
  // `node agent.js`) passes them on instead of its interpreter choking on them.
  const argv = [...spec.baseArgv, ...conversationArgs(conversation.mode, conversation.id)];
  return { type: 'tmux.newSession', session: name, cwd: spec.cwd, argv, env: spec.env, unsetEnv: UNSET_ENV, owner: ownerOf(name), options };
}

function launchedStatus(spec: LaunchSpec, conversation: { mode: 'new' | 'resume'; id: string }, now: Date, base: SessionStatus): Partial<SessionStatus> {
  return {
    account: spec.account ?? null,
    conversationId: conversation.id,
    launchMode: conversation.mode,
    launchedAt: now.toISOString(),
    launches: (base.launches ?? 0) + 1,
    launch: launchView(spec, conversation),
    activity: 'starting',
    since: now.toISOString(),
    panePid: null,
  };
}

/** The worktree decision of a declared session; undefined when it has none. Pure. */
function worktreeDecision(session: ManifestObject<'Session'>, input: PlanInput<SessionObserved>): WorktreeDecision | undefined {
  const project = input.desired.projects.find((p) => p.metadata.name === session.spec.project);
  const target = worktreeTarget(session, project);
  if (!target || !project) return undefined;
  const observed = input.observed.worktrees?.[session.metadata.name];
  if (!observed) return { kind: 'blocked', reason: 'WorktreeUnavailable', message: `the worktree ${target.path} was not observed` };
  return decideWorktree(observed, project.spec.path, session.metadata.annotations?.[PRUNE_ANNOTATION] === 'true');
}

/**
 * The worktrees of a Session removed with --prune (or its annotation): the removals that can go,
 * and, for those kept (uncommitted changes, something else at the path), a condition on the
 * Session's status, a warning in the plan, and an event when the reason first appears.
 */
function removedWorktrees(key: string, worktrees: readonly OrphanWorktreeObserved[], prior: SessionStatus | undefined, now: Date, out: PlanPart): { effects: Effect[]; said: string; resource: string; keptWorktree: boolean } {
  const effects: Effect[] = [];
  const removed: string[] = [];
  const kept: { reason: string; message: string }[] = [];
  for (const worktree of worktrees) {
    const verdict = judgeOrphanWorktree(worktree);
    if (verdict.action === 'keep') kept.push(verdict);
    else {
      effects.push(verdict.effect);
      if (verdict.action === 'remove') removed.push(worktree.path);
    }
  }
  const first = kept[0];
  if (first) {
    for (const keep of kept) out.notes.push({ key, level: 'warning', message: keep.message });
    const was = prior?.conditions?.find((c) => c.type === 'Ready');
    if (was?.reason !== first.reason) out.events.push({ key, type: 'Warning', reason: 'WorktreeKept', message: first.message, data: { reason: first.reason } });
    const gen = prior?.observedGeneration ?? '';
    out.status[key] = { ...(prior ?? {}), observedGeneration: gen, conditions: setCondition(prior?.conditions, { type: 'Ready', status: 'False', reason: first.reason, message: first.message }, now, gen) };
  }
  const said = removed.length > 0 ? `; removing its git worktree ${removed.join(', ')} (its branch stays)` : '';
  return { effects, said, resource: `git worktree "${worktrees[0]?.path ?? ''}"`, keptWorktree: first !== undefined };
}

/** `status 1`, `killed by signal 9`, or `status unknown` (tmux has not reaped the process yet). */
function exitOf(tmux: { paneDeadStatus: number | undefined; paneDeadSignal?: number }): string {
  if (tmux.paneDeadStatus !== undefined) return `status ${tmux.paneDeadStatus}`;
  if (tmux.paneDeadSignal !== undefined) return `killed by signal ${tmux.paneDeadSignal}`;
  return 'status unknown';
}
