/**
 * `claude-failover send` against a real controller (`run`, default flags) with simulator agents on
 * a private tmux server: the text reaches the agent through the task delivery path (the simulator
 * records the sha256 of what it received), a working agent refuses it unless --queue, the text comes
 * from an argument, --file or stdin, and every attempt is in the audit file and the event log.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SEND_AUDIT_FILE } from '../../src/runtime/session-send.js';
import { runCli } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) {
    await p.daemon?.stop('SIGTERM');
    await p.close();
  }
});

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('claude-failover send', () => {
  it('types text into an idle agent, refuses a working one unless --queue, and audits every attempt', async () => {
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }], sessions: ['s1'], simEnv: { CLAUDE_SIM_WORK_MS: '300', CLAUDE_SIM_READ_TASK_FILES: '0' } });
    pools.push(p);
    await p.setup({ a: { fiveHour: 10, sevenDay: 10 } });
    const d = p.start();
    await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
    await p.waitIdle(['s1']);
    const env = { CLAUDE_FAILOVER_STATE_DIR: p.stateDir };
    const received = (text: string) => p.sim().find((r) => r.type === 'received' && r.sha256 === sha(text));

    // From an argument, to an idle agent: submitted as a prompt, and the agent starts working on it
    // (a long turn, `#sim work`, so that it is still working when the next two texts come).
    const first = 'Please look at the failing test — "quotes", $(not expanded) ; done?\n#sim work 20000';
    const r1 = await runCli(['send', 's1', first], { env });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toBe(`text delivered to s1 (${Buffer.byteLength(first)} bytes, sha256 ${sha(first)})\n`);
    await until(() => received(first) !== undefined, 10_000, 'first text received');
    expect(received(first)).toMatchObject({ bytes: Buffer.byteLength(first), queued: false, pasted: true });
    await until(() => p.session('s1')?.activity === 'working', 15_000, 's1 working on the sent text');

    // While it works: refused (exit 1, the controller's code and message), nothing typed.
    const busy = 'this must not be typed';
    const r2 = await runCli(['send', 's1', busy], { env });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^claude-failover send: CF_API_CONFLICT: session s1 is working; pass queue: true \(CLI: --queue\)/);
    // With --queue, from stdin: Claude Code queues it behind the turn.
    const queued = 'after this turn, summarise what you did\n';
    const r3 = await runCli(['send', 's1', '--queue', '-o', 'json'], { env, input: queued });
    expect(r3.code, r3.stderr).toBe(0);
    expect(JSON.parse(r3.stdout)).toMatchObject({ delivered: true, session: 's1', queued: true, sha256: sha(queued) });
    await until(() => received(queued) !== undefined, 10_000, 'queued text received');
    expect(received(queued)?.queued).toBe(true);
    expect(received(busy)).toBeUndefined();

    // From a file, once the agent is idle again.
    await until(() => p.session('s1')?.activity === 'idle' && Number(p.session('s1')?.turns) >= 2, 60_000, 's1 idle after both turns');
    const file = join(p.root, 'note.md');
    const fromFile = '# Note\r\nA file with CRLF line endings and ünïcödé.\r\n';
    writeFileSync(file, fromFile);
    const r4 = await runCli(['send', 's1', '--file', file], { env });
    expect(r4.code, r4.stderr).toBe(0);
    await until(() => received(fromFile) !== undefined, 10_000, 'file text received');

    // Unknown session, bad text, and usage errors.
    const ghost = await runCli(['send', 'ghost', 'hello'], { env });
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/CF_API_OBJECT_NOT_FOUND: Session "ghost" not found/);
    const ctl = await runCli(['send', 's1', 'press \u001b[201~ this'], { env });
    expect(ctl.code).toBe(1);
    expect(ctl.stderr).toMatch(/CF_API_BAD_REQUEST: the text holds 1 control character/);
    const both = await runCli(['send', 's1', 'x', '--file', file], { env });
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/give the text either as an argument or with --file, not both/);

    // The audit: every attempt, with who and the sha256, never the text; mode 0600.
    const auditPath = join(p.stateDir, SEND_AUDIT_FILE);
    expect(statSync(auditPath).mode & 0o777).toBe(0o600);
    const raw = readFileSync(auditPath, 'utf8');
    for (const t of [first, busy, queued, fromFile]) expect(raw).not.toContain(t.trim().slice(0, 20));
    const lines = raw.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const of = (text: string) => lines.filter((l) => l.sha256 === sha(text)).map((l) => l.outcome);
    expect(of(first)).toEqual(['accepted']);
    expect(of(busy)).toEqual(['refused']);
    expect(of(queued)).toEqual(['accepted']);
    expect(of(fromFile)).toEqual(['accepted']);
    expect(lines.filter((l) => l.outcome === 'delivered')).toHaveLength(3);
    const token = readFileSync(join(p.stateDir, 'api-token'), 'utf8').trim();
    expect(raw).not.toContain(token);
    expect(lines.find((l) => l.sha256 === sha(first))).toMatchObject({ session: 's1', token: `sha256:${sha(token).slice(0, 12)}`, client: expect.stringMatching(/^claude-failover-cli\/\S+ send$/), remote: '127.0.0.1', queue: false });
    const sent = p.events().filter((e) => e.reason === 'TextSent');
    expect(sent.map((e) => [e.key, e.data?.sha256, e.data?.queued])).toEqual([['Session/s1', sha(first), false], ['Session/s1', sha(queued), true], ['Session/s1', sha(fromFile), false]]);

    expect(await d.stop('SIGTERM')).toBe(0);
    const down = await runCli(['send', 's1', 'hello'], { env });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/CF_ERR_NO_CONTROLLER: no running controller found/);
  }, 180_000);
});
