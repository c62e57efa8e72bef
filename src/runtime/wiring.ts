/** Builds a controller (ports, controllers, executor, manager) from its settings. */
import type { Logger } from 'pino';
import type { Kind } from '../api/schemas.js';
import type { Controller } from '../core/controller.js';
import { systemTimers, type Timers } from '../core/ports.js';
import { FileStateStore } from '../adapters/state-store.js';
import { TmuxAdapter } from '../adapters/tmux.js';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SessionController } from '../controllers/session.js';
import { NodeFsRead } from '../adapters/fs-effects.js';
import { SessionEventsReader } from '../adapters/session-events.js';
import { resolveExecutable } from '../adapters/which.js';
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

/** argv that runs this CLI (hooks registered in sessions call back into it), absolute. */
export function selfCommand(): string[] {
  return [process.execPath, fileURLToPath(new URL('../cli/main.js', import.meta.url))];
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
    Session: new SessionController({
      tmux,
      fs: new NodeFsRead(),
      events: new SessionEventsReader(opts.stateDir),
      resolveCommand: (c) => resolveExecutable(c, process.env.PATH ?? ''),
      newId: () => randomUUID(),
      stateDir: opts.stateDir,
      selfCommand: selfCommand(),
    }) as Controller,
  };
  const manager = new Manager({ controllers, executor, stateStore, timers, ...(opts.log ? { log: opts.log } : {}) });
  return { manager, tmux, stateStore, executor };
}
