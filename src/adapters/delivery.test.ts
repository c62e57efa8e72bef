import { describe, expect, it } from 'vitest';
import type { TmuxPort } from '../core/ports.js';
import { deliverPrompt } from './delivery.js';

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

  constructor(readonly lagReads: number) {}

  #read(): void {
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
        return `${this.submitted.map((s) => `> ${s}\n● Done`).join('\n')}\n╭──╮\n│ > ${this.input} │\n╰──╯`;
      },
    };
  }
}

describe('deliverPrompt', () => {
  const fast = { sleep: async () => {}, enterDelayMs: 0 };

  it.each([0, 1, 3, 10, 40])('submits the prompt once when the agent reads its input %i captures late', async (lag) => {
    const agent = new LaggingAgent(lag);
    let t = 0;
    const r = await deliverPrompt(agent.port(), 's', 'task text', { ...fast, now: () => (t += 10) });
    expect(agent.submitted).toEqual(['task text']);
    expect(agent.input).toBe('');
    expect(r.enters).toBe(1);
  });

  it('sends Enter anyway when the pane never shows the paste, and reports an unconfirmed delivery', async () => {
    const agent = new LaggingAgent(Number.MAX_SAFE_INTEGER);
    let t = 0;
    await expect(deliverPrompt(agent.port(), 's', 'x', { ...fast, now: () => (t += 10), pasteShownMs: 200, verifyMs: 100 })).rejects.toThrow(/did not change/);
    expect(agent.calls).toEqual(['paste', 'Enter', 'Enter']);
  });
});
