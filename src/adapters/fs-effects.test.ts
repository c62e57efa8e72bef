import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mergeJsonFile } from './fs-effects.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('mergeJsonFile', () => {
  it('keeps every concurrent merge into the same file (a failover trusts many project folders at once)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-merge-'));
    dirs.push(dir);
    const file = join(dir, '.claude.json');
    writeFileSync(file, JSON.stringify({ userID: 'u', projects: { '/keep': { allowedTools: ['x'] } } }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => mergeJsonFile(file, { hasCompletedOnboarding: true, projects: { [`/srv/p${i}`]: { hasTrustDialogAccepted: true } } })));
    const merged = JSON.parse(readFileSync(file, 'utf8')) as { userID: string; projects: Record<string, unknown> };
    expect(merged.userID).toBe('u');
    expect(Object.keys(merged.projects).sort()).toEqual(['/keep', ...Array.from({ length: 20 }, (_, i) => `/srv/p${i}`)].sort());
  });

  it('refuses to overwrite a file that is not JSON, and a failed merge does not block the next', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-merge-'));
    dirs.push(dir);
    const file = join(dir, 'settings.json');
    writeFileSync(file, '{not json');
    await expect(mergeJsonFile(file, { a: 1 })).rejects.toMatchObject({ code: 'CF_ERR_JSON_MERGE' });
    expect(readFileSync(file, 'utf8')).toBe('{not json');
    writeFileSync(file, '{}');
    await mergeJsonFile(file, { a: 1 });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 1 });
  });
});
