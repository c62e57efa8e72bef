/** Builds a controller (ports, controllers, executor, manager) from its settings. */
import type { Logger } from 'pino';
import type { Kind } from '../api/schemas.js';
import type { Controller } from '../core/controller.js';
import { systemTimers, type Timers } from '../core/ports.js';
import { FileStateStore } from '../adapters/state-store.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import { SessionController } from '../controllers/session.js';
import { Executor } from './executor.js';
import { Manager } from './manager.js';

export const DEFAULT_TMUX_SOCKET = 'claude-failover';

export interface WiringOptions {
  stateDir: string;
  /** tmux `-L` name, or a socket path when it contains a `/`. */
  tmuxSocket?: string;
  dryRun: boolean;
  log?: Logger;
  timers?: Timers;
}

export interface Wired {
  manager: Manager;
  tmux: TmuxAdapter;
  stateStore: FileStateStore;
  executor: Executor;
}

export function tmuxFor(socket: string | undefined): TmuxAdapter {
  const s = socket ?? DEFAULT_TMUX_SOCKET;
  return new TmuxAdapter(s.includes('/') ? { socketPath: s } : { socketName: s });
}

export function wire(opts: WiringOptions): Wired {
  const timers = opts.timers ?? systemTimers;
  const tmux = tmuxFor(opts.tmuxSocket);
  const stateStore = new FileStateStore(opts.stateDir, { readOnly: opts.dryRun });
  const executor = new Executor({ tmux, store: stateStore, timers });
  const controllers: Partial<Record<Kind, Controller>> = {
    Session: new SessionController({ tmux }) as Controller,
  };
  const manager = new Manager({ controllers, executor, stateStore, timers, ...(opts.log ? { log: opts.log } : {}) });
  return { manager, tmux, stateStore, executor };
}
