/**
 * What the REAL Claude Code CLI makes of pasted text (tabs, line breaks, invisible characters,
 * long pastes), case by case, against the table the simulator follows (test/support/paste-cases.ts).
 * A difference here is a simulator difference: fix src/sim/prompt-text.ts and the table together.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASTE_CASES, QUEUED_PASTE_CASES, withPasteId } from '../support/paste-cases.js';
import { RealPool } from './real-pool.js';

let p: RealPool;
beforeAll(async () => {
  p = new RealPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['s1'] });
  await p.setup();
  p.start();
  await p.waitReady(['s1'], 'a', 90_000);
}, 120_000);
afterEach(({ task }) => {
  if (task.result?.state === 'fail') console.error(p.diagnostics());
});
afterAll(async () => {
  await p?.close();
});

describe('real Claude Code: a pasted prompt', () => {
  it.each(PASTE_CASES)('$name', async ({ pasted, prompt }) => {
    await p.waitIdle(['s1'], 'a', 60_000);
    await p.waitQuiet('s1');
    const before = p.api.requests.length;
    await p.prompt('s1', pasted);
    const r = await p.api.waitForRequest((x) => x.seq > before && x.kind === 'turn' && x.step === 0, 60_000, 'the turn');
    expect(withPasteId(r.prompt ?? '')).toBe(prompt);
  }, 90_000);

  it.each(QUEUED_PASTE_CASES)('$name', async ({ pasted, prompt }) => {
    await p.waitIdle(['s1'], 'a', 60_000);
    await p.waitQuiet('s1');
    const before = p.api.requests.length;
    await p.prompt('s1', 'a long turn\n#sim work 5000');
    await p.api.waitForRequest((x) => x.seq > before && x.kind === 'turn' && (x.prompt ?? '').includes('a long turn'), 60_000, 'the long turn');
    const queuedAt = p.api.requests.length;
    await p.prompt('s1', pasted);
    const r = await p.api.waitForRequest((x) => x.seq > queuedAt && x.kind === 'turn' && x.step === 0 && !(x.prompt ?? '').includes('a long turn'), 60_000, 'the queued turn');
    expect(withPasteId(r.prompt ?? '')).toBe(prompt);
  }, 90_000);
});
