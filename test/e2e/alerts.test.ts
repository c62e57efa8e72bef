/**
 * Alerts that reach a person, end to end: the real `run` (default flags), real tmux, the simulator
 * as Claude Code, and the local stand-ins for Telegram and a webhook receiver. A session waiting
 * for input, a crash, and a stuck task each become one message on each channel, whatever the burst.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeTelegramServer, type FakeTelegramServer } from '../../src/demo/fake-telegram-server.js';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { runCli } from '../support/cli.js';
import { DaemonProcess, until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const TOKEN = '5550001:AAF-alerts-e2e-token';
const CHAT = -100424242;
const SECRET = 'alerts-e2e-webhook-secret';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ALERTS = ['SessionWaitingForInput', 'SessionExited', 'TaskStuck'] as const;

describe('alerts (run, default flags, fake Telegram and webhook)', () => {
  it('waiting for input, a crash and a stuck task each send exactly one message per channel, deduplicated and rate-limited under a burst', async () => {
    const tg: FakeTelegramServer = await startFakeTelegramServer({ tokens: [TOKEN], chats: [CHAT] });
    const hook: FakeWebhookServer = await startFakeWebhookServer({ secret: SECRET });
    cleanups.push(() => tg.close(), () => hook.close());
    // Claude Code's idle reminder after 2 s instead of 60 s: it counts only after a turn that was not a task.
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['s1', 's2'], simEnv: { CLAUDE_SIM_IDLE_NOTIFY_MS: '2000' } });
    cleanups.push(() => p.close());
    await p.setup({});
    const file = join(p.manifests, 'pool.yaml');
    const notifiers = [
      `apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: ops-telegram\nspec:\n  type: telegram\n  telegram:\n    botToken: {env: CF_TG_TOKEN}\n    chatId: ${CHAT}\n    apiBase: ${tg.url}\n`,
      `apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: ops-webhook\nspec:\n  type: webhook\n  webhook:\n    url: ${hook.url}/hooks/cf\n    secret: {env: CF_WH_SECRET}\n`,
    ];
    // A task silent for 5 s is stuck (the default, 20 min, is for real work); s2 takes no queue task.
    const manifests = readFileSync(file, 'utf8')
      .replace(`  path: ${join(p.root, 'project')}\n`, `  path: ${join(p.root, 'project')}\n  alerts:\n    stuckTaskAfter: 5s\n`)
      .replace('metadata:\n  name: s2\nspec:\n  project: p\n', 'metadata:\n  name: s2\nspec:\n  project: p\n  mode: dedicated\n');
    writeFileSync(file, [manifests, ...notifiers].join('---\n'));
    const d = new DaemonProcess(['-f', p.manifests, '--state-dir', p.stateDir, '--tmux-socket', p.tmux.socket], { CF_TG_TOKEN: TOKEN, CF_WH_SECRET: SECRET });
    p.daemon = d;
    await d.waitForLog((l) => l.msg === 'first reconcile done; controller running', 60_000);
    await p.waitIdle(['s1', 's2'], 'a', 60_000);
    const texts = (reason: string) => tg.messages.filter((m) => m.text.startsWith(`[claude-failover] ${reason} `)).map((m) => m.text);
    const hooks = (reason: string) => hook.deliveries().filter((h) => h.headers['x-cf-event'] === reason);
    const events = (reason: string) => p.events().filter((e) => e.reason === reason);

    // 1. Waiting for input: a burst of permission prompts (three tools in a row), then the idle reminder
    // after that turn; then the same again.
    const ask = ['Bash', 'Write', 'Edit'].map((tool) => `#sim notify permission_prompt Claude needs your permission to use ${tool}`).join('\n');
    await p.prompt('s1', ask);
    await until(() => events('SessionWaitingForInput').length >= 4, 30_000, 'three permission prompts and the idle reminder');
    await p.prompt('s1', ask);
    await until(() => events('SessionWaitingForInput').length >= 8, 30_000, 'the same again');
    await tg.waitForMessages(1, 15_000);
    expect(events('SessionWaitingForInput')[0]).toMatchObject({ key: 'Session/s1', type: 'Warning', message: 'waiting for a person (permission_prompt): a tool call waits for permission: Claude needs your permission to use Bash' });
    expect(events('SessionWaitingForInput')[3]).toMatchObject({ key: 'Session/s1', message: 'waiting for a person (idle_prompt): its last turn ended and it waits for a reply: Claude is waiting for your input' });

    // 2. A crash, three times in a row (one short of a crash loop): each is an event, one message.
    for (let i = 1; i <= 3; i++) {
      await p.prompt('s2', '#sim exit 3');
      await until(() => events('SessionExited').length >= i, 30_000, `crash ${i} recorded`);
      await until(() => (p.session('s2')?.restarts as number) >= i && p.session('s2')?.activity === 'idle', 60_000, `s2 relaunched after crash ${i}`);
    }
    expect(events('SessionExited')[0]).toMatchObject({ key: 'Session/s2', type: 'Warning', data: { exitStatus: 3 } });
    expect(events('SessionExited')[0]?.message).toMatch(/^tmux session "s2": the agent exited \(status 3\) after \d+s/);
    expect(events('SessionCrashLoop')).toEqual([]);

    // 3. A stuck task: the agent works on it without a sign of life for longer than stuckTaskAfter.
    const queue = join(p.root, 'project', '.agent-queue');
    const added = await runCli(['task', 'add', '--queue', queue, '--title', 'long silent build', '-'], { input: '# Long silent build\n\n#sim work 20000\n' });
    expect(added.code, added.stderr).toBe(0);
    const id = added.stdout.trim().split('\n').at(-1) as string;
    await until(() => events('TaskStuck').length >= 1, 60_000, 'TaskStuck');
    expect(events('TaskStuck')[0]).toMatchObject({ key: 'Project/p', type: 'Warning', data: { taskId: id, session: 's1', activity: 'working' } });
    expect(events('TaskStuck')[0]?.message).toMatch(new RegExp(`^task ${id} on session s1: no activity for \\d+s \\(dispatched \\d+s ago, attempt 1; the session is working\\); it is requeued after 2h without activity`));
    await until(() => p.status()['Project/p']?.counts !== undefined && (p.status()['Project/p']?.counts as { done: number }).done >= 1, 60_000, 'the task done');

    // Every alert reached each channel exactly once, however often it happened.
    await until(() => ALERTS.every((r) => texts(r).length >= 1 && hooks(r).length >= 1), 30_000, 'each alert on both channels');
    await new Promise((r) => setTimeout(r, 3000)); // anything still queued would arrive now
    for (const r of ALERTS) {
      expect(texts(r), r).toHaveLength(1);
      expect(hooks(r), r).toHaveLength(1);
      expect(hooks(r)[0]?.signatureValid).toBe(true);
    }
    // s1's reminders after its task turn, and s2's before any turn, are not alerts.
    expect(events('SessionWaitingForInput')).toHaveLength(8);
    expect(events('SessionExited')).toHaveLength(3);
    expect(events('TaskStuck')).toHaveLength(1);
    expect(texts('SessionWaitingForInput')[0]).toBe('[claude-failover] SessionWaitingForInput Session/s1: waiting for a person (permission_prompt): a tool call waits for permission: Claude needs your permission to use Bash');
    expect(texts('TaskStuck')[0]).toContain(`TaskStuck Project/p: task ${id} on session s1: no activity for`);
    expect(tg.messages.every((m) => m.chatId === CHAT && m.token === TOKEN)).toBe(true);
    // The Notifier's status counts what was held back: the burst of prompts and the repeated crashes.
    await until(() => ((p.status()['Notifier/ops-telegram']?.delivery as { rateLimited?: number } | undefined)?.rateLimited ?? 0) >= 8, 30_000, 'delivery stats');
    const delivery = p.status()['Notifier/ops-telegram']?.delivery as { sent: number; rateLimited: number; deduplicated: number };
    // Prompts: Bash sent; Write, Edit and the reminder held back; then Bash again is a duplicate of the
    // one sent; Write, Edit and the reminder held back again. Crashes: the first sent, two held back.
    expect(delivery).toMatchObject({ sent: 3, rateLimited: 8, deduplicated: 1 });
    expect(await d.stop()).toBe(0);
  }, 300_000);
});
