/**
 * Executes a Change's effects through the ports, in order. Every effect is idempotent, so a
 * change interrupted half-way is simply planned and executed again on the next pass.
 */
import { mkdir } from 'node:fs/promises';
import type { Inventory } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import { CfError } from '../core/errors.js';
import type { Change } from '../core/plan.js';
import type { StateStore, Timers, TmuxPort } from '../core/ports.js';
import { ensureSymlink, mergeJsonFile, writeJsonAtomic } from '../adapters/fs-effects.js';

export interface ExecutorDeps {
  tmux: TmuxPort;
  store: StateStore;
  timers: Timers;
  /** Extra handlers registered by later controllers (queue moves, deliveries, ...). */
  handlers?: Partial<Record<string, (effect: Effect) => Promise<void>>>;
}

export type Sleep = (ms: number) => Promise<void>;

export function sleeper(timers: Timers): Sleep {
  return (ms) => new Promise((resolve) => timers.setTimeout(resolve, ms));
}

/** Stops a session: Ctrl-C (ends a running turn), `/exit` + Enter, then kill after the grace period. */
export async function stopSessionGracefully(tmux: TmuxPort, name: string, owner: string, graceMs: number, sleep: Sleep): Promise<void> {
  const find = async () => (await tmux.listSessions()).find((s) => s.name === name);
  const t = await find();
  if (!t) return;
  if (t.owner !== owner) throw new CfError('CF_ERR_NOT_OWNER', `refusing to stop tmux session ${name}: owned by ${t.owner ?? 'nobody'}, not ${owner}`);
  if (!t.paneDead && graceMs > 0) {
    try {
      // Ctrl-C ends a running turn (and clears a half-typed prompt); `/exit` then quits the TUI.
      await tmux.sendKeys(name, ['C-c']);
      await sleep(100);
      await tmux.pasteText(name, '/exit');
      await sleep(100);
      await tmux.sendKeys(name, ['Enter']);
    } catch {
      // the pane may have gone away meanwhile; the kill below settles it
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      const cur = await find();
      if (!cur || cur.paneDead) break;
      await sleep(50);
    }
  }
  await tmux.killSession(name);
}

export class Executor {
  readonly #deps: ExecutorDeps;
  readonly #sleep: Sleep;

  constructor(deps: ExecutorDeps) {
    this.#deps = deps;
    this.#sleep = sleeper(deps.timers);
  }

  register(type: string, handler: (effect: Effect) => Promise<void>): void {
    this.#deps.handlers = { ...this.#deps.handlers, [type]: handler };
  }

  async apply(change: Change, inventory: Inventory): Promise<void> {
    for (const effect of change.effects) {
      await this.#run(effect);
      trackOwnership(change.key, effect, inventory);
    }
  }

  async #run(e: Effect): Promise<void> {
    const custom = this.#deps.handlers?.[e.type];
    if (custom) return custom(e);
    const { tmux, store } = this.#deps;
    switch (e.type) {
      case 'tmux.newSession': {
        const existing = (await tmux.listSessions()).find((s) => s.name === e.session);
        if (existing) {
          if (existing.owner === e.owner && !existing.paneDead) return; // already there: idempotent
          if (existing.owner !== e.owner) throw new CfError('CF_ERR_NOT_OWNER', `tmux session ${e.session} exists and is owned by ${existing.owner ?? 'nobody'}`);
          await tmux.killSession(e.session); // ours, dead: replace
        }
        await mkdir(e.cwd, { recursive: true }).catch(() => {});
        await tmux.newSession({ name: e.session, cwd: e.cwd, argv: e.argv, env: e.env, unsetEnv: e.unsetEnv, owner: e.owner, options: e.options });
        return;
      }
      case 'tmux.killSession': {
        const existing = (await tmux.listSessions()).find((s) => s.name === e.session);
        if (!existing) return;
        if (existing.owner !== e.owner) throw new CfError('CF_ERR_NOT_OWNER', `refusing to kill tmux session ${e.session}: not owned by ${e.owner}`);
        await tmux.killSession(e.session);
        return;
      }
      case 'tmux.stopSession':
        return stopSessionGracefully(tmux, e.session, e.owner, e.graceMs, this.#sleep);
      case 'fs.writeJson':
        return writeJsonAtomic(e.path, e.value, e.mode !== undefined ? { mode: e.mode } : {});
      case 'fs.mergeJson':
        return mergeJsonFile(e.path, e.patch);
      case 'fs.symlink':
        return ensureSymlink(e.path, e.target, e.replaceLink);
      case 'fs.mkdir':
        await mkdir(e.path, { recursive: true });
        return;
      case 'state.record':
        return store.write(e.record, e.value);
      default: {
        const unknown: { type: string } = e;
        throw new CfError('CF_ERR_EFFECT_UNKNOWN', `no handler for effect ${unknown.type}`);
      }
    }
  }
}

/** Keeps the inventory of what each object owns in step with applied effects. */
export function trackOwnership(key: string, e: Effect, inventory: Inventory): void {
  const list = inventory[key] ?? [];
  const add = (type: 'tmux-session' | 'symlink' | 'file' | 'directory', name: string) => {
    if (!list.some((r) => r.type === type && r.name === name)) list.push({ type, name });
  };
  const remove = (type: string, name: string) => {
    const i = list.findIndex((r) => r.type === type && r.name === name);
    if (i >= 0) list.splice(i, 1);
  };
  if (e.type === 'tmux.newSession') add('tmux-session', e.session);
  else if (e.type === 'tmux.killSession' || e.type === 'tmux.stopSession') remove('tmux-session', e.session);
  else if (e.type === 'fs.symlink') add('symlink', e.path);
  if (list.length > 0) inventory[key] = list;
  else delete inventory[key];
}
