/**
 * Conformance with the REAL Claude Code CLI (version pinned in package.json), scenarios a, b, e of
 * issue 13: first launch without dialogs, tasks delivered byte-exact, status-line quota.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../support/daemon.js';
import { claudeVersionOutput } from '../../src/demo/real-claude.js';
import { REAL_CLAUDE, realPools } from './real-pool.js';
import { arbitraryText } from './text.js';

const pool = realPools();

const AB = [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }];

describe('real Claude Code: launch and delivery', () => {
  it('is the version package.json pins', () => {
    expect(claudeVersionOutput(REAL_CLAUDE.path)).toBe(`${REAL_CLAUDE.version} (Claude Code)`);
  });

  it('a+b: first launch in a fresh config dir leaves no dialog open; a multi-line and a 100 KB UTF-8 task arrive byte-exact and finish in done/', async () => {
    const p = await pool({ accounts: AB, sessions: ['s1'] });
    expect(existsSync(join(p.configDir('a'), '.claude.json'))).toBe(false); // a fresh account: never started
    // b. A multi-line task with everything a shell or a terminal could trip on, queued before the
    // controller starts: it is handed over as soon as the new session reports idle.
    const multi = [
      '# Fix the parser',
      '',
      '-leading dash; trailing semicolon;',
      '  indented $(not run) `ticks` "double" \'single\' $HOME \\',
      'back\\slash, brackets [x] {y} <z>, ünïcödé, 日本語, עברית, 😀 👨‍👩‍👧',
      '',
      'last line',
    ].join('\n');
    const first = await p.addTask('multi', multi);
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    const s1 = p.session('s1') as { activitySource?: string; conversationId?: string; panePid?: number };
    expect(s1.activitySource).toBe('hooks'); // idle because the real SessionStart hook said so
    await until(() => /bypass permissions on/.test(p.pane('s1')), 30_000, 'the TUI drawn');
    expect(p.pane('s1')).not.toMatch(/trust this folder|Welcome to Claude Code|Choose the text style|Yes, I accept|No, exit|Do you want/i);
    // The controller pre-answered the first-launch dialogs in the account's config dir.
    const claudeJson = JSON.parse(readFileSync(join(p.configDir('a'), '.claude.json'), 'utf8')) as { hasCompletedOnboarding?: boolean; projects?: Record<string, { hasTrustDialogAccepted?: boolean }> };
    expect(claudeJson.hasCompletedOnboarding).toBe(true);
    expect(claudeJson.projects?.[p.project]?.hasTrustDialogAccepted).toBe(true);


    // A 100 KB task of arbitrary UTF-8.
    const big = arbitraryText(100 * 1024, 13);
    expect(Buffer.byteLength(big)).toBeGreaterThanOrEqual(100 * 1024);
    const ids = [first, await p.addTask('big', big)];
    for (const [id, body] of [[ids[0], multi], [ids[1], big]] as const) {
      const req = await p.api.waitForRequest((r) => r.kind === 'turn' && r.step === 0 && (r.prompt ?? '').includes(`[cf-task:${id}]`), 120_000, `the turn of task ${id}`);
      // Byte-exact inside the user message (the real CLI wraps a long paste in <pasted_content>).
      expect(req.prompt?.includes(`\n${body}\n`), `task ${id} arrived altered`).toBe(true);
      expect(req.token).toBe(p.token('a'));
      expect(req.sessionId).toBe(s1.conversationId);
      expect(req.userAgent).toBe(`claude-cli/${REAL_CLAUDE.version} (external, cli)`);
      await until(() => existsSync(join(p.queue, 'done', `${id}.md`)), 60_000, `task ${id} in done/`);
    }
    expect(p.session('s1')?.lastCompletedTask).toBe(ids[1]);
    expect(await d.stop()).toBe(0);
  }, 300_000);

  it('e: the status line\'s rate_limits, from the real response headers, feed the account\'s usage (source statusline)', async () => {
    const p = await pool({ accounts: AB, sessions: ['s1'] });
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    // The usage endpoint is throttled for a; only the API responses tell the truth now.
    p.api.usage.failFor(p.token('a'), { status: 429, retryAfter: 3600 });
    p.api.setApiWindows(p.token('a'), { fiveHour: 37, sevenDay: 12 });
    const id = await p.addTask('quota', 'Say hello.');
    await until(() => existsSync(join(p.queue, 'done', `${id}.md`)), 90_000, 'task done');
    await until(() => {
      const u = (p.status()['Account/a'] as { usage?: { fiveHour?: { utilization: number; source: string }; sevenDay?: { utilization: number; source: string } } } | undefined)?.usage;
      return u?.fiveHour?.source === 'statusline' && u.fiveHour.utilization === 37 && u.sevenDay?.utilization === 12;
    }, 30_000, 'account a usage from the status line');
    const rl = p.session('s1')?.rateLimits as { five_hour?: { used_percentage?: number }; account?: string } | undefined;
    expect(rl?.five_hour?.used_percentage).toBe(37);
    expect(rl?.account).toBe('a');
    expect(await d.stop()).toBe(0);
  }, 240_000);

  it('the idle reminder: Notification idle_prompt (no permission_mode) about a minute after a turn; the session stays idle and, after a turn that was no queue task, the controller says it waits for a person', async () => {
    const p = await pool({ accounts: AB, sessions: ['s1'] });
    const d = p.start();
    await p.waitReady(['s1'], 'a', 90_000);
    await p.prompt('s1', 'a question for a person');
    await until(() => p.hookInputs('s1').some((h) => h.hook_event_name === 'Notification'), 150_000, 'the idle Notification');
    const n = p.hookInputs('s1').find((h) => h.hook_event_name === 'Notification');
    expect(n).toEqual({ session_id: p.session('s1')?.conversationId, transcript_path: expect.any(String), cwd: p.project, prompt_id: expect.any(String), hook_event_name: 'Notification', message: 'Claude is waiting for your input', notification_type: 'idle_prompt' });
    await until(() => p.events().some((e) => e.reason === 'SessionWaitingForInput'), 30_000, 'SessionWaitingForInput');
    expect(p.events().find((e) => e.reason === 'SessionWaitingForInput')?.message).toMatch(/idle_prompt/);
    expect(p.session('s1')?.activity).toBe('idle');
    expect(await d.stop()).toBe(0);
  }, 240_000);
});
