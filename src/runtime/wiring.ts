/** Builds a controller (ports, controllers, executor, manager) from its settings. */
import type { Logger } from 'pino';
import type { Kind } from '../api/schemas.js';
import type { Controller } from '../core/controller.js';
import { systemTimers, type Timers } from '../core/ports.js';
import { FileStateStore } from '../adapters/state-store.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import { GitAdapter } from '../adapters/git.js';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SessionController } from '../controllers/session.js';
import { NodeFsRead } from '../adapters/fs-effects.js';
import { SessionEventsReader } from '../adapters/session-events.js';
import { resolveExecutable } from '../adapters/which.js';
import { AccountController } from '../controllers/account.js';
import { UsageQuotaPort } from '../adapters/quota/quota-port.js';
import type { Dispatcher } from 'undici';
import { NotifierController, type NotifierControllerDeps } from '../controllers/notifier.js';
import { checkNotifierSecrets } from '../adapters/notify/dispatcher.js';
import type { CfEvent } from './events.js';
import { join as joinPath, resolve as resolvePath } from 'node:path';
import { deployGuard, guardScriptName } from '../adapters/guard-deploy.js';
import { shellQuote } from '../core/shell-quote.js';
import { guardSettingsFragment } from '../guard/settings.js';
import type { GuardDeployEffect } from '../core/effects.js';
import { CfError } from '../core/errors.js';
import { FileRequestStore } from '../adapters/requests.js';
import { Executor } from './executor.js';
import { Manager, type ManagerDeps } from './manager.js';
import { ProjectController } from '../controllers/project.js';
import { listCheckpoints, readLastToolCalls } from '../adapters/checkpoints.js';
import { QueueRegistry, registerProjectEffects } from './project-effects.js';
import { DelegationService } from '../adapters/delegation/service.js';
import { DelegationPolicyController } from '../controllers/delegation-policy.js';
import type { CompatConfig } from '../core/compat.js';

export const DEFAULT_TMUX_SOCKET = 'claude-failover';

export interface WiringOptions {
  stateDir: string;
  /** tmux `-L` name, or a socket path when it contains a `/`. */
  tmuxSocket?: string;
  dryRun: boolean;
  log?: Logger;
  timers?: Timers;
  /** Pool behaviour (controller flags; see `run --help`). */
  pool?: PoolOptions;
  /** Observes every reconcile (metrics). */
  onReconcile?: ManagerDeps['onReconcile'];
  /** Receives every recorded event (the notification dispatcher). */
  onEvent?: (e: CfEvent) => void;
  /** Manifest files/dirs: the guard protects them from writes by agents. */
  manifestPaths?: string[];
  /** Notifier channel checks and delivery stats (from the notification dispatcher). */
  notifiers?: NotifierControllerDeps;
  /** undici dispatcher for the usage endpoint (tests pass a MockAgent). */
  usageDispatcher?: Dispatcher;
  /** Go-system compatibility switches (src/core/compat.ts). */
  compat?: CompatConfig;
}

export interface PoolOptions {
  /** Minimum time on an account before a discretionary switch (failback). Never holds a threshold failover. Default 10 min. */
  minDwellMs?: number;
  /** How long a working session may finish its turn before failover stops it. Default 2 min. */
  failoverGraceMs?: number;
  /** Poll usage endpoints (default true). */
  pollUsage?: boolean;
}

export const DEFAULT_MIN_DWELL_MS = 10 * 60_000;

export interface Wired {
  manager: Manager;
  tmux: TmuxAdapter;
  stateStore: FileStateStore;
  executor: Executor;
  accounts: AccountController;
  /** Operator requests (forced failover, restart) in the state dir. */
  requests: FileRequestStore;
}

/** The shell observer hook shipped with the package (hooks/claude-failover-observe), absolute. */
export function observeCommand(): string {
  return fileURLToPath(new URL('../../hooks/claude-failover-observe', import.meta.url));
}

/** argv that runs this CLI (hooks registered in sessions call back into it), absolute. */
export function selfCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
}

export function tmuxFor(socket: string | undefined): TmuxAdapter {
  const s = socket ?? DEFAULT_TMUX_SOCKET;
  return new TmuxAdapter(s.includes('/') ? { socketPath: s } : { socketName: s });
}

export function wire(input: WiringOptions): Wired {
  // Absolute before anything is planned: it goes into every session's --settings and hook commands.
  const opts: WiringOptions = { ...input, stateDir: resolvePath(input.stateDir) };
  const timers = opts.timers ?? systemTimers;
  const tmux = tmuxFor(opts.tmuxSocket);
  const stateStore = new FileStateStore(opts.stateDir, { readOnly: opts.dryRun });
  const executor = new Executor({ tmux, store: stateStore, timers });
  const fs = new NodeFsRead();
  const git = new GitAdapter();
  const requests = new FileRequestStore(opts.stateDir);
  executor.register('git.addWorktree', (e) => git.addWorktree(e));
  executor.register('git.removeWorktree', (e) => git.removeWorktree(e));
  const accounts = new AccountController({
    quota: new UsageQuotaPort(opts.usageDispatcher ? { dispatcher: opts.usageDispatcher } : {}),
    fs,
    minDwellMs: opts.pool?.minDwellMs ?? DEFAULT_MIN_DWELL_MS,
    poll: opts.pool?.pollUsage ?? true,
    clock: () => timers.now(),
    requests,
  });
  const queues = new QueueRegistry();
  registerProjectEffects(executor, { tmux, queues, ...(opts.log ? { log: opts.log } : {}) });
  const delegation = new DelegationService({
    queueFor: (root) => queues.get(root),
    now: () => timers.now(),
    ...(opts.log ? { log: opts.log } : {}),
    // A refused job is a dead letter found while applying a change: recorded like a planned event.
    event: (e) => manager.event(e),
  });
  executor.registerAll(delegation.handlers());
  const controllers: Partial<Record<Kind, Controller>> = {
    Project: new ProjectController({
      queueFor: (root) => queues.get(root),
      tmux,
      fs,
      stateDir: opts.stateDir,
      checkpoints: () => listCheckpoints(opts.stateDir),
      toolCalls: () => readLastToolCalls(opts.stateDir),
      clock: timers,
      ...(opts.compat?.switches.has('status-delegated') ? { tuning: { goStatusDelegated: true } } : {}),
    }) as Controller,
    Account: accounts as Controller,
    DelegationPolicy: new DelegationPolicyController({ queueFor: (root) => queues.get(root), fs, api: delegation }) as Controller,
    Notifier: new NotifierController(opts.notifiers ?? { check: (spec) => checkNotifierSecrets(spec) }) as Controller,
    Session: new SessionController({
      tmux,
      fs,
      git,
      ...(opts.pool?.failoverGraceMs !== undefined ? { failoverGraceMs: opts.pool.failoverGraceMs } : {}),
      events: new SessionEventsReader(opts.stateDir),
      requests,
      resolveCommand: (c) => resolveExecutable(c, process.env.PATH ?? ''),
      newId: () => randomUUID(),
      guardHook: (session, project) => {
        if (!project || project.spec.safety.mode === 'off') return undefined;
        const scriptPath = joinPath(project.spec.path, '.claude', 'hooks', guardScriptName(session.metadata.name));
        const command = shellQuote(scriptPath);
        const entry = guardSettingsFragment(command).hooks.PreToolUse[0] as unknown as Record<string, unknown>;
        const effect: GuardDeployEffect = { type: 'guard.deploy', projectPath: project.spec.path, session: session.metadata.name, mode: project.spec.safety.mode, protectPaths: opts.manifestPaths ?? [] };
        return { settings: entry, effect };
      },
      stateDir: opts.stateDir,
      selfCommand: selfCommand(),
      observeCommand: observeCommand(),
    }) as Controller,
  };
  const manager = new Manager({ controllers, executor, stateStore, timers, ...(opts.log ? { log: opts.log } : {}), ...(opts.onEvent ? { onEvent: opts.onEvent } : {}), ...(opts.onReconcile ? { onReconcile: opts.onReconcile } : {}) });
  executor.register('guard.deploy', async (g) => {
    try {
      // The self-check (running the deployed hook on a known-bad call) is done on first launch; a
      // relaunch (failover: every session at once) rewrites the launcher without it.
      await deployGuard({ projectDir: g.projectPath, sessionName: g.session, stateDir: opts.stateDir, mode: g.mode, protectedPaths: g.protectPaths, verify: !g.failOpen });
    } catch (err) {
      // First launch fails closed (the session is not launched and its condition says why);
      // a relaunch after failover fails open: the earlier deployment is in place.
      if (!g.failOpen) throw err;
      opts.log?.warn({ key: `Session/${g.session}`, err: (err as Error).message }, 'guard redeploy failed; keeping the earlier deployment');
    }
  });
  // Every effect a controller can plan has its handler (a type added without one fails here, at start-up, not mid-change).
  const missing = executor.missing();
  if (missing.length > 0) throw new CfError('CF_ERR_EFFECT_UNKNOWN', `no handler registered for effect type(s): ${missing.join(', ')}`);
  return { manager, tmux, stateStore, executor, accounts, requests };
}
