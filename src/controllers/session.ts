/**
 * Session controller: one tmux session per Session manifest on the controller's tmux server.
 * observe() lists the server's sessions; plan() is pure.
 */
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { emptyPlanPart, type Controller, type Inventory, type ObjectStatus, type PlanInput, type PlanPart } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import { generationOf } from '../core/generation.js';
import { errorCode, errorMessage } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import { fieldDiff } from '../core/diff.js';
import type { TmuxPort, TmuxSessionInfo } from '../core/ports.js';
import { activeAccount } from './accounts-view.js';

/** Variables that break transcripts or failover when inherited by a launched session. */
export const UNSET_ENV = ['CLAUDE_CODE_CHILD_SESSION', 'CLAUDE_CODE_RETRY_WATCHDOG', 'CLAUDECODE', 'TMUX', 'TMUX_PANE'];
export const PRUNE_ANNOTATION = 'claudefailover.io/prune';
export const DEFAULT_STOP_GRACE_MS = 10_000;

export interface SessionObserved {
  tmux: Map<string, TmuxSessionInfo>;
  /** Set when tmux itself could not be run (not installed): nothing is observed. */
  tmuxProblem?: string;
}

export interface LaunchSpec {
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  account: string | undefined;
  configDir: string | undefined;
}

export function ownerOf(name: string): string {
  return `Session/${name}`;
}

/** What the session should be launched with. Pure. */
export function launchSpec(session: ManifestObject<'Session'>, desired: DesiredState, prior: PlanInput<unknown>['prior']): LaunchSpec {
  const project = desired.projects.find((p) => p.metadata.name === session.spec.project);
  const pinned = session.spec.account ? desired.accounts.find((a) => a.metadata.name === session.spec.account) : undefined;
  const account = pinned ?? activeAccount(desired, prior);
  const argv = [...session.spec.command];
  if (session.spec.model) argv.push('--model', session.spec.model);
  const env: Record<string, string> = { ...session.spec.env };
  if (account) env.CLAUDE_CONFIG_DIR = account.spec.configDir;
  return {
    cwd: session.spec.workdir ?? project?.spec.path ?? '/',
    argv,
    env,
    account: account?.metadata.name,
    configDir: account?.spec.configDir,
  };
}

/** The launch as shown in plans and recorded in status (`status.launch`). */
export function launchView(l: LaunchSpec): Record<string, unknown> {
  return { cwd: l.cwd, command: l.argv.join(' '), account: l.account ?? null, env: l.env };
}

export function launchGeneration(l: LaunchSpec): string {
  return generationOf({ cwd: l.cwd, argv: l.argv, env: l.env });
}

function launchEffect(name: string, l: LaunchSpec, s: ManifestObject<'Session'>): Effect {
  const options: Record<string, string> = { 'cf-generation': launchGeneration(l) };
  if (l.account) options['cf-account'] = l.account;
  if (l.configDir) options['cf-config-dir'] = l.configDir;
  if (s.metadata.annotations?.[PRUNE_ANNOTATION] === 'true') options['cf-prune'] = 'true';
  return { type: 'tmux.newSession', session: name, cwd: l.cwd, argv: l.argv, env: l.env, unsetEnv: UNSET_ENV, owner: ownerOf(name), options };
}

export class SessionController implements Controller<SessionObserved> {
  readonly kind = 'Session' as const;
  readonly #tmux: TmuxPort;

  constructor(deps: { tmux: TmuxPort }) {
    this.#tmux = deps.tmux;
  }

  names(desired: DesiredState, inventory: Inventory): string[] {
    const names = new Set(desired.sessions.map((s) => s.metadata.name));
    for (const key of Object.keys(inventory)) if (key.startsWith('Session/')) names.add(key.slice('Session/'.length));
    return [...names].sort();
  }

  async observe(_names: readonly string[]): Promise<SessionObserved> {
    try {
      const list = await this.#tmux.listSessions();
      return { tmux: new Map(list.map((s) => [s.name, s])) };
    } catch (err) {
      // Dry-run must work where tmux is not installed (CI): observe nothing and say so.
      if (errorCode(err) === 'CF_ERR_TMUX_MISSING') return { tmux: new Map(), tmuxProblem: errorMessage(err) };
      throw err;
    }
  }

  plan(input: PlanInput<SessionObserved>, names: readonly string[]): PlanPart {
    const out = emptyPlanPart();
    if (input.observed.tmuxProblem) out.notes.push({ key: 'Session/*', level: 'warning', message: `${input.observed.tmuxProblem}; no sessions observed` });
    for (const name of names) planOne(name, input, out);
    return out;
  }

  /** Sessions the controller owns (by tag) on the server, declared or not. */
  discovered(observed: SessionObserved): string[] {
    return [...observed.tmux.values()].filter((t) => t.owner === ownerOf(t.name)).map((t) => t.name);
  }
}

function planOne(name: string, input: PlanInput<SessionObserved>, out: PlanPart): void {
  const key = `Session/${name}`;
  const now = input.now;
  const session = input.desired.sessions.find((s) => s.metadata.name === name);
  const t = input.observed.tmux.get(name);
  const owned = t !== undefined && t.owner === ownerOf(name);
  const resource = `tmux session "${name}"`;
  const prior = input.prior[key];
  const cond = (c: Condition[] | undefined, status: Condition['status'], reason: string, message: string, gen: string) =>
    setCondition(c, { type: 'Ready', status, reason, message }, now, gen);

  if (!session) {
    if (!owned) return; // not ours, not declared: nothing to do (a foreign session is never touched)
    const optIn = t.options['cf-prune'] === 'true';
    if (input.options.prune || optIn) {
      out.changes.push({
        key, action: 'delete', resource,
        reason: optIn ? `removed from the manifests (annotation ${PRUNE_ANNOTATION})` : 'removed from the manifests (--prune)',
        effects: [{ type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS }],
      });
    } else {
      out.drift.push({ key, message: `${resource} is orphaned: its Session was removed from the manifests; it keeps running (use --prune, or annotate ${PRUNE_ANNOTATION}: "true", to stop it)` });
    }
    return;
  }

  const gen = session.generation;
  const launch = launchSpec(session, input.desired, input.prior);
  const base: ObjectStatus = {
    observedGeneration: gen,
    conditions: prior?.conditions ?? [],
    tmuxSession: name,
    account: t?.options['cf-account'] ?? launch.account ?? null,
    restarts: (prior?.restarts as number | undefined) ?? 0,
  };

  if (t && !owned) {
    out.notes.push({ key, level: 'warning', message: `a tmux session named "${name}" exists but was not created by claude-failover (owner ${t.owner ?? 'none'}); it is left alone` });
    out.status[key] = { ...base, conditions: cond(base.conditions, 'False', 'NameConflict', `tmux session "${name}" exists and is not owned by claude-failover`, gen) };
    return;
  }

  if (session.spec.suspended) {
    if (t && !t.paneDead) {
      out.changes.push({ key, action: 'delete', resource, reason: 'suspended', effects: [{ type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS }] });
    }
    out.status[key] = { ...base, conditions: cond(base.conditions, 'False', 'Suspended', 'spec.suspended is true', gen) };
    return;
  }

  if (!t) {
    const change: Change = { key, action: 'create', resource, reason: prior?.tmuxSession ? 'tmux session is missing' : 'declared in the manifests', effects: [launchEffect(name, launch, session)], diff: fieldDiff({}, launchView(launch)) };
    out.changes.push(change);
    if (prior?.tmuxSession) out.drift.push({ key, message: `${resource} disappeared outside the controller` });
    out.status[key] = { ...base, launch: launchView(launch), conditions: cond(base.conditions, 'False', 'Launching', `launching ${resource}`, gen) };
    return;
  }

  if (t.paneDead) {
    out.changes.push({
      key, action: 'replace', resource,
      reason: `its process exited (status ${t.paneDeadStatus ?? 'unknown'})`,
      effects: [{ type: 'tmux.killSession', session: name, owner: ownerOf(name) }, launchEffect(name, launch, session)],
    });
    out.drift.push({ key, message: `${resource}: the pane's process exited with status ${t.paneDeadStatus ?? 'unknown'}` });
    out.status[key] = { ...base, launch: launchView(launch), restarts: (base.restarts as number) + 1, conditions: cond(base.conditions, 'False', 'Restarting', `process exited (status ${t.paneDeadStatus ?? 'unknown'}); relaunching`, gen) };
    return;
  }

  const wantGen = launchGeneration(launch);
  if (t.options['cf-generation'] !== wantGen) {
    out.changes.push({
      key, action: 'replace', resource,
      reason: 'launch settings changed',
      diff: prior?.launch ? fieldDiff(prior.launch, launchView(launch)) : [{ path: '/generation', op: 'replace', from: t.options['cf-generation'], to: wantGen }],
      effects: [{ type: 'tmux.stopSession', session: name, owner: ownerOf(name), graceMs: DEFAULT_STOP_GRACE_MS }, launchEffect(name, launch, session)],
    });
    out.status[key] = { ...base, launch: launchView(launch), conditions: cond(base.conditions, 'False', 'Relaunching', 'launch settings changed; relaunching', gen) };
    return;
  }

  out.status[key] = { ...base, launch: prior?.launch ?? launchView(launch), panePid: t.panePid ?? null, conditions: cond(base.conditions, 'True', 'Running', `${resource} is running`, gen) };
}
