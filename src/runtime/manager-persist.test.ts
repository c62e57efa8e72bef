import { describe, expect, it } from 'vitest';
import { systemTimers, type StateStore, type TmuxPort } from '../core/ports.js';
import { Executor } from './executor.js';
import { Manager, STATUS_RECORD } from './manager.js';

/**
 * A state store whose status writes finish when the test says: the first write is held, so an
 * unserialized second write (of a newer state) would land first and be overwritten by the older.
 */
function heldStore() {
  const landed: unknown[] = [];
  const started: unknown[] = [];
  const gates: (() => void)[] = [];
  const store: StateStore = {
    dir: '/nowhere',
    read: async () => undefined,
    append: async () => {},
    readLines: async () => [],
    write: async (name, value) => {
      if (name !== STATUS_RECORD) return;
      started.push(structuredClone(value));
      await new Promise<void>((release) => gates.push(release));
      landed.push(structuredClone(value));
    },
  };
  return { store, landed, started, gates };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Manager.persist', () => {
  it('writes one state at a time and the latest last; callers during a write share the next one, which has their state', async () => {
    const { store, landed, started, gates } = heldStore();
    const m = new Manager({ controllers: {}, executor: new Executor({ tmux: {} as TmuxPort, store, timers: systemTimers }), stateStore: store });
    const status = (n: number) => ({ 'Session/s1': { observedGeneration: 'g', conditions: [], launches: n } });
    m.store.update((d) => { d.status = status(1); });
    const first = m.persist();
    await tick();
    m.store.update((d) => { d.status = status(2); });
    const second = m.persist();
    m.store.update((d) => { d.status = status(3); });
    const third = m.persist();
    await tick();
    // The second write waits for the first; the two callers during it share one write.
    expect(started).toEqual([status(1)]);
    gates.shift()?.();
    await first;
    await tick();
    expect(started).toEqual([status(1), status(3)]);
    gates.shift()?.();
    await Promise.all([second, third]);
    expect(landed).toEqual([status(1), status(3)]);
    // Idle again: the next call writes at once.
    const fourth = m.persist();
    await tick();
    expect(started).toHaveLength(3);
    gates.shift()?.();
    await fourth;
  });

  it('a failed write fails its callers; the next write still runs', async () => {
    let calls = 0;
    const store: StateStore = {
      dir: '/nowhere', read: async () => undefined, append: async () => {}, readLines: async () => [],
      write: async (name) => {
        if (name === STATUS_RECORD && ++calls === 1) throw new Error('disk full');
      },
    };
    const m = new Manager({ controllers: {}, executor: new Executor({ tmux: {} as TmuxPort, store, timers: systemTimers }), stateStore: store });
    const first = m.persist();
    const second = m.persist();
    await expect(first).rejects.toThrow('disk full');
    await expect(second).resolves.toBeUndefined();
    expect(calls).toBe(2);
  });
});
