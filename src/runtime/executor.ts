/**
 * Executes a Change's effects through the ports, in order. Every effect is idempotent, so a
 * change interrupted half-way is simply planned and executed again on the next pass.
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { Inventory, OwnedResource } from '../core/controller.js';
import { EFFECT_TYPES, type Effect, type EffectHandler, type EffectHandlers, type EffectOf, type EffectType } from '../core/effects.js';
import { CfError } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import type { SequenceStep, StateStore, Timers, TmuxPort } from '../core/ports.js';
import { ensureSymlink, mergeJsonFile, writeJsonAtomic } from '../adapters/fs-effects.js';

export interface ExecutorDeps {
  tmux: TmuxPort;
  store: StateStore;
  timers: Timers;
  /** Handlers of the effect types the executor has no built-in for (queue moves, deliveries, ...). */
  handlers?: EffectHandlers;
}

export type Sleep = (ms: number) => Promise<void>;

export function sleeper(timers: Timers): Sleep {
  return (ms) => new Promise((resolve) => timers.setTimeout(resolve, ms));
}

export type ProcessState = 'running' | 'exited' | 'gone';

/**
 * The state of a pane's process without a tmux round trip: `running`, `exited` (a zombie its parent,
 * the tmux server, has not reaped yet: on Linux, from /proc) or `gone` (no such process: signal 0
 * fails with ESRCH). Only a hint for `gone`: a pane process in another pid namespace reads as gone,
 * which the caller confirms with tmux before acting on it.
 */
export function processState(pid: number): ProcessState {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the command name, which is in parentheses and may itself contain ") ".
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X' ? 'exited' : 'running';
  } catch {
    // no /proc (not Linux), or no such process: signal 0 decides
  }
  try {
    process.kill(pid, 0);
    return 'running';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'running' : 'gone';
  }
}

export interface StopOptions {
  /** State of the pane's process (default: processState). */
  processState?: (pid: number) => ProcessState;
}

/**
 * The keys that ask Claude Code to exit, whatever it is doing (measured on the real CLI 2.1.332):
 * - the first Ctrl-C interrupts a running turn; a turn interrupted before any answer puts its
 *   prompt back into the input box (so `/exit` typed now would be appended to it and Enter would
 *   submit the task again); at an idle prompt it clears the input and arms "Ctrl-C again to exit";
 * - the second Ctrl-C clears that restored input (and arms), or, when armed, exits;
 * - `/exit` + Enter exits from an empty input box (the Enter goes separately, after a pause:
 *   Claude Code swallows an Enter that arrives with a paste). Steps to a pane that is already
 *   dead are skipped.
 */
export const STOP_SEQUENCE: readonly SequenceStep[] = [{ keys: ['C-c'] }, { delayMs: 100 }, { keys: ['C-c'] }, { delayMs: 100 }, { literal: '/exit' }, { delayMs: 100 }, { keys: ['Enter'] }];

/**
 * Stops a session: {@link STOP_SEQUENCE} (Ctrl-C twice, `/exit` + Enter), then kill after the grace period.
 * While waiting for the agent to exit it watches the pane's process (processState) and asks tmux
 * when that process is gone, else once a second (every 250 ms when there is no usable pid): a
 * failover stops every session at once, and a tmux client per session every 50 ms was most of a
 * small machine's CPU.
 */
export async function stopSessionGracefully(tmux: TmuxPort, name: string, owner: string, graceMs: number, sleep: Sleep, opts: StopOptions = {}): Promise<void> {
  const find = async () => (await tmux.listSessions()).find((s) => s.name === name);
  const t = await find();
  if (!t) return;
  if (t.owner !== owner) throw new CfError('CF_ERR_NOT_OWNER', `refusing to stop tmux session ${name}: owned by ${t.owner ?? 'nobody'}, not ${owner}`);
  if (!t.paneDead && graceMs > 0) {
    try {
      await tmux.sendSequence(name, STOP_SEQUENCE);
    } catch {
      // tmux older than 3.2 (no `run-shell -d`), or the pane went away: the same, one step at a time
      try {
        for (const step of STOP_SEQUENCE) {
          if ('delayMs' in step) await sleep(step.delayMs);
          else if ('keys' in step) await tmux.sendKeys(name, step.keys);
          else await tmux.pasteText(name, step.literal);
        }
      } catch {
        // the pane may have gone away meanwhile; the kill below settles it
      }
    }
    const probe = opts.processState ?? processState;
    let pid = t.panePid !== undefined && t.panePid > 0 ? t.panePid : undefined;
    const deadline = Date.now() + graceMs;
    let askedTmux = Date.now();
    while (Date.now() < deadline) {
      const state = pid === undefined ? undefined : probe(pid);
      // Still ask tmux once a second: the pid could name another process (another pid namespace).
      if (state === 'running' && Date.now() - askedTmux < 1000) {
        await sleep(25);
        continue;
      }
      if (state === 'exited') break;
      const cur = await find();
      askedTmux = Date.now();
      if (!cur || cur.paneDead) break;
      if (state === 'running') continue;
      pid = undefined; // tmux says alive though the probe said gone: trust tmux from here on
      await sleep(250);
    }
  }
  await tmux.killSession(name);
}

/**
 * Runs a Change's effects through a typed registry: one handler per effect type, each receiving its
 * own effect shape (no handler re-checks `e.type`). The built-in handlers (tmux, fs, state) are
 * registered here; the others by their owners at wiring time (src/runtime/wiring.ts): queue and
 * delivery (project-effects.ts), delegation (adapters/delegation/service.ts), git, guard.
 * `missing()` lists types without a handler; wiring checks it is empty.
 */
export class Executor {
  readonly #deps: ExecutorDeps;
  readonly #sleep: Sleep;
  readonly #handlers: EffectHandlers;

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
    this.#sleep = sleeper(deps.timers);
    this.#handlers = { ...this.#builtins(), ...deps.handlers };
  }

  /** Registers (or replaces) the handler of one effect type. */
  register<T extends EffectType>(type: T, handler: EffectHandler<T>): void {
    (this.#handlers as Record<T, EffectHandler<T>>)[type] = handler;
  }

  /** Registers a table of handlers. */
  registerAll(handlers: EffectHandlers): void {
    Object.assign(this.#handlers, handlers);
  }

  /** Effect types with no handler (empty once wiring is complete). */
  missing(): EffectType[] {
    return EFFECT_TYPES.filter((t) => !this.#handlers[t]);
  }

  async apply(change: Change, inventory: Inventory): Promise<void> {
    for (const effect of change.effects) {
      await this.#run(effect);
      trackOwnership(change.key, effect, inventory);
    }
  }

  #run<T extends EffectType>(e: EffectOf<T>): Promise<void> {
    // The one narrowing: the table maps each type to the handler of that type (register's signature).
    const handler = this.#handlers[e.type as T] as EffectHandler<T> | undefined;
    if (!handler) throw new CfError('CF_ERR_EFFECT_UNKNOWN', `no handler for effect ${e.type}`);
    return handler(e);
  }

  #builtins(): EffectHandlers {
    const { tmux, store } = this.#deps;
    return {
      'tmux.newSession': async (e) => {
        const existing = (await tmux.listSessions()).find((s) => s.name === e.session);
        if (existing) {
          if (existing.owner === e.owner && !existing.paneDead) return; // already there: idempotent
          if (existing.owner !== e.owner) throw new CfError('CF_ERR_NOT_OWNER', `tmux session ${e.session} exists and is owned by ${existing.owner ?? 'nobody'}`);
          await tmux.killSession(e.session); // ours, dead: replace
        }
        await mkdir(e.cwd, { recursive: true }).catch(() => {});
        await tmux.newSession({ name: e.session, cwd: e.cwd, argv: e.argv, env: e.env, unsetEnv: e.unsetEnv, owner: e.owner, options: e.options });
      },
      'tmux.killSession': async (e) => {
        const existing = (await tmux.listSessions()).find((s) => s.name === e.session);
        if (!existing) return;
        if (existing.owner !== e.owner) throw new CfError('CF_ERR_NOT_OWNER', `refusing to kill tmux session ${e.session}: not owned by ${e.owner}`);
        await tmux.killSession(e.session);
      },
      'tmux.stopSession': (e) => stopSessionGracefully(tmux, e.session, e.owner, e.graceMs, this.#sleep),
      'fs.writeJson': (e) => writeJsonAtomic(e.path, e.value, e.mode !== undefined ? { mode: e.mode } : {}),
      'fs.mergeJson': (e) => mergeJsonFile(e.path, e.patch),
      'fs.symlink': (e) => ensureSymlink(e.path, e.target, e.replaceLink),
      'fs.mkdir': async (e) => {
        await mkdir(e.path, { recursive: true });
      },
      'state.record': (e) => store.write(e.record, e.value),
    };
  }
}

/** Keeps the inventory of what each object owns in step with applied effects. */
export function trackOwnership(key: string, e: Effect, inventory: Inventory): void {
  const list = inventory[key] ?? [];
  const add = (type: OwnedResource['type'], name: string, extra: Partial<OwnedResource> = {}) => {
    if (!list.some((r) => r.type === type && r.name === name)) list.push({ type, name, ...extra });
  };
  const remove = (type: string, name: string) => {
    const i = list.findIndex((r) => r.type === type && r.name === name);
    if (i >= 0) list.splice(i, 1);
  };
  if (e.type === 'tmux.newSession') add('tmux-session', e.session);
  else if (e.type === 'tmux.killSession' || e.type === 'tmux.stopSession') remove('tmux-session', e.session);
  else if (e.type === 'fs.symlink') add('symlink', e.path);
  else if (e.type === 'git.addWorktree') add('git-worktree', e.path, { repo: e.repo });
  else if (e.type === 'git.removeWorktree') remove('git-worktree', e.path);
  if (list.length > 0) inventory[key] = list;
  else delete inventory[key];
}
