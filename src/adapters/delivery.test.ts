import { describe, expect, it } from 'vitest';
import type { TmuxPort } from '../core/ports.js';
import { deliverPrompt, pasteMarker } from './delivery.js';

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

/**
 * A terminal that reads its input late, like a Claude Code that is busy starting up: bytes sent to
 * the pane are read `lagReads` pane captures later. As Claude Code does, an Enter read together
 * with a paste is part of the paste (a line break), a lone Enter submits.
 */
class LaggingAgent {
  readonly calls: string[] = [];
  #pending: ({ paste: string } | { enter: true })[] = [];
  #since = 0;
  input = '';
  submitted: string[] = [];

  #captures = 0;

  /** `busyCaptures`: captures during which it shows a spinner (a frame every 3rd) and reads nothing. */
  constructor(readonly lagReads: number, readonly busyCaptures = 0, readonly rows = Infinity) {}

  #read(): void {
    if (++this.#captures <= this.busyCaptures) return;
    if (this.#pending.length === 0 || ++this.#since < this.lagReads) return;
    const chunk = this.#pending.splice(0);
    this.#since = 0;
    const pasted = chunk.some((c) => 'paste' in c);
    for (const c of chunk) {
      if ('paste' in c) this.input += c.paste;
      else if (pasted) this.input += '\n';
      else {
        this.submitted.push(this.input);
        this.input = '';
      }
    }
  }

  port(): TmuxPort {
    const unused = async (): Promise<never> => {
      throw new Error('not used by delivery');
    };
    return {
      listSessions: unused,
      newSession: unused,
      killSession: unused,
      sendSequence: unused,
      setOption: unused,
      pasteText: async (_n, text) => {
        this.calls.push('paste');
        this.#pending.push({ paste: text });
      },
      sendKeys: async (_n, keys) => {
        this.calls.push(keys.join(' '));
        for (const k of keys) if (k === 'Enter') this.#pending.push({ enter: true });
      },
      capturePane: async () => {
        this.#read();
        const spinner = this.#captures <= this.busyCaptures ? `✻ Starting… ${Math.floor(this.#captures / 3)}\n` : '';
        const screen = `${spinner}${this.submitted.map((s) => `> ${s}\n● Done`).join('\n')}\n╭──╮\n│ > ${this.input} │\n╰──╯`;
        // A pane of `rows` lines shows the bottom of the screen: earlier lines scroll off the top.
        return screen.split('\n').slice(-this.rows).join('\n');
      },
    };
  }
}

describe('deliverPrompt: an agent that reads its input late', () => {
  const fast = { sleep: async () => {}, enterDelayMs: 0 };

  it.each([0, 1, 3, 10, 40])('submits the prompt once when the agent reads its input %i captures late', async (lag) => {
    const agent = new LaggingAgent(lag);
    let t = 0;
    const r = await deliverPrompt(agent.port(), 's', 'task text', { ...fast, now: () => (t += 10) });
    expect(agent.submitted).toEqual(['task text']);
    expect(agent.input).toBe('');
    expect(r.enters).toBe(1);
  });

  it.each([10, 60])('waits for the paste to show, not for a pause in a busy agent\'s spinner (busy for %i captures)', async (busy) => {
    const agent = new LaggingAgent(0, busy);
    let t = 0;
    await deliverPrompt(agent.port(), 's', '[cf-task:t-1] Task t-1 from the queue.\nbody', { ...fast, now: () => (t += 10) });
    expect(agent.submitted).toEqual(['[cf-task:t-1] Task t-1 from the queue.\nbody']);
  });

  it('a full pane that scrolls: each task\'s paste is seen at once, though every prompt starts with the same 16 characters', async () => {
    const agent = new LaggingAgent(1, 0, 12);
    let t = 0;
    for (let i = 0; i < 30; i++) {
      const text = `[cf-task:chaos-${String(i).padStart(5, '0')}] Task chaos-${String(i).padStart(5, '0')} from the queue.\nbody`;
      const start = t;
      await deliverPrompt(agent.port(), 's', text, { ...fast, now: () => (t += 10) });
      expect(agent.submitted.at(-1)).toBe(text);
      // Virtual time: waiting out pasteShownMs (10 s) would take 1,000 ticks of 10 ms.
      expect(t - start, `delivery ${i}`).toBeLessThan(1000);
    }
  });

  it.each<[string, string | undefined]>([
    ['[cf-task:t-1] Task t-1 from the claude-failover queue.', '[cf-task:t-1] Task t-1 from the claude-f'],
    ['[cf-task:chaos-00011] Task chaos-00011 from the claude-failover queue.', '[cf-task:chaos-00011] Task chaos-00011 f'],
    ['\n\n  hello world  \nmore', 'hello world'],
    ['abc', undefined],
    ['日本語のタスク', undefined],
    ['\u00e9t\u00e9', undefined],
  ])('pasteMarker(%j) = %j', (text, marker) => {
    expect(pasteMarker(text)).toBe(marker);
  });

  it('sends Enter anyway when the pane never shows the paste, and reports an unconfirmed delivery', async () => {
    const agent = new LaggingAgent(Number.MAX_SAFE_INTEGER);
    let t = 0;
    await expect(deliverPrompt(agent.port(), 's', 'x', { ...fast, now: () => (t += 10), pasteShownMs: 200, verifyMs: 100 })).rejects.toThrow(/did not change/);
    expect(agent.calls).toEqual(['paste', 'Enter', 'Enter']);
  });
});
