import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyRecovery,
  archiveDone,
  claimTask,
  cleanupTempFiles,
  completeTask,
  countTasks,
  createFsTaskQueue,
  enqueueTask,
  ensureQueueDirs,
  failTask,
  finishTask,
  inspectQueue,
  intentPath,
  leasePath,
  listTasks,
  locateTask,
  moveTask,
  readLease,
  readQueueStatus,
  readTask,
  recoverQueue,
  requeueTask,
  resolveIdConflict,
  scanInbox,
  updateLease,
  updateTaskFrontmatter,
  writeQueueStatus,
} from '../../src/adapters/queue/index.js';
import { TaskConflictError, TaskNotFoundError, TaskParseError, footerKinds, formatDoneFooter, parseFrontmatter, planRecovery } from '../../src/core/task.js';
import type { FinishIntent, QueueStatus } from '../../src/core/task.js';
import { readText, setMtime, taskLocations, tempQueue, writeTree } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
const HOUR = 3_600_000;
const OLD = Date.now() - 10 * HOUR;

beforeEach(async () => {
  ({ root, cleanup } = await tempQueue());
  await ensureQueueDirs(root);
});
afterEach(async () => {
  await cleanup();
});

/** Writes a settled inbox task (old mtime). */
async function inboxTask(id: string, content: string, mtimeMs = OLD): Promise<string> {
  const p = path.join(root, 'inbox', `${id}.md`);
  await writeTree(root, { [`inbox/${id}.md`]: content });
  await setMtime(p, mtimeMs);
  return p;
}

async function expectOnlyIn(id: string, state: string): Promise<void> {
  const locs = await taskLocations(root);
  expect(locs.get(id)).toEqual([state]);
}

describe('layout', () => {
  it('ensureQueueDirs creates every directory and is idempotent', async () => {
    await ensureQueueDirs(root);
    const names = (await fs.readdir(root)).sort();
    expect(names).toEqual(['.tmp', 'archive', 'delegated', 'dispatched', 'done', 'failed', 'inbox', 'intents', 'leases']);
  });
  it('observation works on a queue that does not exist (dry-run safe) and creates nothing', async () => {
    const missing = path.join(root, 'nope');
    expect(await countTasks(missing)).toEqual({ inbox: 0, dispatched: 0, delegated: 0, done: 0, failed: 0, archive: 0 });
    expect(await listTasks(missing)).toEqual([]);
    expect((await scanInbox(missing)).ready).toEqual([]);
    expect((await inspectQueue(missing)).locations.size).toBe(0);
    await expect(fs.stat(missing)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('listing and the settle rule', () => {
  it('ignores hidden, temp and non-.md names; reports non-regular .md entries', async () => {
    await writeTree(root, {
      'inbox/a.md': 'a',
      'inbox/.b.md': 'hidden',
      'inbox/.cf-tmp.1.ab.c.md': 'temp',
      'inbox/c.md.part': 'partial',
      'inbox/d.txt': 'text',
      'inbox/e.md~': 'backup',
      'inbox/dir.md/x': 'a directory named like a task',
    });
    const entries = await listTasks(root, 'inbox', { settleMs: 0 });
    expect(entries.map((e) => e.id).sort()).toEqual(['a', 'dir']);
    expect(entries.find((e) => e.id === 'dir')?.notRegular).toBe(true);
  });
  it('a fresh inbox file is settling; an old one is not; settleMs 0 disables', async () => {
    const now = Date.now();
    await inboxTask('fresh', 'x', now - 500);
    await inboxTask('old', 'x', now - 5_000);
    const byId = (es: { id: string; settling: boolean }[]) => Object.fromEntries(es.map((e) => [e.id, e.settling]));
    expect(byId(await listTasks(root, 'inbox', { now, settleMs: 2_000 }))).toEqual({ fresh: true, old: false });
    expect(byId(await listTasks(root, 'inbox', { now, settleMs: 0 }))).toEqual({ fresh: false, old: false });
    const scan = await scanInbox(root, { now, settleMs: 2_000 });
    expect(scan.settling.map((e) => e.id)).toEqual(['fresh']);
    expect(scan.ready.map((t) => t.id)).toEqual(['old']);
    // Once the window has passed, it is taken.
    expect((await scanInbox(root, { now: now + 2_000, settleMs: 2_000 })).ready.map((t) => t.id)).toEqual(['old', 'fresh']);
  });
  it('settling applies to inbox only', async () => {
    await writeTree(root, { 'done/x.md': 'x' });
    expect((await listTasks(root, 'done', { settleMs: 60_000 }))[0]?.settling).toBe(false);
  });
  it('counts per state with readdir only, including archive months', async () => {
    await writeTree(root, { 'inbox/a.md': 'a', 'inbox/b.md': 'b', 'inbox/.x.md': 'h', 'done/c.md': 'c', 'archive/2026-01/d.md': 'd', 'archive/2026-02/e.md': 'e', 'archive/junk/f.md': 'f' });
    expect(await countTasks(root)).toEqual({ inbox: 2, dispatched: 0, delegated: 0, done: 1, failed: 0, archive: 2 });
  });
  it('counts 2,000 files correctly', async () => {
    await Promise.all(Array.from({ length: 2000 }, (_, i) => fs.writeFile(path.join(root, 'inbox', `t${i}.md`), 'x')));
    expect((await countTasks(root)).inbox).toBe(2000);
  });
});

describe('scanInbox', () => {
  it('orders by priority then age and separates malformed tasks with reasons', async () => {
    await inboxTask('low-old', '---\npriority: low\n---\nx', OLD - 5000);
    await inboxTask('normal-new', 'x', OLD);
    await inboxTask('normal-old', 'x', OLD - 1000);
    await inboxTask('high-new', '---\npriority: high\n---\nx', OLD + 1000);
    await inboxTask('bad-yaml', '---\npriority: [\n---\nx');
    await inboxTask('bad-field', '---\nneeds_claude_code: perhaps\n---\nx');
    await writeTree(root, { 'inbox/bad-utf8.md': Buffer.from([0x61, 0xff, 0x0a]) });
    await setMtime(path.join(root, 'inbox/bad-utf8.md'), OLD);
    await fs.symlink('/etc/hostname', path.join(root, 'inbox', 'link.md'));
    await fs.lutimes(path.join(root, 'inbox', 'link.md'), new Date(OLD), new Date(OLD));
    const scan = await scanInbox(root, { settleMs: 2_000 });
    expect(scan.ready.map((t) => t.id)).toEqual(['high-new', 'normal-old', 'normal-new', 'low-old']);
    const reasons = Object.fromEntries(scan.malformed.map((m) => [m.entry.id, m.error.reason]));
    expect(reasons['bad-yaml']).toMatch(/invalid YAML/);
    expect(reasons['bad-field']).toMatch(/needs_claude_code must be true or false/);
    expect(reasons['bad-utf8']).toMatch(/not valid UTF-8/);
    expect(reasons['link']).toMatch(/symbolic link/);
  });
  it('reports an inbox id that already exists in another state', async () => {
    await inboxTask('report', 'again');
    await writeTree(root, { 'done/report.md': 'yesterday' });
    const scan = await scanInbox(root);
    expect(scan.conflicts.map((c) => [c.entry.id, c.existingIn])).toEqual([['report', ['done']]]);
    expect(scan.ready).toEqual([]);
    const fresh = await resolveIdConflict(root, 'report');
    expect(fresh).toMatch(/^report-dup-[0-9a-f]{6}$/);
    expect(await readText(path.join(root, 'inbox', `${fresh}.md`))).toBe('again');
    expect(await readText(path.join(root, 'done', 'report.md'))).toBe('yesterday');
    expect((await scanInbox(root)).ready.map((t) => t.id)).toEqual([fresh]);
  });
});

describe('scanInbox cache', () => {
  it('re-parses only changed files and forgets removed ones', async () => {
    const p = await inboxTask('a', '---\npriority: low\n---\nx');
    await inboxTask('b', 'y');
    const cache = new Map();
    const first = await scanInbox(root, { cache });
    expect(first.ready.map((t) => [t.id, t.priority])).toEqual([['b', 'normal'], ['a', 'low']]);
    expect(cache.size).toBe(2);
    const again = await scanInbox(root, { cache });
    expect(again.ready[1]).toBe(first.ready[1]); // same object: served from the cache
    await fs.writeFile(p, '---\npriority: high\n---\nx');
    await setMtime(p, OLD + 5);
    expect((await scanInbox(root, { cache })).ready.map((t) => [t.id, t.priority])).toEqual([['a', 'high'], ['b', 'normal']]);
    await fs.rm(p);
    await scanInbox(root, { cache });
    expect([...cache.keys()].map((k) => path.basename(k))).toEqual(['b.md']);
  });
});

describe('moveTask', () => {
  it('is one rename and idempotent: moved, then already', async () => {
    await inboxTask('a', 'x');
    expect(await moveTask(root, 'a', 'inbox', 'delegated')).toBe('moved');
    expect(await moveTask(root, 'a', 'inbox', 'delegated')).toBe('already');
    await expectOnlyIn('a', 'delegated');
  });
  it('missing everywhere → TaskNotFoundError', async () => {
    await expect(moveTask(root, 'nope', 'inbox', 'done')).rejects.toBeInstanceOf(TaskNotFoundError);
  });
  it('never overwrites a same-named task in the target', async () => {
    await inboxTask('a', 'new');
    await writeTree(root, { 'done/a.md': 'old' });
    await expect(moveTask(root, 'a', 'inbox', 'done')).rejects.toBeInstanceOf(TaskConflictError);
    expect(await readText(path.join(root, 'done/a.md'))).toBe('old');
    expect(await readText(path.join(root, 'inbox/a.md'))).toBe('new');
  });
  it('rejects ids that would escape the queue', async () => {
    await expect(moveTask(root, '../x', 'inbox', 'done')).rejects.toBeInstanceOf(TaskParseError);
  });
});

describe('enqueueTask', () => {
  it('writes atomically into inbox with frontmatter, leaves no temp, and is not settling', async () => {
    const now = Date.UTC(2026, 4, 1, 12, 1, 2);
    const { id, path: p } = await enqueueTask(root, { body: 'Fix the login\n', title: 'Fix login', priority: 'high' }, { now });
    expect(id).toMatch(/^20260501-120102-[0-9a-f]{6}-fix-login$/);
    expect(p).toBe(path.join(root, 'inbox', `${id}.md`));
    const fm = parseFrontmatter(await readText(p));
    expect(fm.fields).toEqual({ title: 'Fix login', priority: 'high' });
    expect(fm.body).toBe('Fix the login\n');
    expect(await fs.readdir(path.join(root, '.tmp'))).toEqual([]);
    const entries = await listTasks(root, 'inbox', { now, settleMs: 2_000 });
    expect(entries.map((e) => [e.id, e.settling])).toEqual([[id, false]]);
  });
  it('keeps a body byte-exact (no frontmatter requested)', async () => {
    const body = 'emoji 🎉 "quotes" ; $(rm -rf /) \r\n- leading dash\r\n';
    const { id } = await enqueueTask(root, { body });
    expect((await readTask(root, id)).body).toBe(body);
  });
  it('merges into existing frontmatter', async () => {
    const { id } = await enqueueTask(root, { body: '---\npreferred_ai: gemini\n---\nx', priority: 'low' });
    expect((await readTask(root, id)).frontmatter).toEqual({ preferred_ai: 'gemini', priority: 'low' });
  });
  it('refuses malformed input and writes nothing', async () => {
    await expect(enqueueTask(root, { body: '   ' })).rejects.toBeInstanceOf(TaskParseError);
    await expect(enqueueTask(root, { body: '---\npriority: soon\n---\nx' })).rejects.toThrow(/priority/);
    expect(await countTasks(root)).toMatchObject({ inbox: 0 });
  });
  it('an explicit id never overwrites', async () => {
    await enqueueTask(root, { body: 'one', id: 'fixed' });
    await expect(enqueueTask(root, { body: 'two', id: 'fixed' })).rejects.toBeInstanceOf(TaskConflictError);
    expect((await readTask(root, 'fixed')).body).toBe('one');
  });
  it('creates the queue layout when missing', async () => {
    const fresh = path.join(root, 'sub', 'q');
    const { id } = await enqueueTask(fresh, { body: 'x' });
    expect((await locateTask(fresh, id)).map((l) => l.state)).toEqual(['inbox']);
  });
});

describe('claimTask', () => {
  it('writes the lease, then moves the task; attempt 1', async () => {
    await inboxTask('a', 'do it');
    const r = await claimTask(root, 'a', { session: 'ccl-1', account: 'acc', now: 1_000 });
    expect(r.claimed).toBe(true);
    if (!r.claimed) return;
    expect(r.lease).toMatchObject({ taskId: 'a', session: 'ccl-1', account: 'acc', attempt: 1, claimedAt: new Date(1_000).toISOString() });
    expect(r.task.state).toBe('dispatched');
    expect(await readLease(root, 'a')).toEqual(r.lease);
    await expectOnlyIn('a', 'dispatched');
    expect(await claimTask(root, 'a', { session: 'ccl-2', account: 'acc' })).toEqual({ claimed: false, reason: 'gone' });
  });
  it('two claimers racing for one task: exactly one wins', async () => {
    for (let round = 0; round < 20; round++) {
      const id = `race-${round}`;
      await inboxTask(id, 'x');
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => claimTask(root, id, { session: `s${i}`, account: 'a' })));
      const winners = results.filter((r) => r.claimed);
      expect(winners).toHaveLength(1);
      const lease = await readLease(root, id);
      expect(lease?.session).toBe(winners[0]?.claimed ? winners[0].lease.session : undefined);
      await expectOnlyIn(id, 'dispatched');
    }
  });
  it('a held lease blocks another claim; a leftover lease of an ended attempt does not', async () => {
    await inboxTask('a', '---\nattempts: 1\n---\nx');
    await writeTree(root, { 'leases/a.json': JSON.stringify({ version: 1, taskId: 'a', claimId: 'old', session: 's', account: 'x', attempt: 1, claimedAt: '2026-01-01T00:00:00Z' }) });
    const r = await claimTask(root, 'a', { session: 'ccl-2', account: 'acc' });
    expect(r.claimed && r.lease.attempt).toBe(2);
    await inboxTask('b', 'x');
    await writeTree(root, { 'leases/b.json': JSON.stringify({ version: 1, taskId: 'b', claimId: 'live', session: 's1', account: 'x', attempt: 1, claimedAt: '2026-01-01T00:00:00Z' }) });
    const r2 = await claimTask(root, 'b', { session: 'ccl-2', account: 'acc' });
    expect(r2).toMatchObject({ claimed: false, reason: 'leased', lease: { claimId: 'live' } });
    await expectOnlyIn('b', 'inbox');
  });
  it('a malformed task is not claimed (TaskParseError) and no lease remains', async () => {
    await inboxTask('bad', '---\npriority: nope\n---\nx');
    await expect(claimTask(root, 'bad', { session: 's', account: 'a' })).rejects.toBeInstanceOf(TaskParseError);
    expect(await readLease(root, 'bad')).toBeUndefined();
  });
  it('updateLease records delivery and checks the claim id', async () => {
    await inboxTask('a', 'x');
    const r = await claimTask(root, 'a', { session: 's', account: 'a' });
    if (!r.claimed) throw new Error('not claimed');
    const l = await updateLease(root, 'a', { deliveredAt: '2026-05-01T00:00:00.000Z', conversationId: 'conv-1' }, { expectClaimId: r.lease.claimId });
    expect(l).toMatchObject({ deliveredAt: '2026-05-01T00:00:00.000Z', conversationId: 'conv-1', attempt: 1 });
    await expect(updateLease(root, 'a', { conversationId: 'x' }, { expectClaimId: 'someone-else' })).rejects.toBeInstanceOf(TaskConflictError);
    // A continuation after a relaunch: recorded beside the first delivery, which stays.
    await updateLease(root, 'a', { continuedAt: '2026-05-01T00:05:00.000Z', continuations: 1 }, { expectClaimId: r.lease.claimId });
    expect(await readLease(root, 'a')).toMatchObject({ deliveredAt: '2026-05-01T00:00:00.000Z', continuedAt: '2026-05-01T00:05:00.000Z', continuations: 1, claimId: r.lease.claimId });
  });
});

describe('completeTask / failTask', () => {
  const footer = formatDoneFooter({ taskId: 'a', session: 's', account: 'acc', conversationId: 'c1', startedAt: 0, finishedAt: 65_000, attempts: 1 });
  it('moves to done with the footer, removes lease and intent; idempotent', async () => {
    await inboxTask('a', 'the body');
    const r = await claimTask(root, 'a', { session: 's', account: 'acc' });
    if (!r.claimed) throw new Error('not claimed');
    expect(await completeTask(root, 'a', { footer, expectClaimId: r.lease.claimId })).toBe('moved');
    expect(await completeTask(root, 'a', { footer })).toBe('already');
    await expectOnlyIn('a', 'done');
    const text = await readText(path.join(root, 'done/a.md'));
    expect(text).toBe(`the body\n${footer}`);
    expect(footerKinds(text)).toEqual(['done']);
    expect(await readLease(root, 'a')).toBeUndefined();
    await expect(fs.stat(intentPath(root, 'a'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
  it('a late completion from an older claim is refused', async () => {
    await inboxTask('a', 'x');
    await claimTask(root, 'a', { session: 's', account: 'acc' });
    await expect(completeTask(root, 'a', { footer, expectClaimId: 'stale' })).rejects.toBeInstanceOf(TaskConflictError);
    await expectOnlyIn('a', 'dispatched');
  });
  it('completing a task that is not dispatched → TaskNotFoundError', async () => {
    await inboxTask('a', 'x');
    await expect(completeTask(root, 'a', { footer })).rejects.toBeInstanceOf(TaskNotFoundError);
    await expectOnlyIn('a', 'inbox');
  });
  it('malformed inbox task → failed/ with the reason appended, bytes kept', async () => {
    await inboxTask('bad', '---\npriority: [\n---\nbody');
    const scan = await scanInbox(root);
    const m = scan.malformed[0];
    if (!m) throw new Error('expected a malformed task');
    expect(await failTask(root, 'bad', { from: 'inbox', reason: m.error.reason, now: 0 })).toBe('moved');
    expect(await failTask(root, 'bad', { from: 'inbox', reason: m.error.reason, now: 0 })).toBe('already');
    await expectOnlyIn('bad', 'failed');
    const text = await readText(path.join(root, 'failed/bad.md'));
    expect(text.startsWith('---\npriority: [\n---\nbody\n')).toBe(true);
    expect(text).toContain('- reason: invalid YAML in frontmatter');
    expect(footerKinds(text)).toEqual(['failed']);
  });
  it('invalid UTF-8 is failed with its bytes intact plus the footer', async () => {
    const bytes = Buffer.from([0x61, 0xff, 0x0a]);
    await writeTree(root, { 'inbox/bin.md': bytes });
    await failTask(root, 'bin', { from: 'inbox', reason: 'task file is not valid UTF-8' });
    const out = await fs.readFile(path.join(root, 'failed/bin.md'));
    expect(out.subarray(0, 3).equals(bytes)).toBe(true);
    expect(out.toString('latin1')).toContain('not valid UTF-8');
  });
  it('a non-regular entry is failed with a reason file beside it', async () => {
    await writeTree(root, { 'inbox/dir.md/inner': 'x' });
    await failTask(root, 'dir', { from: 'inbox', reason: 'task is not a regular file' });
    expect((await fs.stat(path.join(root, 'failed/dir.md'))).isDirectory()).toBe(true);
    expect(await readText(path.join(root, 'failed/dir.reason.txt'))).toContain('not a regular file');
  });
});

describe('requeueTask', () => {
  it('records the ended attempt, keeps the age, moves back; gives up after max attempts', async () => {
    await inboxTask('a', '---\nmax_attempts: 2\n---\nbody', OLD);
    const c1 = await claimTask(root, 'a', { session: 's1', account: 'acc' });
    expect(c1.claimed && c1.lease.attempt).toBe(1);
    const r1 = await requeueTask(root, 'a', { reason: 'session died' });
    expect(r1).toEqual({ outcome: 'requeued', attempt: 1, state: 'inbox' });
    expect(await requeueTask(root, 'a', { reason: 'session died' })).toMatchObject({ outcome: 'already', state: 'inbox' });
    await expectOnlyIn('a', 'inbox');
    expect(await readLease(root, 'a')).toBeUndefined();
    const t = await readTask(root, 'a', 'inbox');
    expect(t.attempts).toBe(1);
    expect(t.frontmatter.last_error).toBe('session died');
    expect(t.body).toBe('body');
    expect(Math.abs(t.mtimeMs - OLD)).toBeLessThan(1000);
    const c2 = await claimTask(root, 'a', { session: 's2', account: 'acc' });
    expect(c2.claimed && c2.lease.attempt).toBe(2);
    const r2 = await requeueTask(root, 'a', { reason: 'stale dispatch' });
    expect(r2).toEqual({ outcome: 'failed', attempt: 2, state: 'failed' });
    await expectOnlyIn('a', 'failed');
    expect(await readText(path.join(root, 'failed/a.md'))).toContain('gave up after 2 attempts (max 2); last: stale dispatch');
  });
  it('the project max applies when the task has none', async () => {
    await inboxTask('a', 'x');
    await claimTask(root, 'a', { session: 's', account: 'acc' });
    expect((await requeueTask(root, 'a', { reason: 'r', maxAttempts: 1 })).outcome).toBe('failed');
  });
  it('a crash after the rewrite, before the move, repeats harmlessly (same attempts value)', async () => {
    await inboxTask('a', 'x');
    await claimTask(root, 'a', { session: 's', account: 'acc' });
    // The rewrite step alone (what a crash right after it leaves behind):
    await updateTaskFrontmatter(root, 'a', 'dispatched', { attempts: 1, last_error: 'died' });
    expect((await requeueTask(root, 'a', { reason: 'died' })).attempt).toBe(1);
    expect((await readTask(root, 'a', 'inbox')).attempts).toBe(1);
  });
});

describe('archiveDone', () => {
  it('moves done tasks older than the threshold into archive/YYYY-MM by their finish month', async () => {
    const now = Date.UTC(2026, 4, 20);
    await writeTree(root, { 'done/mar.md': 'x', 'done/apr.md': 'x', 'done/recent.md': 'x' });
    await setMtime(path.join(root, 'done/mar.md'), Date.UTC(2026, 2, 31, 23, 59));
    await setMtime(path.join(root, 'done/apr.md'), Date.UTC(2026, 3, 1, 0, 1));
    await setMtime(path.join(root, 'done/recent.md'), now - HOUR);
    const r = await archiveDone(root, { olderThanMs: 7 * 24 * HOUR, now });
    expect(r.archived.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: 'apr', month: '2026-04' },
      { id: 'mar', month: '2026-03' },
    ]);
    expect(await readText(path.join(root, 'archive/2026-03/mar.md'))).toBe('x');
    await expectOnlyIn('apr', 'archive');
    await expectOnlyIn('recent', 'done');
    expect((await archiveDone(root, { olderThanMs: 7 * 24 * HOUR, now })).archived).toEqual([]);
    expect((await readTask(root, 'mar')).state).toBe('archive');
  });
});

describe('status.json and temp files', () => {
  it('writes status atomically and reads it back', async () => {
    const status: QueueStatus = {
      version: 1,
      project: 'web',
      updatedAt: '2026-05-01T00:00:00.000Z',
      counts: { ...(await countTasks(root)), settling: 0 },
      sessions: { 'ccl-1': { state: 'working', task: 'a' }, 'ccl-2': { state: 'idle' }, 'ccl-3': { state: 'delegated_to_secutools', task: 'b' } },
    };
    await writeQueueStatus(root, status);
    expect(await readQueueStatus(root)).toEqual(status);
    expect(JSON.parse(await readText(path.join(root, 'status.json'))).sessions['ccl-3'].state).toBe('delegated_to_secutools');
    expect((await fs.readdir(root)).filter((n) => n.startsWith('.cf-tmp'))).toEqual([]);
  });
  it('cleanupTempFiles removes old temps only, never tasks', async () => {
    const now = Date.now();
    await writeTree(root, { '.tmp/old.md.1.ab': 'x', '.tmp/young.md.1.cd': 'x', 'done/.cf-tmp.1.ef.a.md': 'x', 'done/a.md': 'task', 'inbox/.editor-swap.md': 'foreign hidden' });
    await setMtime(path.join(root, '.tmp/old.md.1.ab'), now - 2 * HOUR);
    await setMtime(path.join(root, 'done/.cf-tmp.1.ef.a.md'), now - 2 * HOUR);
    const removed = await cleanupTempFiles(root, { olderThanMs: HOUR, now });
    expect(removed.map((p) => path.relative(root, p)).sort()).toEqual(['.tmp/old.md.1.ab', 'done/.cf-tmp.1.ef.a.md']);
    expect(await fs.readdir(path.join(root, '.tmp'))).toEqual(['young.md.1.cd']);
    expect(await readText(path.join(root, 'done/a.md'))).toBe('task');
    expect(await readText(path.join(root, 'inbox/.editor-swap.md'))).toBe('foreign hidden');
  });
});

describe('crash recovery', () => {
  const intent = (id: string, from: FinishIntent['from'], to: FinishIntent['to'], text: string): string =>
    JSON.stringify({ version: 1, taskId: id, from, to, text, at: '2026-05-01T00:00:00.000Z' } satisfies FinishIntent);
  const lease = (id: string, attempt = 1) => JSON.stringify({ version: 1, taskId: id, claimId: 'c', session: 's', account: 'a', attempt, claimedAt: '2026-05-01T00:00:00.000Z' });
  const F = '\n---\n<!-- claude-failover:done -->\nF\n';

  it('claim interrupted after the lease: lease dropped, the task can be claimed', async () => {
    await inboxTask('a', 'x');
    await writeTree(root, { 'leases/a.json': lease('a') });
    expect((await claimTask(root, 'a', { session: 's2', account: 'a' })).claimed).toBe(false);
    const rep = await recoverQueue(root);
    expect(rep.applied.map((x) => x.type)).toEqual(['dropLease']);
    expect((await claimTask(root, 'a', { session: 's2', account: 'a' })).claimed).toBe(true);
  });
  it('complete interrupted after the intent: rolled forward, footer once', async () => {
    await writeTree(root, { 'dispatched/a.md': 'body\n', 'leases/a.json': lease('a'), 'intents/a.json': intent('a', 'dispatched', 'done', F) });
    await recoverQueue(root);
    expect(await readText(path.join(root, 'done/a.md'))).toBe(`body\n${F}`);
    expect(await inspectQueue(root)).toMatchObject({ leases: [], intents: [] });
  });
  it('complete interrupted after the append, before the rename: footer not doubled', async () => {
    await writeTree(root, { 'dispatched/a.md': `body\n${F}`, 'leases/a.json': lease('a'), 'intents/a.json': intent('a', 'dispatched', 'done', F) });
    await recoverQueue(root);
    expect(await readText(path.join(root, 'done/a.md'))).toBe(`body\n${F}`);
    await expectOnlyIn('a', 'done');
  });
  it('complete interrupted after the rename: records cleaned', async () => {
    await writeTree(root, { 'done/a.md': `body\n${F}`, 'leases/a.json': lease('a'), 'intents/a.json': intent('a', 'dispatched', 'done', F) });
    const rep = await recoverQueue(root);
    expect(rep.errors).toEqual([]);
    expect(await inspectQueue(root)).toMatchObject({ leases: [], intents: [] });
    expect(await readText(path.join(root, 'done/a.md'))).toBe(`body\n${F}`);
  });
  it('dispatched task without a lease goes back to inbox', async () => {
    await writeTree(root, { 'dispatched/a.md': 'x' });
    const rep = await recoverQueue(root);
    expect(rep.applied.map((x) => x.type)).toEqual(['requeueUnleased']);
    await expectOnlyIn('a', 'inbox');
  });
  // The plan is made from a snapshot without the lock; a transition may run before the action.
  it.each([
    ['the task failed meanwhile', async (): Promise<void> => {
      await writeTree(root, { 'leases/a.json': lease('a') });
      await failTask(root, 'a', { from: 'dispatched', reason: 'r' });
    }, 'failed'],
    ['its claim completed meanwhile (the lease is there now)', async (): Promise<void> => {
      await writeTree(root, { 'leases/a.json': lease('a') });
    }, 'dispatched'],
  ] as const)('an action made unnecessary before it runs is superseded, not applied: %s', async (_n, meanwhile, where) => {
    await writeTree(root, { 'dispatched/a.md': 'x' });
    const plan = planRecovery(await inspectQueue(root), Date.now(), 0);
    expect(plan.actions.map((x) => x.type)).toEqual(['requeueUnleased']);
    await meanwhile();
    const rep = await applyRecovery(root, plan);
    expect(rep.errors).toEqual([]);
    expect(rep.applied).toEqual([]);
    expect(rep.superseded.map((x) => x.type)).toEqual(['requeueUnleased']);
    await expectOnlyIn('a', where);
  });
  it('a leased dispatched task is left for the controller', async () => {
    await writeTree(root, { 'dispatched/a.md': 'x', 'leases/a.json': lease('a') });
    const rep = await recoverQueue(root);
    expect(rep.actions).toEqual([]);
    await expectOnlyIn('a', 'dispatched');
  });
  it('finishTask on a delegated task appends the delegated footer', async () => {
    await writeTree(root, { 'delegated/d.md': 'x' });
    expect(await finishTask(root, 'd', { from: 'delegated', to: 'done', text: '\n---\n<!-- claude-failover:delegated -->\nD\n' })).toBe('moved');
    expect(footerKinds(await readText(path.join(root, 'done/d.md')))).toEqual(['delegated']);
  });
});

describe('long multibyte ids (200 UTF-8 bytes)', () => {
  it('survive enqueue, claim, requeue, complete and a conflict rename', async () => {
    const id = 'é'.repeat(100);
    await enqueueTask(root, { body: 'x', id });
    await claimTask(root, id, { session: 's', account: 'a' });
    await requeueTask(root, id, { reason: 'died' });
    const c = await claimTask(root, id, { session: 's', account: 'a' });
    expect(c.claimed && c.lease.attempt).toBe(2);
    await completeTask(root, id, { footer: '\n---\nF\n' });
    await expectOnlyIn(id, 'done');
    await writeTree(root, { [`inbox/${id}.md`]: 'again' });
    const fresh = await resolveIdConflict(root, id);
    expect(Buffer.byteLength(fresh)).toBeLessThanOrEqual(200);
    await expectOnlyIn(fresh, 'inbox');
  });
});

describe('createFsTaskQueue', () => {
  it('binds settings and runs a full cycle', async () => {
    let t = Date.UTC(2026, 4, 1);
    const q = createFsTaskQueue(root, { settleMs: 2_000, clock: { now: () => t } });
    const { id } = await q.enqueue({ body: 'hello' });
    expect((await q.scanInbox()).ready.map((x) => x.id)).toEqual([id]);
    const c = await q.claim(id, { session: 's', account: 'a' });
    if (!c.claimed) throw new Error('not claimed');
    t += 60_000;
    await q.updateLease(id, { deliveredAt: new Date(t).toISOString() }, c.lease.claimId);
    expect(await q.complete(id, formatDoneFooter({ taskId: id, session: 's', account: 'a', startedAt: Date.parse(c.lease.claimedAt), finishedAt: t, attempts: 1 }), { expectClaimId: c.lease.claimId })).toBe('moved');
    expect(await q.count()).toMatchObject({ done: 1, inbox: 0, dispatched: 0 });
    expect(await readText(path.join(root, 'done', `${id}.md`))).toContain('- duration: 1m 00s');
    expect(leasePath(root, id)).toBe(path.join(root, 'leases', `${id}.json`));
  });
});
