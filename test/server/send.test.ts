/**
 * `POST /api/v1/sessions/:name/send` and `POST /api/v1/tasks` through inject(), on a real
 * controller (wiring, Manager, a private tmux server running simulator sessions, a temp state dir):
 * the text reaches the agent byte for byte with the task delivery path, is refused for unknown,
 * stopped, suspended and foreign sessions and for text a terminal cannot carry, and every attempt is
 * audited (sha256, never the text). The refusal while an agent works needs the hooks of the built
 * CLI (in-process tests run the sources): it is tested end to end in test/e2e/send.test.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SEND_AUDIT_FILE } from '../../src/runtime/session-send.js';
import { tokenFingerprint } from '../../src/server/caller.js';
import { until } from '../support/daemon.js';
import { tempDir } from '../support/manifests.js';
import { AUTH, harness, TOKEN, type Harness, events } from './helpers.js';

const open: Harness[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.cleanup();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

interface SimRecord {
  type: string;
  sha256?: string;
  bytes?: number;
  queued?: boolean;
  preview?: string;
}

/** A harness whose simulator sessions log to one file; `workMs` is how long a turn takes. */
async function setup(sessions: { name: string; extra?: string }[], workMs = 300): Promise<{ h: Harness; sim: () => SimRecord[] }> {
  const logDir = tempDir('sendlog');
  dirs.push(logDir);
  const log = join(logDir, 'sim.jsonl');
  const env = `  env:\n    CLAUDE_SIM_LOG: "${log}"\n    CLAUDE_SIM_WORK_MS: "${workMs}"\n    CLAUDE_SIM_IDLE_NOTIFY_MS: "0"\n    CLAUDE_SIM_READ_TASK_FILES: "0"\n`;
  const h = await harness({ sessions: sessions.map((s) => ({ name: s.name, extra: `${env}${s.extra ?? ''}` })) });
  open.push(h);
  const sim = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SimRecord) : []);
  return { h, sim };
}

/** Reconciles until `pred` holds for the session's status. */
async function reconcileUntil(h: Harness, session: string, pred: (st: Record<string, unknown>) => boolean, what: string): Promise<void> {
  await until(async () => {
    await h.wired.manager.runOnce({ dryRun: false, prune: false });
    return pred(h.wired.manager.store.state.status[`Session/${session}`] ?? {});
  }, 30_000, what);
}

const idle = (st: Record<string, unknown>) => st.activity === 'idle';

function audit(h: Harness): Record<string, unknown>[] {
  const p = join(h.stateDir, SEND_AUDIT_FILE);
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : [];
}

const send = (h: Harness, name: string, payload: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url: `/api/v1/sessions/${name}/send`, headers: { ...AUTH, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload) });

describe('POST /api/v1/sessions/:name/send', () => {
  it('types the text into an idle session byte for byte; the send is audited (sha256, never the text) and recorded as an event', async () => {
    const { h, sim } = await setup([{ name: 's1' }]);
    await reconcileUntil(h, 's1', idle, 's1 idle');
    const text = 'Also run the linter — then say "done" 👩🏽‍💻\r\nline two; $(not run) -x\n\tindented';
    const res = await send(h, 's1', { text }, { 'user-agent': 'conductor-test/1.0' });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Record<string, unknown>>();
    expect(body).toMatchObject({ delivered: true, session: 's1', queued: false, sha256: sha(text), bytes: Buffer.byteLength(text) });
    expect([1, 2]).toContain(body.enters);

    // The simulator received exactly these bytes, as a submitted prompt (not queued).
    await until(() => sim().some((r) => r.type === 'received' && r.sha256 === sha(text)), 10_000, 'text received by the agent');
    expect(sim().find((r) => r.type === 'received' && r.sha256 === sha(text))).toMatchObject({ bytes: Buffer.byteLength(text), queued: false });

    const lines = audit(h);
    expect(lines.map((l) => l.outcome)).toEqual(['accepted', 'delivered']);
    expect(lines[0]).toMatchObject({ id: body.auditId, session: 's1', sha256: sha(text), bytes: Buffer.byteLength(text), queue: false, queued: false, token: tokenFingerprint(TOKEN), client: 'conductor-test/1.0', remote: '127.0.0.1' });
    expect(lines[1]).toMatchObject({ id: body.auditId, session: 's1', outcome: 'delivered', enters: body.enters });
    expect(Date.parse(String(lines[0]?.time))).toBeGreaterThan(Date.now() - 60_000);
    expect(statSync(join(h.stateDir, SEND_AUDIT_FILE)).mode & 0o777).toBe(0o600);
    expect(tokenFingerprint(TOKEN)).toMatch(/^sha256:[0-9a-f]{12}$/);
    const ev = events(h).find((e) => e.reason === 'TextSent');
    expect(ev).toMatchObject({ key: 'Session/s1', type: 'Normal', data: { sha256: sha(text), bytes: Buffer.byteLength(text), queued: false, auditId: body.auditId, token: tokenFingerprint(TOKEN), client: 'conductor-test/1.0' } });
    // Neither the audit file nor the event log holds the text, nor the token.
    for (const f of [join(h.stateDir, SEND_AUDIT_FILE), join(h.stateDir, 'events.jsonl')]) {
      const raw = readFileSync(f, 'utf8');
      expect(raw).not.toContain('linter');
      expect(raw).not.toContain(TOKEN);
    }
  }, 90_000);

  it('refuses unknown (404), not running, suspended and foreign sessions (409), and text it cannot type (400)', async () => {
    const { h } = await setup([{ name: 's1' }, { name: 's2' }, { name: 's3', extra: '  suspended: true\n' }]);
    const ghost = await send(h, 'ghost', { text: 'hello' });
    expect(ghost.statusCode).toBe(404);
    expect(ghost.json()).toEqual({ error: { code: 'CF_API_OBJECT_NOT_FOUND', message: 'Session "ghost" not found' } });

    // Declared but never launched: no tmux session.
    const notRunning = await send(h, 's1', { text: 'hello' });
    expect(notRunning.statusCode).toBe(409);
    expect(notRunning.json()).toMatchObject({ error: { code: 'CF_API_CONFLICT', message: expect.stringMatching(/^session s1 is not running/) } });

    await reconcileUntil(h, 's1', idle, 's1 idle');
    await reconcileUntil(h, 's2', idle, 's2 idle');
    const suspended = await send(h, 's3', { text: 'hello', queue: true });
    expect(suspended.statusCode).toBe(409);
    expect(suspended.json<{ error: { message: string } }>().error.message).toMatch(/is suspended/);

    // s2 replaced by a foreign tmux session with the same name: never typed into.
    h.tmux.run(['kill-session', '-t', '=s2']);
    expect(h.tmux.run(['new-session', '-d', '-s', 's2', 'cat']).status).toBe(0);
    const foreign = await send(h, 's2', { text: 'hello', queue: true });
    expect(foreign.statusCode).toBe(409);
    expect(foreign.json<{ error: { message: string } }>().error.message).toMatch(/not started by this controller/);
    expect(h.tmux.run(['capture-pane', '-p', '-t', '=s2:']).stdout).not.toContain('hello');

    // The agent dies: its pane stays (remain-on-exit) but nothing is typed.
    h.tmux.run(['respawn-pane', '-k', '-t', '=s1:', 'true']);
    await until(() => h.tmux.run(['display-message', '-p', '-t', '=s1:', '#{pane_dead}']).stdout.trim() === '1', 10_000, 's1 pane dead');
    const dead = await send(h, 's1', { text: 'hello' });
    expect(dead.statusCode).toBe(409);
    expect(dead.json<{ error: { message: string } }>().error.message).toMatch(/is not running/);

    const bad: [unknown, RegExp][] = [
      [null, /must be a JSON object/],
      [[{ text: 'x' }], /must be a JSON object/],
      ['hello', /must be a JSON object/],
      [5, /must be a JSON object/],
      [{}, /^text: text is required/],
      [{ text: 5 }, /^text: /],
      [{ text: 'x', queue: 'yes' }, /^queue: /],
      [{ text: 'x', from: 'me' }, /unknown field in body: "from"/],
      [{ text: 'press \u001b[201~ keys' }, /control character/],
      [{ text: 'do [cf-task:t-1] now' }, /task marker/],
      [{ text: '   ' }, /empty/],
    ];
    for (const [payload, message] of bad) {
      const res = await send(h, 's1', payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json<{ error: { code: string; message: string } }>().error, JSON.stringify(payload)).toMatchObject({ code: 'CF_API_BAD_REQUEST', message: expect.stringMatching(message) });
    }
    // Text refused for its content is audited too; a malformed body never reached the session logic.
    expect(audit(h).filter((l) => l.session === 's1' && l.outcome === 'refused').map((l) => l.reason)).toEqual([
      expect.stringMatching(/not running/), expect.stringMatching(/not running/), expect.stringMatching(/control character/), expect.stringMatching(/task marker/), expect.stringMatching(/empty/),
    ]);
    expect(events(h).filter((e) => e.reason === 'TextSent')).toEqual([]);
  }, 90_000);

  it('needs the token', async () => {
    const { h } = await setup([{ name: 's1' }]);
    for (const headers of [{ authorization: '' }, { authorization: 'Bearer wrong-token' }]) {
      const res = await send(h, 's1', { text: 'hello' }, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: { code: 'CF_API_UNAUTHORIZED' } });
    }
    expect(audit(h)).toEqual([]);
  });
});

describe('POST /api/v1/tasks', () => {
  const add = (h: Harness, payload: unknown) => h.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

  it('adds a task to the project inbox (as task add does) and records who added it', async () => {
    const { h } = await setup([]);
    const res = await add(h, { project: 'p', text: 'Fix the flaky login test.\n', title: 'Flaky login', priority: 'high' });
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json<{ id: string; project: string; path: string; state: string }>();
    expect(body).toMatchObject({ project: 'p', state: 'inbox', id: expect.stringMatching(/^\d{8}-\d{6}-[0-9a-f]+-flaky-login$/) });
    const inbox = join(h.root, 'projects', 'p', '.agent-queue', 'inbox');
    expect(body.path).toBe(join(inbox, `${body.id}.md`));
    const file = readFileSync(body.path, 'utf8');
    expect(file).toMatch(/^---\n/);
    expect(file).toContain('priority: high');
    expect(file).toContain('title: Flaky login');
    expect(file).toContain('Fix the flaky login test.');
    const task = await h.app.inject({ url: `/api/v1/tasks/${body.id}`, headers: AUTH });
    expect(task.json()).toMatchObject({ metadata: { name: body.id, project: 'p' }, spec: { priority: 'high', title: 'Flaky login' }, status: { state: 'inbox' } });
    expect(events(h).find((e) => e.reason === 'TaskAdded')).toMatchObject({ key: 'Project/p', data: { task: body.id, sha256: sha('Fix the flaky login test.\n'), token: tokenFingerprint(TOKEN) } });
  });

  it('refuses an unknown project (404), a malformed task and a bad body (400), and writes nothing', async () => {
    const { h } = await setup([]);
    const ghost = await add(h, { project: 'ghost', text: 'x' });
    expect(ghost.statusCode).toBe(404);
    expect(ghost.json()).toEqual({ error: { code: 'CF_API_OBJECT_NOT_FOUND', message: 'Project "ghost" not found' } });
    const cases: [unknown, RegExp][] = [
      [{ project: 'p', text: '---\npriority: high\nno end of frontmatter' }, /^task not added: frontmatter opened with "---" on line 1 but never closed/],
      [{ project: 'p', text: '---\npriority: urgent\n---\nbody' }, /^task not added: /],
      [{ project: 'p', text: '' }, /^text: /],
      [{ project: 'p' }, /^text: text is required/],
      [{ project: 'p', text: 'x', priority: 'urgent' }, /^priority: /],
      [{ project: 'p', text: 'x', session: 's1' }, /unknown field in body: "session"/],
      [null, /must be a JSON object/],
      [['p', 'x'], /must be a JSON object/],
    ];
    for (const [payload, message] of cases) {
      const res = await add(h, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json<{ error: { code: string; message: string } }>().error, JSON.stringify(payload)).toMatchObject({ code: 'CF_API_BAD_REQUEST', message: expect.stringMatching(message) });
    }
    const inbox = join(h.root, 'projects', 'p', '.agent-queue', 'inbox');
    expect(existsSync(inbox) ? readdirSync(inbox) : []).toEqual([]);
    expect(events(h).filter((e) => e.reason === 'TaskAdded')).toEqual([]);
  });
});
