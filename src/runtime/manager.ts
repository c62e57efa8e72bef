/**
 * The manager runs the controllers: `runOnce()` reconciles every object in dependency order
 * (Account -> Project -> DelegationPolicy -> Session -> Notifier) and returns the Plan;
 * `start()`/`stop()` run the level-triggered daemon loop on a keyed work queue.
 */
import type { Logger } from 'pino';
import type { DesiredState } from '../api/objects.js';
import { KIND_ORDER, type Kind } from '../api/schemas.js';
import { emptyPlanPart, type AppliedPlan, type Controller, type Inventory, type ObjectStatus, type PlanPart, type ReconcileOptions, type StatusMap } from '../core/controller.js';
import { setCondition } from '../core/conditions.js';
import { errorMessage, RetryableError } from '../core/errors.js';
import { classifyFailure, describeFailures, reconcileResult, type ApplyFailure, type ReconcileResult } from '../core/outcome.js';
import { makePlan, type Change, type Drift, type Note, type Plan } from '../core/plan.js';
import type { StateStore, Timers } from '../core/ports.js';
import { systemTimers } from '../core/ports.js';
import type { CfEvent } from './events.js';
import { EVENTS_RECORD } from './events.js';
import type { Executor } from './executor.js';
import { Store } from './store.js';
import { WorkQueue } from './work-queue.js';

export const STATUS_RECORD = 'status.json';
export const INVENTORY_RECORD = 'inventory.json';

export interface ManagerDeps {
  controllers: Partial<Record<Kind, Controller>>;
  executor: Executor;
  stateStore: StateStore;
  timers?: Timers;
  log?: Logger;
  /** Parallel changes within one kind (e.g. relaunching 20 sessions on failover). */
  applyConcurrency?: number;
  /** Called after each kind of a full pass and after each key reconcile (metrics). Must not throw. */
  onReconcile?: (r: ReconcileObservation) => void;
  /** Called with every recorded event (notifications, the SSE stream). Must not throw or block. */
  onEvent?: (e: CfEvent) => void;
}

/** One reconcile as seen by {@link ManagerDeps.onReconcile}. */
export interface ReconcileObservation {
  kind: Kind;
  /** `Kind/name` for a key reconcile; absent for a kind's share of a full pass. */
  key?: string;
  durationMs: number;
  /** Observation failed or a change failed to apply. */
  error?: string;
  dryRun: boolean;
}

/** One key's reconcile: its plan part, the changes that failed and what the work queue does next. */
export interface KeyReconcile {
  part: PlanPart;
  failures: ApplyFailure[];
  result: ReconcileResult;
}

export interface RunOnceResult {
  plan: Plan;
  /** Changes that failed to apply, with their errors. */
  failures: ApplyFailure[];
  /** Observation errors (a kind could not be observed). */
  errors: { kind: Kind; error: string }[];
}

export class Manager {
  readonly store: Store;
  readonly #deps: ManagerDeps;
  readonly #timers: Timers;
  #queue: WorkQueue | undefined;
  #unwatch: () => void = () => {};
  #ready = false;

  constructor(deps: ManagerDeps, store = new Store()) {
    this.#deps = deps;
    this.#timers = deps.timers ?? systemTimers;
    this.store = store;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Loads persisted status and inventory from the state dir (missing = empty). */
  async loadState(): Promise<void> {
    const status = (await this.#deps.stateStore.read<StatusMap>(STATUS_RECORD)) ?? {};
    const inventory = (await this.#deps.stateStore.read<Inventory>(INVENTORY_RECORD)) ?? {};
    this.store.update((d) => {
      d.status = status;
      d.inventory = inventory;
    });
  }

  setDesired(desired: DesiredState): void {
    this.store.update((d) => {
      d.desired = desired;
      if (desired.revision) d.lastAppliedRevision = desired.revision;
      delete d.rejected;
    });
  }

  /** Reconciles everything once, kind by kind. With `dryRun` nothing is executed or written. */
  async runOnce(options: ReconcileOptions): Promise<RunOnceResult> {
    const changes: Change[] = [];
    const drift: Drift[] = [];
    const notes: Note[] = [];
    const failures: ApplyFailure[] = [];
    const errors: { kind: Kind; error: string }[] = [];
    for (const kind of KIND_ORDER) {
      const controller = this.#deps.controllers[kind];
      if (!controller) continue;
      const state = this.store.state;
      const started = this.#timers.now();
      let part: PlanPart;
      let observed: unknown;
      try {
        let names = controller.names(state.desired, state.inventory);
        observed = await controller.observe(names, { desired: state.desired, prior: state.status, inventory: state.inventory, dryRun: options.dryRun });
        if (controller.discovered) names = [...new Set([...names, ...controller.discovered(observed)])].sort();
        part = controller.plan({ desired: state.desired, observed, prior: state.status, inventory: state.inventory, now: new Date(this.#timers.now()), options }, names);
      } catch (err) {
        errors.push({ kind, error: errorMessage(err) });
        notes.push({ key: `${kind}/*`, level: 'warning', message: `could not observe ${kind}: ${errorMessage(err)}` });
        this.#observe({ kind, durationMs: this.#timers.now() - started, error: errorMessage(err), dryRun: options.dryRun });
        continue;
      }
      changes.push(...part.changes);
      drift.push(...part.drift);
      notes.push(...part.notes);
      if (!options.dryRun) {
        const fails = await this.#applyAll(part.changes);
        failures.push(...fails);
        this.#commitStatus(part, fails);
        await this.#commitObservation(controller, observed, { part, failures: fails });
        await this.#recordEvents(part);
        this.#observe({ kind, durationMs: this.#timers.now() - started, ...(fails.length > 0 ? { error: describeFailures(fails) } : {}), dryRun: false });
      } else {
        // Later kinds plan against this kind's would-be status (e.g. the active account).
        this.store.update((d) => {
          Object.assign(d.status, part.status);
        });
        this.#observe({ kind, durationMs: this.#timers.now() - started, dryRun: true });
      }
    }
    if (!options.dryRun) await this.persist();
    const plan = makePlan({ changes, drift, notes, dryRun: options.dryRun, now: new Date(this.#timers.now()), ...(this.store.state.desired.revision ? { revision: this.store.state.desired.revision } : {}) });
    return { plan, failures, errors };
  }

  /**
   * Plans everything once, like `runOnce({dryRun: true})`, against a copy of the store: the
   * controller's in-memory status is not touched (for the control plane's `GET /api/v1/plan`).
   */
  async planOnly(options: { prune: boolean }): Promise<RunOnceResult> {
    const copy = new Manager({ ...this.#deps, onReconcile: undefined }, new Store(this.store.state));
    return copy.runOnce({ dryRun: true, prune: options.prune });
  }

  #observe(r: ReconcileObservation): void {
    try {
      this.#deps.onReconcile?.(r);
    } catch (err) {
      this.#deps.log?.warn({ err: errorMessage(err) }, 'onReconcile callback failed');
    }
  }

  /** Observes and plans one kind against the current state, changing nothing (preflight checks). */
  async previewKind(kind: Kind): Promise<PlanPart | undefined> {
    const controller = this.#deps.controllers[kind];
    if (!controller) return undefined;
    const state = this.store.state;
    const names = controller.names(state.desired, state.inventory);
    const observed = await controller.observe(names, { desired: state.desired, prior: state.status, inventory: state.inventory, dryRun: true });
    return controller.plan({ desired: state.desired, observed, prior: state.status, inventory: state.inventory, now: new Date(this.#timers.now()), options: { dryRun: true, prune: false } }, names);
  }

  /** Reconciles one key (`Kind/name`): observe, plan, apply, record status. */
  async reconcileKey(key: string, options: ReconcileOptions): Promise<KeyReconcile> {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash) as Kind;
    if (!this.#deps.controllers[kind]) return { part: emptyPlanPart(), failures: [], result: { outcome: 'ok' } };
    const started = this.#timers.now();
    try {
      const result = await this.#reconcileKey(key, options);
      this.#observe({ kind, key, durationMs: this.#timers.now() - started, ...(result.failures.length > 0 ? { error: describeFailures(result.failures) } : {}), dryRun: options.dryRun });
      return result;
    } catch (err) {
      this.#observe({ kind, key, durationMs: this.#timers.now() - started, error: errorMessage(err), dryRun: options.dryRun });
      throw err;
    }
  }

  async #reconcileKey(key: string, options: ReconcileOptions): Promise<KeyReconcile> {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash) as Kind;
    const name = key.slice(slash + 1);
    const controller = this.#deps.controllers[kind];
    if (!controller) return { part: emptyPlanPart(), failures: [], result: { outcome: 'ok' } };
    const state = this.store.state;
    const observed = await controller.observe([name], { desired: state.desired, prior: state.status, inventory: state.inventory, dryRun: options.dryRun });
    const part = controller.plan({ desired: state.desired, observed, prior: state.status, inventory: state.inventory, now: new Date(this.#timers.now()), options }, [name]);
    const failures = options.dryRun ? [] : await this.#applyAll(part.changes);
    if (!options.dryRun) {
      this.#commitStatus(part, failures);
      await this.#commitObservation(controller, observed, { part, failures });
      await this.#recordEvents(part);
      await this.persist();
    }
    return { part, failures, result: reconcileResult(failures, Object.values(part.requeueAfterMs)) };
  }

  async #applyAll(changes: Change[]): Promise<ApplyFailure[]> {
    const failures: ApplyFailure[] = [];
    const limit = Math.max(1, this.#deps.applyConcurrency ?? 8);
    let next = 0;
    const worker = async () => {
      while (next < changes.length) {
        const change = changes[next++] as Change;
        const inventory = structuredClone(this.store.state.inventory) as Inventory;
        try {
          await this.#deps.executor.apply(change, inventory);
          this.store.update((d) => {
            d.inventory = { ...d.inventory, [change.key]: inventory[change.key] ?? [] };
            if ((d.inventory[change.key] ?? []).length === 0) delete d.inventory[change.key];
          });
          await this.event({ key: change.key, type: 'Normal', reason: verb(change.action), message: `${change.resource} ${pastTense(change.action)}: ${change.reason}` });
        } catch (err) {
          const failure = classifyFailure(change.key, err);
          failures.push(failure);
          this.#deps.log?.warn({ key: change.key, class: failure.class, ...(failure.code ? { code: failure.code } : {}), err: failure.error }, 'change failed');
          await this.event({ key: change.key, type: 'Warning', reason: 'ApplyFailed', message: `${change.resource}: ${failure.error}`, data: { class: failure.class, ...(failure.code ? { code: failure.code } : {}) } });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, changes.length) }, worker));
    return failures;
  }

  /**
   * The plan was applied and its status committed: the controller takes what its observation
   * consumed (events cursor, poll bookkeeping, requests). With the status, so that what the status
   * was made from is never read twice and never skipped.
   */
  async #commitObservation(controller: Controller, observed: unknown, applied: AppliedPlan): Promise<void> {
    if (!controller.commit) return;
    try {
      await controller.commit(observed, applied);
    } catch (err) {
      this.#deps.log?.warn({ kind: controller.kind, err: errorMessage(err) }, 'could not commit an observation');
    }
  }

  async #recordEvents(part: PlanPart): Promise<void> {
    for (const e of part.events) await this.event(e);
  }

  #commitStatus(part: PlanPart, failures: ApplyFailure[]): void {
    const now = new Date(this.#timers.now());
    this.store.update((d) => {
      for (const [key, st] of Object.entries(part.status)) d.status[key] = st;
      for (const f of failures) {
        const st = d.status[f.key];
        if (st) st.conditions = setCondition(st.conditions, { type: 'Ready', status: 'False', reason: 'ApplyFailed', message: f.error }, now, st.observedGeneration);
      }
    });
  }

  #persisting: Promise<void> | undefined;
  #nextPersist: Promise<void> | undefined;

  /**
   * Writes status and inventory as they are now. One write at a time: the workers' passes end
   * concurrently, and two atomic writes in flight could land in either order (each renames after
   * an fsync), leaving an older state on disk. While one runs, later callers share the single next
   * write, which takes the state when it starts, so each caller's state is on disk when it returns.
   */
  persist(): Promise<void> {
    if (!this.#persisting) return this.#startPersist();
    this.#nextPersist ??= this.#persisting.catch(() => undefined).then(() => {
      this.#nextPersist = undefined;
      return this.#startPersist();
    });
    return this.#nextPersist;
  }

  #startPersist(): Promise<void> {
    const s = this.store.state;
    const write = (async () => {
      await this.#deps.stateStore.write(STATUS_RECORD, s.status);
      await this.#deps.stateStore.write(INVENTORY_RECORD, s.inventory);
    })().finally(() => {
      if (this.#persisting === write) this.#persisting = undefined;
    });
    this.#persisting = write;
    return write;
  }

  async event(e: Omit<CfEvent, 'time'>): Promise<void> {
    const full: CfEvent = { time: new Date(this.#timers.now()).toISOString(), ...e };
    // Warning events (a quota fault, a dead letter, a failover) are warn lines, for log filters and alerts.
    const fields = { key: e.key, reason: e.reason, ...(e.data ? { data: e.data } : {}) };
    if (e.type === 'Warning') this.#deps.log?.warn(fields, e.message);
    else this.#deps.log?.info(fields, e.message);
    try {
      await this.#deps.stateStore.append(EVENTS_RECORD, full);
    } catch (err) {
      this.#deps.log?.warn({ err: errorMessage(err) }, 'could not record event');
    }
    try {
      this.#deps.onEvent?.(full);
    } catch (err) {
      this.#deps.log?.warn({ err: errorMessage(err) }, 'event listener failed');
    }
  }

  /** Every key the daemon reconciles. */
  allKeys(): string[] {
    const s = this.store.state;
    const keys: string[] = [];
    for (const kind of KIND_ORDER) {
      const c = this.#deps.controllers[kind];
      if (!c) continue;
      for (const n of c.names(s.desired, s.inventory)) keys.push(`${kind}/${n}`);
    }
    return keys;
  }

  /** Starts the daemon loop: a first full pass, then the keyed queue with periodic resync. */
  async start(opts: { resyncMs: number; concurrency?: number; prune: boolean | (() => boolean) }): Promise<void> {
    // A function is asked before every reconcile (the daemon suspends pruning while a manifest set is held).
    const prune = typeof opts.prune === 'function' ? opts.prune : () => opts.prune as boolean;
    const options = (): ReconcileOptions => ({ dryRun: false, prune: prune() });
    const first = await this.runOnce(options());
    for (const f of first.failures) this.#deps.log?.warn(f, 'initial reconcile: change failed');
    this.#queue = new WorkQueue({
      timers: this.#timers,
      concurrency: opts.concurrency ?? 4,
      resyncMs: opts.resyncMs,
      keys: () => this.allKeys(),
      onError: (key, err, attempt, delayMs) => this.#deps.log?.warn({ key, attempt, delayMs, err: errorMessage(err) }, 'reconcile failed; backing off'),
      handler: async (key, reason) => {
        const started = this.#timers.now();
        const { part, result } = await this.reconcileKey(key, options());
        this.#deps.log?.debug({ key, reason, changes: part.changes.length, outcome: result.outcome, ms: this.#timers.now() - started }, 'reconciled');
        return workQueueAction(result);
      },
    });
    this.#queue.start();
    this.#unwatch = this.#followWatches();
    this.#ready = first.errors.length === 0;
    if (!this.#ready) for (const k of this.allKeys()) this.#queue.add(k, 'initial-retry');
    // Ready once a full pass has run; later passes keep it.
    void this.#queue.whenIdle().then(() => {
      this.#ready = true;
    });
  }

  /** Resolves when the daemon's work queue has nothing queued or running (delayed requeues do not count). */
  whenIdle(): Promise<void> {
    return this.#queue?.whenIdle() ?? Promise.resolve();
  }

  /**
   * Enqueues a key (an event source saw something change), and the keys of controllers that watch
   * its kind's triggers (a Project's inbox event also wakes its DelegationPolicy).
   */
  enqueue(key: string, reason: string): void {
    this.#queue?.add(key, reason);
    for (const target of this.dependents(key, 'trigger')) this.#queue?.add(target, `${reason} (${key})`);
  }

  /**
   * The keys to reconcile again when `key` changed (`status`) or was triggered (`trigger`),
   * from the controllers' declared watches.
   */
  dependents(key: string, on: 'status' | 'trigger', desired: DesiredState = this.store.state.desired): string[] {
    const kind = key.slice(0, key.indexOf('/'));
    const out = new Set<string>();
    for (const c of Object.values(this.#deps.controllers)) {
      for (const w of c?.watches ?? []) {
        if (w.kind !== kind || !(w.on ?? ['status']).includes(on)) continue;
        for (const name of w.map(key, desired)) out.add(`${c?.kind}/${name}`);
      }
    }
    return [...out];
  }

  /**
   * Builds the status triggers from the controllers' watches: when a watched object's status
   * changes in what the watcher reads (its signature), the watcher's mapped keys are enqueued.
   */
  #followWatches(): () => void {
    const watched = Object.values(this.#deps.controllers).flatMap((c) => (c?.watches ?? []).filter((w) => (w.on ?? ['status']).includes('status')).map((w) => ({ controller: c as Controller, watch: w })));
    if (watched.length === 0) return () => {};
    return this.store.subscribe((next, prev) => {
      if (next.status === prev.status) return;
      for (const [key, after] of Object.entries(next.status)) {
        const before = prev.status[key];
        if (before === after) continue;
        const kind = key.slice(0, key.indexOf('/'));
        for (const { controller, watch } of watched) {
          if (watch.kind !== kind) continue;
          const sig = watch.signature ?? ((st: ObjectStatus | undefined) => st);
          if (JSON.stringify(sig(before, key)) === JSON.stringify(sig(after, key))) continue;
          for (const name of watch.map(key, next.desired)) this.#queue?.add(`${controller.kind}/${name}`, `${key} changed`);
        }
      }
    });
  }

  enqueueAll(reason: string): void {
    for (const k of this.allKeys()) this.enqueue(k, reason);
  }

  /** Stops intake and drains in-flight reconciles within `timeoutMs`. */
  async stop(timeoutMs: number): Promise<boolean> {
    const q = this.#queue;
    this.#queue = undefined;
    this.#unwatch();
    const drained = q ? await q.shutdown(timeoutMs) : true;
    await this.persist().catch(() => {});
    return drained;
  }
}

/**
 * What the work queue does with a key after its reconcile: retryable and unexpected failures are
 * thrown (a RetryableError carries the retry delay; otherwise the key backs off), a conflict is
 * planned again after its delay and a terminal failure waits for the plan's own follow-up, neither
 * counting towards the key's back-off.
 */
export function workQueueAction(result: ReconcileResult): { requeueAfterMs?: number } {
  switch (result.outcome) {
    case 'ok':
    case 'terminal':
      return result.requeueAfterMs !== undefined ? { requeueAfterMs: result.requeueAfterMs } : {};
    case 'conflict':
      return { requeueAfterMs: result.retryAfterMs };
    case 'retry':
      throw new ReconcileFailedError(result.failures, result.retryAfterMs);
  }
}

/** A key's reconcile failed in a way worth retrying (the failures keep their classes and codes). */
export class ReconcileFailedError extends RetryableError {
  readonly failures: readonly ApplyFailure[];
  constructor(failures: readonly ApplyFailure[], retryAfterMs: number | undefined) {
    super('CF_ERR_RECONCILE_FAILED', 'ApplyFailed', describeFailures(failures), retryAfterMs !== undefined ? { retryAfterMs } : {});
    this.failures = failures;
  }
}

function verb(action: Change['action']): string {
  return { create: 'Created', update: 'Updated', delete: 'Deleted', replace: 'Replaced' }[action];
}

function pastTense(action: Change['action']): string {
  return { create: 'created', update: 'updated', delete: 'deleted', replace: 'replaced' }[action];
}
