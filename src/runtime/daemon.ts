/**
 * The long-running controller: the manager's work queue fed by event sources (manifest files
 * via chokidar, tmux polling, resync), with GitOps reload that never applies an invalid set.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { allObjects, emptyDesiredState, formatDiagnostic, type DesiredState, type Diagnostic } from '../api/objects.js';
import { loadManifests, loadRecordedManifests, toDesired, type LoadResult } from '../adapters/manifest-files.js';
import { acquireInstanceLock, type InstanceLock } from '../adapters/instance-lock.js';
import { secretEnvNames } from '../adapters/agent-env.js';
import { errorMessage, ManifestError } from '../core/errors.js';
import type { Inventory } from '../core/controller.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import { wire, type PoolOptions, type Wired } from './wiring.js';
import type { CfEvent } from './events.js';
import { INVENTORY_RECORD, type ManagerDeps } from './manager.js';
import {
  APPLIED_MANIFESTS_RECORD, DEFAULT_DELETION_GRACE_MS, DEFAULT_MAX_DELETE_SHARE, deletionVerdict, fingerprint, holdId, MANIFESTS_KEY, sessionNames, withCondition,
  type AppliedManifestsRecord, type DeletionVerdict, type HeldSet, type ManifestsStatus,
} from './manifest-set.js';
import { queueRootOf } from '../api/queue-root.js';
import { withCompat, type CompatConfig } from '../core/compat.js';
import { NotificationDispatcher, checkNotifierSecrets } from '../adapters/notify/dispatcher.js';
import { poolStatus } from '../core/status.js';

function notifierStats(d: NotificationDispatcher): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(d.stats()).map(([k, v]) => [k, { ...v } as Record<string, unknown>]));
}

export interface DaemonOptions {
  manifests: string[];
  stateDir: string;
  tmuxSocket?: string;
  resyncMs: number;
  prune: boolean;
  log: Logger;
  /** How often tmux is polled for dead panes and vanished sessions. */
  tmuxPollMs?: number;
  displayBase?: string;
  pool?: PoolOptions;
  /** Observes every reconcile (the control plane's metrics). */
  onReconcile?: ManagerDeps['onReconcile'];
  /** Also receives every recorded event (after the notifications). */
  onEvent?: (e: CfEvent) => void;
  /** Keys reconciled at once (a failover relaunches every session concurrently). Default 32: a fleet of twenty agents plus its projects and accounts. */
  workers?: number;
  /** Go-system compatibility switches (src/core/compat.ts; docs/migrating.md). */
  compat?: CompatConfig;
  /** Refuse to start on an invalid manifest set (CI) instead of starting on the last applied one. */
  strict?: boolean;
  /** A set dropping more than this share (0..1) of the Sessions is held (default 0.5). */
  maxDeleteShare?: number;
  /** A held set is applied once unchanged this long (default 2 min). */
  deletionGraceMs?: number;
}

/** Outcome of confirming a held manifest set (`POST /api/v1/manifests/confirm`). */
export interface ConfirmOutcome {
  applied: boolean;
  message: string;
  /** The set still (or newly) held, if any. */
  held?: HeldSet;
}

export const DEFAULT_WORKERS = 32;

/** The Sessions (and object count) a new set is judged against by the deletion guard. */
interface Baseline {
  sessions: string[];
  objects: number;
  /** The baseline is the set in force (false: at start-up with no recorded set, the owned Sessions). */
  inForce: boolean;
}


export class Daemon {
  readonly opts: DaemonOptions;
  readonly wired: Wired;
  readonly notifications: NotificationDispatcher;
  #lock: InstanceLock | undefined;
  #watcher: FSWatcher | undefined;
  #eventsWatcher: FSWatcher | undefined;
  #inboxWatcher: FSWatcher | undefined;
  /** inbox/ directory → project name. */
  #inboxes = new Map<string, string>();
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #lastTmux = new Map<string, string>();
  #reloading: Promise<void> = Promise.resolve();
  #reloadQueued = false;
  /** The set the deletion guard holds back, with what it would apply. */
  #held: { hold: HeldSet; desired: DesiredState; loaded: LoadResult; baseline: Baseline } | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  /** The hold id an operator confirmed; applied by the next reload if the set is still that one. */
  #confirmed: string | undefined;

  constructor(input: DaemonOptions) {
    const opts: DaemonOptions = { ...input, stateDir: resolvePath(input.stateDir) };
    this.opts = opts;
    this.notifications = new NotificationDispatcher({ notifiers: [], log: opts.log.child({ component: 'notify' }) });
    const notifications = this.notifications;
    this.wired = wire({
      stateDir: opts.stateDir,
      dryRun: false,
      log: opts.log,
      manifestPaths: opts.manifests.map((m) => resolvePath(m)),
      ...(opts.onReconcile ? { onReconcile: opts.onReconcile } : {}),
      onEvent: (e) => {
        notifications.notify(e);
        opts.onEvent?.(e);
      },
      notifiers: { check: (spec) => checkNotifierSecrets(spec), stats: () => notifierStats(notifications) },
      ...(opts.pool ? { pool: opts.pool } : {}),
      ...(opts.tmuxSocket ? { tmuxSocket: opts.tmuxSocket } : {}),
      ...(opts.compat ? { compat: opts.compat } : {}),
    });
  }

  get manager() {
    return this.wired.manager;
  }

  /**
   * Validates the manifests, takes the lock, runs a first full pass and starts the loop. An
   * invalid set on disk starts the controller on the last applied set (recorded in the state dir)
   * with `ManifestsInvalid`; `strict`, or no recorded set, refuses instead. A valid set that would
   * drop most or all Sessions is held the same way (see {@link reload}).
   */
  async start(): Promise<void> {
    const { log } = this.opts;
    const loaded = await this.#load();
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0 && this.opts.strict) throw new ManifestError(errors);
    const recorded = await this.#readRecorded();
    const next = errors.length === 0 ? withCompat(toDesired(loaded), this.opts.compat) : undefined;
    let verdict: DeletionVerdict | undefined;
    let baseline: Baseline | undefined;
    if (next) {
      // The baseline: the recorded set's Sessions, or (no record yet) the Sessions the controller owns.
      const inventory = (await this.wired.stateStore.read<Inventory>(INVENTORY_RECORD).catch(() => undefined)) ?? {};
      baseline = recorded
        ? { sessions: sessionNames(recorded.desired), objects: allObjects(recorded.desired).length, inForce: true }
        : { sessions: Object.keys(inventory).filter((k) => k.startsWith('Session/')).map((k) => k.slice('Session/'.length)), objects: Object.keys(inventory).length, inForce: false };
      verdict = deletionVerdict(baseline.sessions, baseline.objects, next, this.#guardOptions());
    } else if (!recorded) {
      log.error({ diagnostics: errors.map(formatDiagnostic) }, 'manifests invalid and no applied set is recorded in the state dir: the controller did not start');
      throw new ManifestError(errors);
    }
    const narrowed = await this.wired.stateStore.ensure();
    if (narrowed.narrowedFrom !== undefined) log.warn({ stateDir: this.opts.stateDir, mode: narrowed.narrowedFrom.toString(8) }, 'state dir was open to group or others; narrowed to 0700 (it holds the API token and the applied manifests)');
    this.#lock = await acquireInstanceLock(this.opts.stateDir);
    log.info({ stateDir: this.opts.stateDir, pid: process.pid }, 'state dir locked');
    await this.manager.loadState();
    const now = new Date();
    if (next && verdict && !verdict.hold) {
      await this.#applySet(next, loaded, now);
      log[allObjects(next).length === 0 ? 'warn' : 'info']({ objects: loaded.objects.length, revision: loaded.revision }, allObjects(next).length === 0 ? 'manifests loaded: the set is empty' : 'manifests loaded');
    } else {
      // Start on the recorded set (or, held with nothing recorded, on no set at all: pruning is suspended while held).
      const fallback = recorded?.desired ?? emptyDesiredState();
      this.manager.setDesired(fallback);
      this.notifications.update(fallback.notifiers);
      this.#setManifestsStatus((st) => ({ ...st, objects: allObjects(fallback).length, ...(recorded?.record.revision ? { revision: recorded.record.revision } : {}), ...(recorded ? { appliedAt: recorded.record.appliedAt } : {}) }), now);
      log.warn({ objects: allObjects(fallback).length, revision: recorded?.record.revision, appliedAt: recorded?.record.appliedAt }, recorded ? 'running on the last applied manifest set' : 'running on no manifest set until the held one is confirmed');
      if (next && verdict?.hold && baseline) await this.#hold(next, loaded, verdict, baseline, now);
      else await this.#markInvalid(loaded, errors, now, 'ManifestsInvalid', `${errors.length} problem(s) in the manifests at start-up; running on the last applied set${recorded?.record.revision ? ` (revision ${recorded.record.revision})` : ''} from ${recorded?.record.appliedAt ?? 'unknown'}: ${errors.slice(0, 3).map(formatDiagnostic).join('; ')}`);
    }
    await this.manager.persist();
    await this.#scrubTmuxEnvironment();
    await this.#preflight();
    await this.manager.start({ resyncMs: this.opts.resyncMs, prune: () => this.opts.prune && !this.#held, concurrency: this.opts.workers ?? DEFAULT_WORKERS });
    log.info('first reconcile done; controller running');
    this.#watchManifests();
    this.#watchSessionEvents();
    this.#pollTmux();
    this.#watchInboxes();
  }

  #load(): Promise<LoadResult> {
    return loadManifests(this.opts.manifests, { displayBase: this.opts.displayBase ?? process.cwd() });
  }

  #guardOptions(): { maxShare: number; prune: boolean } {
    return { maxShare: this.opts.maxDeleteShare ?? DEFAULT_MAX_DELETE_SHARE, prune: this.opts.prune };
  }

  /** The last applied set from the state dir, parsed again; undefined (and a warning) when missing or unusable. */
  async #readRecorded(): Promise<{ record: AppliedManifestsRecord; desired: DesiredState } | undefined> {
    let record: AppliedManifestsRecord | undefined;
    try {
      record = await this.wired.stateStore.read<AppliedManifestsRecord>(APPLIED_MANIFESTS_RECORD);
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'the recorded last applied manifest set cannot be read; ignoring it');
      return undefined;
    }
    if (!record) return undefined;
    if (record.formatVersion !== 1 || !Array.isArray(record.sources)) {
      this.opts.log.warn({ formatVersion: record.formatVersion }, 'the recorded last applied manifest set has an unknown format; ignoring it');
      return undefined;
    }
    const loaded = loadRecordedManifests(record.sources, { displayBase: this.opts.displayBase ?? process.cwd(), ...(record.revision ? { revision: record.revision } : {}) });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      this.opts.log.warn({ diagnostics: errors.map(formatDiagnostic) }, 'the recorded last applied manifest set is not valid for this version; ignoring it');
      return undefined;
    }
    return { record, desired: withCompat(toDesired(loaded), this.opts.compat) };
  }

  /** Applies a valid set: desired state, notifiers, the record in the state dir, the Manifests status. */
  async #applySet(next: DesiredState, loaded: LoadResult, now: Date): Promise<void> {
    this.#clearHold();
    this.manager.setDesired(next);
    this.notifications.update(this.manager.store.state.desired.notifiers);
    const record: AppliedManifestsRecord = {
      formatVersion: 1,
      appliedAt: now.toISOString(),
      ...(loaded.revision ? { revision: loaded.revision } : {}),
      fingerprint: fingerprint(next),
      objects: loaded.objects.length,
      sources: loaded.sources,
    };
    try {
      await this.wired.stateStore.write(APPLIED_MANIFESTS_RECORD, record);
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'could not record the applied manifest set; a restart on an invalid set would have none to start on');
    }
    this.#setManifestsStatus((st) => {
      const out: ManifestsStatus = { ...st, appliedAt: record.appliedAt, objects: record.objects };
      delete out.held;
      delete out.invalid;
      delete out.revision;
      if (record.revision) out.revision = record.revision;
      return out;
    }, now);
  }

  /** Updates the status under {@link MANIFESTS_KEY}; its conditions follow `held` and `invalid`. */
  #setManifestsStatus(recipe: (st: ManifestsStatus) => ManifestsStatus, now: Date): void {
    const state = this.manager.store.state;
    const prev = (state.status[MANIFESTS_KEY] as ManifestsStatus | undefined) ?? { observedGeneration: '', conditions: [] };
    let st = recipe(structuredClone(prev));
    const gen = holdId(fingerprint(state.desired));
    const { invalid, held } = st;
    st = withCondition(st, invalid
      ? { type: 'ManifestsInvalid', status: 'True', reason: 'ManifestsInvalid', message: `${invalid.diagnostics.length} problem(s) in the manifests on disk; the last applied set stays in force: ${invalid.diagnostics.slice(0, 3).join('; ')}` }
      : { type: 'ManifestsInvalid', status: 'False', reason: 'Valid', message: 'the manifests on disk are valid' }, now, gen);
    st = withCondition(st, held
      ? { type: 'DeletionHeld', status: 'True', reason: held.reason, message: `${held.message}; held since ${held.since}: applied at ${held.applyAt} if the manifests stay as they are, or now with \`claude-failover manifests confirm --id ${held.id}\`` }
      : { type: 'DeletionHeld', status: 'False', reason: 'NothingHeld', message: 'no manifest set is held' }, now, gen);
    const ready = !invalid && !held;
    st = withCondition(st, {
      type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'Applied' : held ? 'DeletionHeld' : 'ManifestsInvalid',
      message: ready ? `the manifests on disk are in force${st.revision ? ` (revision ${st.revision})` : ''}` : 'the manifests on disk are not in force; the last applied set is',
    }, now, gen);
    this.manager.store.update((d) => {
      d.status[MANIFESTS_KEY] = st;
    });
  }


  /** Records an invalid set on disk: the store's `rejected`, the ManifestsInvalid condition, an event (and its notification). */
  async #markInvalid(loaded: LoadResult, errors: Diagnostic[], now: Date, reason: 'ManifestsInvalid' | 'ManifestsRejected', message: string): Promise<void> {
    const lines = errors.map(formatDiagnostic);
    const invalid = { at: now.toISOString(), diagnostics: lines, ...(loaded.revision ? { revision: loaded.revision } : {}) };
    this.manager.store.update((d) => {
      d.rejected = invalid;
    });
    // An invalid set on disk replaces a held one: the held set is no longer there.
    if (this.#held) await this.#dropHold(now, 'Superseded', `the held set ${this.#held.hold.id} was replaced on disk by an invalid set; nothing was deleted`);
    this.#setManifestsStatus((st) => ({ ...st, invalid }), now);
    await this.manager.event({ key: MANIFESTS_KEY, type: 'Warning', reason, message, data: { diagnostics: lines, ...(loaded.revision ? { revision: loaded.revision } : {}) } });
  }

  /** Holds `next` back (or keeps holding it): condition, event and notification on a new hold, a timer for the grace period. */
  async #hold(next: DesiredState, loaded: LoadResult, verdict: Extract<DeletionVerdict, { hold: true }>, baseline: Baseline, now: Date): Promise<void> {
    const fp = fingerprint(next);
    const id = holdId(fp);
    if (this.#held?.hold.id === id) {
      this.#held = { ...this.#held, desired: next, loaded };
      return;
    }
    this.#clearHold();
    const graceMs = this.opts.deletionGraceMs ?? DEFAULT_DELETION_GRACE_MS;
    const hold: HeldSet = {
      id, fingerprint: fp, reason: verdict.reason, message: verdict.message, removed: verdict.removed, total: verdict.total,
      since: now.toISOString(), applyAt: new Date(now.getTime() + graceMs).toISOString(),
      ...(loaded.revision ? { revision: loaded.revision } : {}),
    };
    this.#held = { hold, desired: next, loaded, baseline };
    this.#holdTimer = setTimeout(() => void this.#scheduleReload('deletion grace period elapsed'), graceMs + 50);
    this.#setManifestsStatus((st) => ({ ...st, held: hold }), now);
    await this.manager.event({
      key: MANIFESTS_KEY, type: 'Warning', reason: 'DeletionHeld',
      message: `not applied: ${verdict.message}. It is applied at ${hold.applyAt} if the manifests stay as they are, or now with \`claude-failover manifests confirm --id ${id}\``,
      data: { id, reason: verdict.reason, removed: verdict.removed, total: verdict.total, applyAt: hold.applyAt, ...(loaded.revision ? { revision: loaded.revision } : {}) },
    });
  }

  #clearHold(): void {
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#held = undefined;
    this.#confirmed = undefined;
  }

  /** Ends a hold without applying it (the manifests came back, or were replaced). */
  async #dropHold(now: Date, reason: string, message: string): Promise<void> {
    const id = this.#held?.hold.id;
    this.#clearHold();
    this.#setManifestsStatus((st) => {
      const out = { ...st };
      delete out.held;
      return out;
    }, now);
    await this.manager.event({ key: MANIFESTS_KEY, type: 'Normal', reason: 'DeletionHoldCleared', message, data: { id, reason } });
  }

  /**
   * Confirms the held set (`id` must be the held one's, when given): the next reload applies it if
   * the manifests on disk are still that set. Resolves once that reload has run.
   */
  async confirmHeld(id: string | undefined): Promise<ConfirmOutcome> {
    const held = this.#held?.hold;
    if (!held) return { applied: false, message: 'no manifest set is held' };
    if (id !== undefined && id !== held.id) return { applied: false, message: `the held set is ${held.id}, not ${id}: the manifests changed since; look again with \`claude-failover manifests\``, held };
    this.#confirmed = held.id;
    await this.manager.event({ key: MANIFESTS_KEY, type: 'Normal', reason: 'DeletionConfirmed', message: `the held set ${held.id} was confirmed: ${held.message}`, data: { id: held.id, removed: held.removed } });
    await this.#scheduleReload(`deletion of held set ${held.id} confirmed`);
    const after = this.#held?.hold;
    if (!after && fingerprint(this.manager.store.state.desired) === held.fingerprint) return { applied: true, message: `applied the held set ${held.id}: ${held.message}` };
    return { applied: false, message: after ? `the manifests changed before the confirmation was applied; now held: ${after.id} (${after.message})` : 'the manifests changed before the confirmation was applied; the set on disk was applied instead', ...(after ? { held: after } : {}) };
  }

  /**
   * Removes the variables the controller reads secrets from out of its tmux server's global
   * environment (a server started outside the controller copied them from that shell). Panes
   * never inherit it anyway; this keeps them out of `tmux show-environment -g`, which an agent can run.
   */
  async #scrubTmuxEnvironment(): Promise<void> {
    try {
      const removed = await this.wired.tmux.unsetGlobalEnvironment(secretEnvNames(this.manager.store.state.desired));
      if (removed.length > 0) this.opts.log.warn({ removed }, 'removed secret variables from the tmux server\'s global environment (the server was started with them; agents never get them)');
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'could not check the tmux server\'s global environment');
    }
  }

  /**
   * Each project's inbox/ wakes its Project key on a new or changed task file. No stabilisation
   * delay: producers rename complete files in (docs/queue-protocol.md); the settle rule covers the
   * rest. Re-run after a reload (projects added or removed); it also enqueues every project once.
   */
  #watchInboxes(): void {
    const want = new Map<string, string>();
    for (const p of this.manager.store.state.desired.projects) want.set(join(queueRootOf(p), 'inbox'), p.metadata.name);
    if (!this.#inboxWatcher) {
      this.#inboxWatcher = watch([], { ignoreInitial: true, depth: 0 });
      this.#inboxWatcher.on('all', (event, path) => {
        if ((event !== 'add' && event !== 'change') || !path.endsWith('.md')) return;
        const project = this.#inboxes.get(dirname(path));
        // The project's DelegationPolicy watches its inbox events too (DelegationPolicyController.watches).
        if (project) this.manager.enqueue(`Project/${project}`, `inbox-${event}`);
      });
    }
    const gone = [...this.#inboxes.keys()].filter((k) => !want.has(k));
    const added = [...want.keys()].filter((k) => !this.#inboxes.has(k));
    if (gone.length > 0) this.#inboxWatcher.unwatch(gone);
    if (added.length > 0) this.#inboxWatcher.add(added);
    this.#inboxes = want;
    for (const name of new Set(want.values())) this.manager.enqueue(`Project/${name}`, 'inbox-watch');
  }

  /**
   * Validates every configured account before the first pass (credentials, shared-state links)
   * and logs each one that cannot take the pool, with what to do. The controller starts anyway:
   * a diverged or logged-out account is simply not a target (and while no account can take the
   * pool, sessions are not launched — condition NoEligibleAccount); the same checks run on every
   * reconcile of `Account/*`, so a fix (`claude-failover account link NAME --adopt`, a login) is
   * picked up without a restart.
   */
  async #preflight(): Promise<void> {
    const part = await this.manager.previewKind('Account');
    if (!part) return;
    const { log } = this.opts;
    for (const a of this.manager.store.state.desired.accounts) {
      const conds = part.status[`Account/${a.metadata.name}`]?.conditions ?? [];
      for (const type of ['CredentialsValid', 'SharedStateLinked']) {
        const c = conds.find((x) => x.type === type);
        if (c?.status === 'False' && c.reason !== 'Linking') log.warn({ key: `Account/${a.metadata.name}`, condition: type, reason: c.reason }, `account ${a.metadata.name} cannot take the pool: ${c.message}`);
      }
    }
    const pool = poolStatus(part.status);
    if (pool?.noEligibleAccount) log.error({ key: 'Account/*' }, `${pool.noEligibleAccount.message}. See docs/operations.md, "No eligible account".`);
  }

  #watchManifests(): void {
    const stateDir = resolvePath(this.opts.stateDir);
    this.#watcher = watch(this.opts.manifests, {
      ignoreInitial: true,
      // Only manifest files matter. The state dir may sit inside a manifests directory (the demo
      // keeps its run/ there): reacting to its writes would reload on every status change.
      ignored: (p: string, stats?: { isFile(): boolean }) =>
        /(^|[/\\])(\.git|node_modules)([/\\]|$)/.test(p) || resolvePath(p).startsWith(`${stateDir}/`) || resolvePath(p) === stateDir || (stats?.isFile() === true && !/\.ya?ml$/.test(p)),
      awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 50 },
    });
    // A change made between the first load and the end of the watcher's initial scan sends no
    // event: read the set once more when the watcher is ready (an unchanged set is a no-op).
    this.#watcher.once('ready', () => void this.#scheduleReload('manifest watch ready'));
    this.#watcher.on('all', (event, path) => {
      if (!/\.ya?ml$/.test(path) && event !== 'unlinkDir' && event !== 'addDir') return;
      this.opts.log.debug({ event, path }, 'manifest change');
      this.#scheduleReload(`${event} ${path}`);
    });
  }

  /** At most one reload runs and one more is queued: a burst of file events is one reload. Resolves when it has run. */
  #scheduleReload(reason: string): Promise<void> {
    if (this.#reloadQueued) return this.#reloading;
    this.#reloadQueued = true;
    this.#reloading = this.#reloading.then(async () => {
      this.#reloadQueued = false;
      await this.reload(reason).catch((err: unknown) => this.opts.log.error({ err: errorMessage(err) }, 'manifest reload failed'));
    });
    return this.#reloading;
  }

  /**
   * Re-validates the whole manifest set. An invalid set is not applied: the last good desired
   * state stays in force, and the diagnostics are logged and kept (status + event). A valid set
   * that empties the manifests, or drops every Session or more than `maxDeleteShare` of them, is
   * held (status, `DeletionHeld` event) until it has stayed unchanged for `deletionGraceMs` or is
   * confirmed; if the manifests return to the set in force meanwhile, the hold ends and nothing
   * was deleted. Returns whether the set on disk is the one in force.
   */
  async reload(reason: string): Promise<boolean> {
    const { log } = this.opts;
    const loaded = await this.#load();
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    const now = new Date();
    if (errors.length > 0) {
      const lines = errors.map(formatDiagnostic);
      log.error({ reason, revision: loaded.revision, diagnostics: lines }, 'manifests rejected: the last good set stays in force');
      await this.#markInvalid(loaded, errors, now, 'ManifestsRejected', `${errors.length} problem(s); keeping revision ${this.manager.store.state.lastAppliedRevision ?? 'last good'}: ${lines.slice(0, 3).join('; ')}`);
      await this.manager.persist();
      return false;
    }
    const next = withCompat(toDesired(loaded), this.opts.compat);
    const before = this.manager.store.state;
    const unchanged = !before.rejected && before.lastAppliedRevision === next.revision && fingerprint(before.desired) === fingerprint(next);
    // (Held with no recorded set, the controller runs on no set at all: an empty set on disk is not "back".)
    if (unchanged && (this.#held?.baseline.inForce ?? true)) {
      // A touch, a change to a file that is not a manifest, or the manifests came back to the set in force.
      if (this.#held) {
        await this.#dropHold(now, 'Restored', `the manifests are back to the set in force; the held set ${this.#held.hold.id} was not applied and nothing was deleted`);
        await this.manager.persist();
      }
      return true;
    }
    // While a set is held, it is judged against what was in force when the hold began (with no
    // recorded set at start-up that is the Sessions the controller owns, not the empty set it runs on).
    const baseline = this.#held?.baseline ?? { sessions: sessionNames(before.desired), objects: allObjects(before.desired).length, inForce: true };
    const verdict = deletionVerdict(baseline.sessions, baseline.objects, next, this.#guardOptions());
    let via: string | undefined;
    if (verdict.hold) {
      const id = holdId(fingerprint(next));
      const held = this.#held?.hold.id === id ? this.#held.hold : undefined;
      if (this.#confirmed === id) via = 'confirmed by an operator';
      else if (held && now.getTime() >= Date.parse(held.applyAt)) via = `unchanged since ${held.since}`;
      else {
        await this.#hold(next, loaded, verdict, baseline, now);
        await this.manager.persist();
        return false;
      }
    } else if (this.#held) {
      log.info({ id: this.#held.hold.id }, 'the held manifest set was replaced by one that needs no confirmation');
    }
    const wasRejected = before.rejected !== undefined;
    await this.#applySet(next, loaded, now);
    const empty = loaded.objects.length === 0;
    const warn = verdict.hold || empty;
    const what = `${loaded.objects.length} objects${loaded.revision ? ` at revision ${loaded.revision}` : ''} (${reason})`;
    await this.manager.event({
      key: MANIFESTS_KEY, type: warn ? 'Warning' : 'Normal', reason: 'ManifestsApplied',
      message: verdict.hold ? `${what} after a hold (${via}): ${verdict.message}` : empty ? `${what}: the manifest set is empty` : what,
      ...(loaded.revision || verdict.hold ? { data: { ...(loaded.revision ? { revision: loaded.revision } : {}), ...(verdict.hold ? { removed: verdict.removed } : {}) } } : {}),
    });
    if (wasRejected) log.info({ revision: loaded.revision }, 'the manifests on disk are valid again');
    this.manager.enqueueAll('manifests-changed');
    if (this.#inboxWatcher) this.#watchInboxes();
    await this.#scrubTmuxEnvironment();
    return true;
  }

  /** Hook events (a turn started or ended) wake the session's key at once. */
  #watchSessionEvents(): void {
    const dir = join(this.opts.stateDir, 'sessions');
    mkdirSync(dir, { recursive: true });
    this.#eventsWatcher = watch(dir, { ignoreInitial: true, depth: 1, ignored: (p: string) => /settings\.json$|\.tmp$/.test(p) });
    this.#eventsWatcher.on('all', (_event, path) => {
      const m = /[/\\]sessions[/\\]([^/\\]+)[/\\]events\.jsonl$/.exec(path);
      if (m) this.manager.enqueue(`Session/${m[1]}`, 'hook-event');
    });
  }

  /** Polls tmux and enqueues sessions whose state changed (died, vanished, appeared). */
  #pollTmux(): void {
    const every = this.opts.tmuxPollMs ?? 1_000;
    const tick = async () => {
      let list: TmuxSessionInfo[];
      try {
        list = await this.wired.tmux.listSessions();
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err) }, 'tmux poll failed');
        return;
      }
      const now = new Map(list.map((s) => [s.name, `${s.panePid}:${s.paneDead}:${s.owner ?? ''}`]));
      for (const [name, sig] of now) if (this.#lastTmux.get(name) !== sig) this.manager.enqueue(`Session/${name}`, 'tmux-changed');
      for (const name of this.#lastTmux.keys()) if (!now.has(name)) this.manager.enqueue(`Session/${name}`, 'tmux-vanished');
      this.#lastTmux = now;
    };
    this.#pollTimer = setInterval(() => void tick(), every);
    this.#pollTimer.unref();
    void tick();
  }

  /** Stops intake, drains in-flight reconciles (at most `drainMs`), releases the lock. */
  async stop(drainMs: number): Promise<boolean> {
    if (this.#pollTimer) clearInterval(this.#pollTimer);
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    await this.#watcher?.close();
    await this.#eventsWatcher?.close();
    await this.#inboxWatcher?.close();
    await this.#reloading.catch(() => {});
    const drained = await this.manager.stop(drainMs);
    await this.notifications.drain(Math.min(5_000, drainMs));
    this.notifications.close();
    await this.#lock?.release();
    return drained;
  }
}
