/**
 * The long-running controller: the manager's work queue fed by event sources (manifest files
 * via chokidar, tmux polling, resync), with GitOps reload that never applies an invalid set.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { allObjects, formatDiagnostic, type DesiredState } from '../api/objects.js';
import { loadManifests, toDesired } from '../adapters/manifest-files.js';
import { acquireInstanceLock, type InstanceLock } from '../adapters/instance-lock.js';
import { errorMessage } from '../core/errors.js';
import type { TmuxSessionInfo } from '../core/ports.js';
import { wire, type PoolOptions, type Wired } from './wiring.js';
import type { CfEvent } from './events.js';
import type { ManagerDeps } from './manager.js';
import { queueRootOf } from '../controllers/project.js';
import { NotificationDispatcher, checkNotifierSecrets } from '../adapters/notify/dispatcher.js';

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
}

export const DEFAULT_WORKERS = 32;

/** What the manifests say, independent of where they were read from. */
function fingerprint(d: DesiredState): string {
  return allObjects(d).map((o) => `${o.kind}/${o.metadata.name}@${o.generation}:${JSON.stringify(o.metadata.labels ?? {})}${JSON.stringify(o.metadata.annotations ?? {})}`).sort().join('|');
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
    });
  }

  get manager() {
    return this.wired.manager;
  }

  /** Validates the manifests, takes the lock, runs a first full pass and starts the loop. */
  async start(): Promise<void> {
    const { log } = this.opts;
    const loaded = await loadManifests(this.opts.manifests, { displayBase: this.opts.displayBase ?? process.cwd() });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      const { ManifestError } = await import('../core/errors.js');
      throw new ManifestError(errors);
    }
    await this.wired.stateStore.ensure();
    this.#lock = await acquireInstanceLock(this.opts.stateDir);
    log.info({ stateDir: this.opts.stateDir, pid: process.pid }, 'state dir locked');
    await this.manager.loadState();
    this.manager.setDesired(toDesired(loaded));
    this.notifications.update(this.manager.store.state.desired.notifiers);
    log.info({ objects: loaded.objects.length, revision: loaded.revision }, 'manifests loaded');
    await this.#preflight();
    this.#followDependencies();
    await this.manager.start({ resyncMs: this.opts.resyncMs, prune: this.opts.prune, concurrency: this.opts.workers ?? DEFAULT_WORKERS });
    log.info('first reconcile done; controller running');
    this.#watchManifests();
    this.#watchSessionEvents();
    this.#pollTmux();
    this.#followSessionsForProjects();
    this.#watchInboxes();
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
        if (project) {
          this.manager.enqueue(`Project/${project}`, `inbox-${event}`);
          // Tasks the router sends to the job API are picked up by the project's DelegationPolicy.
          const policy = this.manager.store.state.desired.projects.find((p) => p.metadata.name === project)?.spec.delegationPolicy;
          if (policy) this.manager.enqueue(`DelegationPolicy/${policy}`, `inbox-${event}`);
        }
      });
    }
    const gone = [...this.#inboxes.keys()].filter((k) => !want.has(k));
    const added = [...want.keys()].filter((k) => !this.#inboxes.has(k));
    if (gone.length > 0) this.#inboxWatcher.unwatch(gone);
    if (added.length > 0) this.#inboxWatcher.add(added);
    this.#inboxes = want;
    for (const name of new Set(want.values())) this.manager.enqueue(`Project/${name}`, 'inbox-watch');
  }

  /** A session's activity, task or launch changed: its project re-plans (completion, next dispatch). */
  #followSessionsForProjects(): void {
    const fields = ['activity', 'currentTask', 'lastCompletedTask', 'lastCompletedAt', 'launchedAt', 'account'] as const;
    this.manager.store.subscribe((next, prev) => {
      if (next.status === prev.status) return;
      for (const s of next.desired.sessions) {
        const key = `Session/${s.metadata.name}`;
        const a = prev.status[key];
        const b = next.status[key];
        if (a === b) continue;
        const readyA = a?.conditions?.find((c) => c.type === 'Ready')?.status;
        const readyB = b?.conditions?.find((c) => c.type === 'Ready')?.status;
        if (readyA !== readyB || fields.some((f) => a?.[f] !== b?.[f])) this.manager.enqueue(`Project/${s.spec.project}`, 'session-changed');
      }
    });
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
    const pool = part.status['Account/*'] as { noEligibleAccount?: { message: string } } | undefined;
    if (pool?.noEligibleAccount) log.error({ key: 'Account/*' }, `${pool.noEligibleAccount.message}. See docs/operations.md, "No eligible account".`);
  }

  /** Level-triggered fan-out: keys whose plans read another object's status are woken when it changes. */
  #followDependencies(): void {
    this.manager.store.subscribe((next, prev) => {
      const poolNext = next.status['Account/*'] as { activeAccount?: string | null; allExhausted?: boolean; noEligibleAccount?: unknown } | undefined;
      const poolPrev = prev.status['Account/*'] as { activeAccount?: string | null; allExhausted?: boolean; noEligibleAccount?: unknown } | undefined;
      if (poolNext?.activeAccount !== poolPrev?.activeAccount || poolNext?.allExhausted !== poolPrev?.allExhausted || (poolNext?.noEligibleAccount === undefined) !== (poolPrev?.noEligibleAccount === undefined)) {
        for (const s of next.desired.sessions) this.manager.enqueue(`Session/${s.metadata.name}`, 'active-account-changed');
      }
      for (const [key, st] of Object.entries(next.status)) {
        if (!key.startsWith('Session/')) continue;
        const before = prev.status[key] as Record<string, unknown> | undefined;
        const after = st as Record<string, unknown>;
        // Ready is in the signature because the pool's FailoverCompleted waits for every session to
        // be Ready on the new account.
        const ready = (x: Record<string, unknown> | undefined) => (x?.conditions as { type: string; status: string }[] | undefined)?.find((c) => c.type === 'Ready')?.status;
        const sig = (x: Record<string, unknown> | undefined) => JSON.stringify([x?.rateLimits, x?.lastError, x?.account, x?.activity, ready(x)]);
        if (before !== after && sig(before) !== sig(after)) {
          this.manager.enqueue('Account/*', 'session-quota-signal');
        }
      }
    });
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
    this.#watcher.on('all', (event, path) => {
      if (!/\.ya?ml$/.test(path) && event !== 'unlinkDir' && event !== 'addDir') return;
      this.opts.log.debug({ event, path }, 'manifest change');
      this.#scheduleReload(`${event} ${path}`);
    });
  }

  /** At most one reload runs and one more is queued: a burst of file events is one reload. */
  #scheduleReload(reason: string): void {
    if (this.#reloadQueued) return;
    this.#reloadQueued = true;
    this.#reloading = this.#reloading.then(async () => {
      this.#reloadQueued = false;
      await this.reload(reason).catch((err: unknown) => this.opts.log.error({ err: errorMessage(err) }, 'manifest reload failed'));
    });
  }

  /**
   * Re-validates the whole manifest set. An invalid set is not applied: the last good desired
   * state stays in force, and the diagnostics are logged and kept (status + event).
   */
  async reload(reason: string): Promise<boolean> {
    const { log } = this.opts;
    const loaded = await loadManifests(this.opts.manifests, { displayBase: this.opts.displayBase ?? process.cwd() });
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      const lines = errors.map(formatDiagnostic);
      log.error({ reason, revision: loaded.revision, diagnostics: lines }, 'manifests rejected: the last good set stays in force');
      this.manager.store.update((d) => {
        d.rejected = { at: new Date().toISOString(), diagnostics: lines, ...(loaded.revision ? { revision: loaded.revision } : {}) };
      });
      await this.manager.event({ key: 'Manifests/*', type: 'Warning', reason: 'ManifestsRejected', message: `${errors.length} problem(s); keeping revision ${this.manager.store.state.lastAppliedRevision ?? 'last good'}: ${lines.slice(0, 3).join('; ')}`, data: { diagnostics: lines } });
      return false;
    }
    const next = toDesired(loaded);
    const before = this.manager.store.state;
    const unchanged = !before.rejected && before.lastAppliedRevision === next.revision && fingerprint(before.desired) === fingerprint(next);
    if (unchanged) return true; // a touch, or a change to a file that is not a manifest
    this.manager.setDesired(next);
    this.notifications.update(this.manager.store.state.desired.notifiers);
    await this.manager.event({ key: 'Manifests/*', type: 'Normal', reason: 'ManifestsApplied', message: `${loaded.objects.length} objects${loaded.revision ? ` at revision ${loaded.revision}` : ''} (${reason})`, ...(loaded.revision ? { data: { revision: loaded.revision } } : {}) });
    this.manager.enqueueAll('manifests-changed');
    if (this.#inboxWatcher) this.#watchInboxes();
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
