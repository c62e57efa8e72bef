/**
 * Conformance with the REAL Claude Code CLI, scenarios c and d of issue 13: the pool fails over
 * (usage endpoint over the threshold; a 429 only the agent sees) and every conversation resumes
 * under the next account's token.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FakeApiRequest, FakeMessage } from '../../src/demo/fake-anthropic-server.js';
import { messageText } from '../../src/demo/fake-anthropic-server.js';
import { until } from '../support/daemon.js';
import { realPools } from './real-pool.js';

const pool = realPools();

const AB = [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }];

const turnOf = (id: string) => (r: FakeApiRequest) => r.kind === 'turn' && r.step === 0 && (r.prompt ?? '').includes(`[cf-task:${id}]`);

/** Every user and assistant text the request carries (the conversation so far). */
function conversationTexts(r: FakeApiRequest): string[] {
  return (r.messages ?? []).filter((m: FakeMessage) => m.role === 'user' || m.role === 'assistant').map((m) => messageText(m));
}

describe('real Claude Code: failover', () => {
  it('c: the usage endpoint crosses the threshold: every session resumes its own conversation under the next account, whose token carries the earlier turns', async () => {
    const sessions = ['s1', 's2'];
    const p = await pool({ accounts: AB, sessions });
    const d = p.start();
    await p.waitReady(sessions, 'a', 90_000);
    // One turn per session on a, each in its own conversation.
    for (const s of sessions) await p.prompt(s, `remember the word ${s}-marmalade`);
    await until(() => sessions.every((s) => p.api.requests.some((r) => r.kind === 'turn' && r.prompt === `remember the word ${s}-marmalade` && r.status === 200)), 60_000, 'first turns');
    await until(() => sessions.every((s) => (p.session(s)?.turns as number) >= 1 && p.session(s)?.activity === 'idle'), 60_000, 'first turns ended');
    const conv = Object.fromEntries(sessions.map((s) => [s, p.session(s)?.conversationId as string]));
    expect(new Set(Object.values(conv)).size).toBe(2);

    p.api.setWindows(p.token('a'), { fiveHour: 95, sevenDay: 40 });
    await until(() => p.active() === 'b', 60_000, 'b active');
    await p.waitIdle(sessions, 'b', 120_000);
    for (const s of sessions) {
      const st = p.session(s) as { conversationId?: string; launch?: { conversation?: string; env?: Record<string, string> } };
      expect(st.conversationId).toBe(conv[s]);
      expect(st.launch?.conversation).toBe(`--resume ${conv[s]}`);
      expect(st.launch?.env?.CLAUDE_CONFIG_DIR).toBe(p.configDir('b'));
    }
    // The next task on each session: b's token, the same conversation, the earlier turns included.
    for (const s of sessions) {
      const before = p.api.requests.length;
      await p.prompt(s, `what was the word? (${s})`);
      const r = await p.api.waitForRequest((x) => x.seq > before && x.kind === 'turn' && x.prompt === `what was the word? (${s})`, 60_000, `the next turn of ${s}`);
      expect(r.token).toBe(p.token('b'));
      expect(r.sessionId).toBe(conv[s]);
      const texts = conversationTexts(r);
      expect(texts).toContain(`remember the word ${s}-marmalade`);
      expect(texts).toContain(`Done: remember the word ${s}-marmalade`);
      expect(texts.join('\n')).not.toContain(sessions.find((o) => o !== s) as string);
    }
    expect(p.events().filter((e) => e.reason === 'FailoverStarted').map((e) => e.message)).toEqual([expect.stringMatching(/from a to b/)]);
    // Each process on a exited on the stop sequence, not killed when the grace period ran out.
    for (const s of sessions) expect(p.sessionEnds(s), `${s} SessionEnd`).toEqual(['prompt_input_exit']);
    expect(await d.stop()).toBe(0);
  }, 300_000);

  it('d: a 429 only the agent sees (usage endpoint still low) fails the pool over; the interrupted task is finished on the next account', async () => {
    const p = await pool({ accounts: AB, sessions: ['s1'] });
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    const conversation = p.session('s1')?.conversationId as string;
    // The API rejects a's requests; its usage endpoint keeps saying 10 %.
    p.api.setApiWindows(p.token('a'), { fiveHour: 100, sevenDay: 40 });
    const id = await p.addTask('limited', 'Write the release notes.');
    const rejected = await p.api.waitForRequest(turnOf(id), 90_000, 'the task turn on a');
    expect([rejected.token, rejected.status]).toEqual([p.token('a'), 429]);
    await until(() => p.active() === 'b', 60_000, 'b active');
    const started = p.events().find((e) => e.reason === 'FailoverStarted');
    expect(started?.message).toMatch(/from a to b/);
    expect(JSON.stringify(started?.data)).toMatch(/stop-failure/);
    // Continued on b, in the same conversation, and finished.
    const continued = await p.api.waitForRequest((r) => turnOf(id)(r) && r.token === p.token('b') && r.status === 200, 120_000, 'the task continued on b');
    expect(continued.sessionId).toBe(conversation);
    expect(continued.prompt).toContain(`Continue task ${id}`);
    await until(() => existsSync(join(p.queue, 'done', `${id}.md`)), 60_000, 'task done');
    const footer = readFileSync(join(p.queue, 'done', `${id}.md`), 'utf8');
    expect(footer).toContain(`conversation: ${conversation}`);
    // The process stopped at its limit message exited on the stop sequence.
    expect(p.sessionEnds('s1')).toEqual(['prompt_input_exit']);
    // The usage endpoint never said a was out.
    expect(p.api.usage.requests.filter((r) => r.token === p.token('a')).every((r) => r.status === 200)).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 300_000);
});
