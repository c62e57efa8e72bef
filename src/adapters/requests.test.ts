import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { servePending } from '../core/requests.js';
import { FileRequestStore, KEEP_COMPLETED } from './requests.js';

const dirs: string[] = [];
afterEach(() => {
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cf-requests-'));
  dirs.push(d);
  return d;
}

describe('FileRequestStore', () => {
  it('creates pending requests (0600, sortable ids), completes each once, and lists newest first', async () => {
    let now = Date.UTC(2026, 11, 3, 12);
    const store = new FileRequestStore(stateDir(), { now: () => now });
    const a = await store.create({ kind: 'failover', target: 'b', reason: 'drill', requestedBy: 'alice' });
    now += 1;
    const b = await store.create({ kind: 'restart', target: 's1', requestedBy: 'bob' });
    expect(a).toMatchObject({ version: 1, kind: 'failover', target: 'b', reason: 'drill', requestedBy: 'alice', requestedAt: '2026-12-03T12:00:00.000Z' });
    expect(a.id < b.id).toBe(true);
    expect(statSync(join(dirs[0] as string, 'requests', `${a.id}.json`)).mode & 0o777).toBe(0o600);
    expect((await store.pending('failover')).map((r) => r.id)).toEqual([a.id]);
    expect((await store.pending('restart')).map((r) => r.id)).toEqual([b.id]);
    await store.complete(a.id, { accepted: true, message: 'moved', at: 'x' });
    await store.complete(a.id, { accepted: false, message: 'a second result is ignored', at: 'y' });
    expect((await store.get(a.id))?.result).toEqual({ accepted: true, message: 'moved', at: 'x' });
    expect(await store.pending('failover')).toEqual([]);
    expect((await store.list()).map((r) => r.id)).toEqual([b.id, a.id]);
  });

  it('a new instance on the same state dir (a restarted controller) sees the pending requests', async () => {
    const dir = stateDir();
    const r = await new FileRequestStore(dir).create({ kind: 'failover', target: 'b', requestedBy: 'cli' });
    expect((await new FileRequestStore(dir).pending('failover')).map((x) => x.id)).toEqual([r.id]);
  });

  it('skips unreadable and foreign files, rejects ids that are not ids, and keeps only the newest completed requests', async () => {
    const dir = stateDir();
    let now = 1_000_000;
    const store = new FileRequestStore(dir, { now: () => now++ });
    const first = await store.create({ kind: 'restart', target: 's1', requestedBy: 't' });
    writeFileSync(join(dir, 'requests', 'zzzzzzzzz-0000aaaaaa.json'), '{torn');
    writeFileSync(join(dir, 'requests', 'notes.txt'), 'hello');
    expect((await store.pending('restart')).map((r) => r.id)).toEqual([first.id]);
    expect(await store.get('../status')).toBeUndefined();
    await store.complete(first.id, { accepted: true, message: 'ok', at: 'x' });
    for (let i = 0; i < KEEP_COMPLETED + 2; i++) {
      const r = await store.create({ kind: 'restart', target: 's1', requestedBy: 't' });
      await store.complete(r.id, { accepted: true, message: 'ok', at: 'x' });
    }
    await store.create({ kind: 'failover', target: 'b', requestedBy: 't' }); // prunes on create
    const files = readdirSync(join(dir, 'requests')).filter((n) => n.endsWith('.json') && !n.startsWith('zzz'));
    expect(files).toHaveLength(KEEP_COMPLETED + 1); // the completed ones kept, plus the pending one
    expect(await store.get(first.id)).toBeUndefined();
  });
});

describe('FileRequestStore.resultOf', () => {
  it('wakes as soon as the result is recorded, answers at once for a completed request, and gives up after its time', async () => {
    const store = new FileRequestStore(stateDir());
    const r = await store.create({ kind: 'restart', target: 's1', requestedBy: 't' });
    const waiting = store.resultOf(r.id, 60_000);
    await store.complete(r.id, { accepted: true, message: 'stopped', at: 'x' });
    expect(await waiting).toEqual({ accepted: true, message: 'stopped', at: 'x' });
    expect(await store.resultOf(r.id, 0)).toEqual({ accepted: true, message: 'stopped', at: 'x' });
    const other = await store.create({ kind: 'restart', target: 's2', requestedBy: 't' });
    expect(await store.resultOf(other.id, 20)).toBeUndefined();
  });
});

describe('servePending', () => {
  it('serves the newest request and supersedes the older ones', () => {
    const req = (id: string) => ({ version: 1 as const, id, kind: 'failover' as const, target: id, requestedBy: 't', requestedAt: 'x' });
    expect(servePending([])).toEqual({ superseded: [] });
    expect(servePending([req('b-1'), req('a-1'), req('c-1')])).toEqual({ serve: req('c-1'), superseded: [req('a-1'), req('b-1')] });
  });
});
