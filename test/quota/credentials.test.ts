import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { readCredentials, type CredentialsProblemReason } from '../../src/adapters/quota/credentials.js';

const TOKEN = 'sk-ant-oat01-SECRET-token-value';
const NOW = Date.parse('2026-03-10T12:00:00Z');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cf-creds-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const write = async (content: string): Promise<string> => {
  const p = join(dir, '.credentials.json');
  await writeFile(p, content, { mode: 0o600 });
  return p;
};
const creds = (oauth: Record<string, unknown>): string => JSON.stringify({ claudeAiOauth: oauth });

describe('readCredentials', () => {
  it('reads token, expiry and subscription; never writes the file', async () => {
    const p = await write(creds({ accessToken: TOKEN, refreshToken: 'r', expiresAt: NOW + 3600_000, scopes: ['user:inference'], subscriptionType: 'max', rateLimitTier: 'default_claude_max_20x' }));
    const before = await stat(p);
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.credentials.accessToken).toBe(TOKEN);
    expect(r.credentials.expiresAt).toBe(NOW + 3600_000);
    expect(r.credentials.subscriptionType).toBe('max');
    expect(r.credentials.rateLimitTier).toBe('default_claude_max_20x');
    const after = await stat(p);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(await readFile(p, 'utf8')).toContain(TOKEN);
  });

  it('keeps the token out of JSON and inspect output', async () => {
    await write(creds({ accessToken: TOKEN, expiresAt: NOW + 3600_000 }));
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok).toBe(true);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    expect(inspect(r, { depth: 5 })).not.toContain(TOKEN);
  });

  it('a missing expiresAt is not expired', async () => {
    await write(creds({ accessToken: TOKEN }));
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok && r.credentials.expiresAt).toBeUndefined();
  });

  it.each<[string, string | null, CredentialsProblemReason]>([
    ['no file', null, 'CredentialsMissing'],
    ['not JSON (and the token is not echoed)', `{"claudeAiOauth":{"accessToken":"${TOKEN}"`, 'CredentialsMalformed'],
    ['no claudeAiOauth', JSON.stringify({ other: {} }), 'CredentialsMalformed'],
    ['empty token', creds({ accessToken: '' }), 'CredentialsMalformed'],
    ['token not a string', creds({ accessToken: 42 }), 'CredentialsMalformed'],
    ['expired (ms)', creds({ accessToken: TOKEN, expiresAt: NOW - 1 }), 'CredentialsExpired'],
    ['expired exactly now', creds({ accessToken: TOKEN, expiresAt: NOW }), 'CredentialsExpired'],
    ['expired (epoch seconds)', creds({ accessToken: TOKEN, expiresAt: Math.floor(NOW / 1000) - 60 }), 'CredentialsExpired'],
  ])('%s → %s', async (_n, content, reason) => {
    if (content !== null) await write(content);
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.reason).toBe(reason);
    expect(r.problem.path).toBe(join(dir, '.credentials.json'));
    expect(r.problem.message).toContain(dir);
    expect(r.problem.message).not.toContain(TOKEN);
    expect(JSON.stringify(r)).not.toContain(TOKEN);
  });

  it('an expired access token with a refresh token is usable (claude refreshes it): ok, flagged, refresh token never exposed', async () => {
    await write(creds({ accessToken: TOKEN, refreshToken: 'sk-ant-ort01-REFRESH-secret', expiresAt: NOW - 3_600_000, subscriptionType: 'max' }));
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.credentials).toMatchObject({ accessTokenExpired: true, refreshable: true, expiresAt: NOW - 3_600_000, subscriptionType: 'max' });
    expect(JSON.stringify(r)).not.toContain('REFRESH');
    expect(inspect(r, { depth: 5 })).not.toContain('REFRESH');
  });

  it.each<[string, Record<string, unknown>]>([
    ['no refresh token', {}],
    ['an empty refresh token', { refreshToken: '' }],
    ['a refresh token that is not a string', { refreshToken: 42 }],
  ])('expired with %s → CredentialsExpired', async (_n, extra) => {
    await write(creds({ accessToken: TOKEN, expiresAt: NOW - 1, ...extra }));
    const r = await readCredentials(dir, { now: NOW });
    expect(!r.ok && r.problem.reason).toBe('CredentialsExpired');
    expect(!r.ok && r.problem.message).toMatch(/no refresh token; log in again/);
  });

  it('a valid token is not flagged', async () => {
    await write(creds({ accessToken: TOKEN, refreshToken: 'r', expiresAt: NOW + 60_000 }));
    const r = await readCredentials(dir, { now: NOW });
    expect(r.ok && r.credentials.accessTokenExpired).toBe(false);
  });

  it('expiry skew treats a token about to expire as expired', async () => {
    await write(creds({ accessToken: TOKEN, expiresAt: NOW + 30_000 }));
    expect((await readCredentials(dir, { now: NOW })).ok).toBe(true);
    const r = await readCredentials(dir, { now: NOW, expirySkewMs: 60_000 });
    expect(!r.ok && r.problem.reason).toBe('CredentialsExpired');
    expect(!r.ok && r.problem.expiresAt).toBe(NOW + 30_000);
  });

  it('a config dir that does not exist → missing', async () => {
    const r = await readCredentials(join(dir, 'nope'), { now: NOW });
    expect(!r.ok && r.problem.reason).toBe('CredentialsMissing');
  });

  it('a directory in place of the file → unreadable', async () => {
    await mkdir(join(dir, '.credentials.json'));
    const r = await readCredentials(dir, { now: NOW });
    expect(!r.ok && r.problem.reason).toBe('CredentialsUnreadable');
  });

  it.runIf(process.getuid?.() !== 0)('a file without read permission → unreadable', async () => {
    const p = await write(creds({ accessToken: TOKEN }));
    await chmod(p, 0o000);
    const r = await readCredentials(dir, { now: NOW });
    expect(!r.ok && r.problem.reason).toBe('CredentialsUnreadable');
  });
});
