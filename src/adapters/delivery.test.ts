import { describe, expect, it } from 'vitest';
import type { TmuxPort } from '../core/ports.js';
import { deliverPrompt } from './delivery.js';

/** A pane that shows what was pasted and submitted; every call is recorded in order. */
function fakePane(): { tmux: TmuxPort; ops: string[] } {
  const ops: string[] = [];
  const screens = new Map<string, string>();
  const unused = () => Promise.reject(new Error('not used by delivery'));
  const tmux: TmuxPort = {
    listSessions: () => Promise.resolve([]),
    newSession: unused,
    killSession: unused,
    sendSequence: unused,
    setOption: unused,
    pasteText: async (name, text) => {
      ops.push(`paste ${name} ${text}`);
      screens.set(name, `${screens.get(name) ?? ''}${text}`);
    },
    sendKeys: async (name, keys) => {
      ops.push(`keys ${name} ${keys.join(' ')}`);
      screens.set(name, `${screens.get(name) ?? ''}⏎`);
    },
    capturePane: async (name) => screens.get(name) ?? '',
  };
  return { tmux, ops };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('deliverPrompt', () => {
  it('delivers to one session one text at a time: paste, Enter, then the next paste', async () => {
    const { tmux, ops } = fakePane();
    const opts = { sleep: tick, enterDelayMs: 0, pollMs: 0 };
    await Promise.all([deliverPrompt(tmux, 's1', 'first', opts), deliverPrompt(tmux, 's1', 'second', opts), deliverPrompt(tmux, 's2', 'other', opts)]);
    const s1 = ops.filter((o) => o.includes(' s1 '));
    expect(s1).toEqual(['paste s1 first', 'keys s1 Enter', 'paste s1 second', 'keys s1 Enter']);
    expect(ops.filter((o) => o.includes(' s2 '))).toEqual(['paste s2 other', 'keys s2 Enter']);
    // Sessions do not wait for each other: s2's paste comes before s1's second one.
    expect(ops.indexOf('paste s2 other')).toBeLessThan(ops.indexOf('paste s1 second'));
  });

  it('a failed delivery does not block the next one to the same session', async () => {
    const { tmux, ops } = fakePane();
    const failing: TmuxPort = { ...tmux, pasteText: async (name, text) => (text === 'bad' ? Promise.reject(new Error('pane is dead')) : tmux.pasteText(name, text)) };
    const opts = { sleep: tick, enterDelayMs: 0, pollMs: 0 };
    const [a, b] = await Promise.allSettled([deliverPrompt(failing, 's1', 'bad', opts), deliverPrompt(failing, 's1', 'good', opts)]);
    expect(a.status).toBe('rejected');
    expect(b).toMatchObject({ status: 'fulfilled', value: { enters: 1 } });
    expect(ops).toEqual(['paste s1 good', 'keys s1 Enter']);
  });
});
