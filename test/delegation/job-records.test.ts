import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jobRecordPath, listJobRecords, readJobRecord, removeJobRecord, writeJobRecord, type JobRecordCache } from '../../src/adapters/delegation/job-records.js';
import type { DelegationJobRecord } from '../../src/core/effects.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});
function root(): string {
  const d = mkdtempSync(join(tmpdir(), 'cf-jobrec-'));
  dirs.push(d);
  return d;
}
const rec = (taskId: string, over: Partial<DelegationJobRecord> = {}): DelegationJobRecord => ({ version: 1, taskId, project: 'web', policy: 'sec', provider: 'gemini', attempt: 1, state: 'pending', createdAt: '2026-05-01T12:00:00.000Z', ...over });

describe('job records', () => {
  it('writes atomically (0600, no temp file left), reads back, lists, removes', async () => {
    const r = root();
    expect(await listJobRecords(r)).toEqual({ records: [], bad: [] });
    await writeJobRecord(r, rec('b', { idempotencyKey: 'cf-x-1' }));
    await writeJobRecord(r, rec('a'));
    await writeJobRecord(r, rec('a', { state: 'submitted', jobId: 'job-1' }));
    expect(readdirSync(join(r, 'jobs')).sort()).toEqual(['a.json', 'b.json']);
    expect(statSync(jobRecordPath(r, 'a')).mode & 0o777).toBe(0o600);
    expect(await readJobRecord(r, 'a')).toMatchObject({ state: 'submitted', jobId: 'job-1' });
    expect((await listJobRecords(r)).records.map((x) => x.taskId)).toEqual(['a', 'b']);
    expect(await removeJobRecord(r, 'a')).toBe(true);
    expect(await removeJobRecord(r, 'a')).toBe(false);
    expect(await readJobRecord(r, 'a')).toBeUndefined();
  });

  it('reports unusable records without hiding the others, and re-reads only what changed', async () => {
    const r = root();
    mkdirSync(join(r, 'jobs'));
    await writeJobRecord(r, rec('good'));
    writeFileSync(join(r, 'jobs', 'garbled.json'), '{not json');
    writeFileSync(join(r, 'jobs', 'wrong.json'), JSON.stringify(rec('other')));
    writeFileSync(join(r, 'jobs', 'bad-state.json'), JSON.stringify({ ...rec('bad-state'), state: 'exploded' }));
    writeFileSync(join(r, 'jobs', '.cf-tmp.123.json'), 'partial');
    const cache: JobRecordCache = new Map();
    const l = await listJobRecords(r, cache);
    expect(l.records.map((x) => x.taskId)).toEqual(['good']);
    expect(l.bad.map((b) => b.taskId)).toEqual(['bad-state', 'garbled', 'wrong']);
    expect(l.bad[0]?.error).toMatch(/^state: Invalid option/);
    expect(l.bad[1]?.error).toMatch(/^not JSON: /);
    expect(l.bad[2]?.error).toBe('record names task "other", not "wrong"');
    expect(cache.size).toBe(4);
    await writeJobRecord(r, rec('good', { state: 'submitted', jobId: 'job-9' }));
    expect((await listJobRecords(r, cache)).records[0]).toMatchObject({ state: 'submitted', jobId: 'job-9' });
    rmSync(join(r, 'jobs', 'garbled.json'));
    await listJobRecords(r, cache);
    expect(cache.size).toBe(3);
  });

  it('refuses a task id that could escape the jobs directory', () => {
    expect(() => jobRecordPath('/q', '../etc/passwd')).toThrow(/invalid task id/);
  });
});
