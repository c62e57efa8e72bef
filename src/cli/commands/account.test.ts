import { describe, expect, it } from 'vitest';
import { accountDefaults, displayPath, judgeAccount, type AccountCheckInput } from './account.js';
import { loginForm } from './account-login.js';

const HOME = '/home/op';

describe('accountDefaults', () => {
  const base = { home: HOME, cwd: '/work' };
  const existing = [
    { name: 'main', configDir: '/home/op/.claude-accounts/main', priority: 10, sharedStateDir: '/home/op/.claude-accounts/shared' },
    { name: 'backup', configDir: '/home/op/.claude-accounts/backup', priority: 20, sharedStateDir: '/home/op/.claude-accounts/shared' },
  ];
  it.each([
    ['beside the others, after the last, the same store', { name: 'spare', existing }, { configDir: '/home/op/.claude-accounts/spare', sharedStateDir: '/home/op/.claude-accounts/shared', priority: 30 }],
    ['the first account', { name: 'main', existing: [] }, { configDir: '/home/op/.claude-accounts/main', sharedStateDir: '/home/op/.claude-accounts/shared', priority: 10 }],
    ['flags win; ~ and relative paths expand', { name: 'x', priority: '5', configDir: '~/acc/x', sharedStateDir: 'store', existing }, { configDir: '/home/op/acc/x', sharedStateDir: '/work/store', priority: 5 }],
    ['config dirs in different places: the default place', { name: 'x', existing: [existing[0] as (typeof existing)[number], { ...existing[1], configDir: '/srv/b' } as (typeof existing)[number]] }, { configDir: '/home/op/.claude-accounts/x', sharedStateDir: '/home/op/.claude-accounts/shared', priority: 30 }],
  ])('%s', (_n, i, want) => {
    expect(accountDefaults({ ...base, ...i })).toEqual(want);
  });
  it.each([
    ['a bad name', { name: 'Main', existing }, /DNS-1123/],
    ['a taken name', { name: 'main', existing }, /already declared/],
    ['a taken config dir', { name: 'z', configDir: '/home/op/.claude-accounts/main', existing }, /already the config dir of Account "main"/],
    ['a store inside the config dir', { name: 'z', sharedStateDir: '~/.claude-accounts/z/shared', existing }, /must be outside/],
    ['a priority that is not a number', { name: 'z', priority: 'high', existing }, /--priority must be a whole number/],
  ])('refuses %s', (_n, i, err) => {
    expect(() => accountDefaults({ ...base, ...i })).toThrow(err);
  });
});

describe('displayPath', () => {
  it.each([
    ['/home/op/.claude-accounts/x', '~/.claude-accounts/x'],
    ['/home/op', '~'],
    ['/home/operator/x', '/home/operator/x'],
    ['/srv/x', '/srv/x'],
  ])('%s', (p, want) => {
    expect(displayPath(p, HOME)).toBe(want);
  });
});

describe('loginForm', () => {
  const authHelp = (login: boolean) => `Usage: claude auth [options] [command]\n\nOptions:\n  -h, --help  help\n\nCommands:\n  help [command]  help\n${login ? '  login [options]   Sign in to your Anthropic account\n' : ''}  status [options]  Show authentication status\n`;
  it('claude auth login --claudeai when the CLI has it', () => {
    expect(loginForm(authHelp(true), 'Options:\n  --claudeai  Use Claude subscription (default)\n')).toEqual({ kind: 'subcommand', args: ['auth', 'login', '--claudeai'] });
  });
  it('claude auth login without the flag on a CLI without it', () => {
    expect(loginForm(authHelp(true), 'Usage: claude auth login\n')).toEqual({ kind: 'subcommand', args: ['auth', 'login'] });
  });
  it('/login in the TUI when `auth` has no login (or no auth at all)', () => {
    expect(loginForm(authHelp(false), '')).toEqual({ kind: 'slash', args: [] });
    expect(loginForm("error: unknown command 'auth'", '')).toEqual({ kind: 'slash', args: [] });
  });
  it('"login" in a description is not the command', () => {
    expect(loginForm('Usage: claude auth\n\nManage login and logout\n\nCommands:\n  status  Show the login status\n', '')).toEqual({ kind: 'slash', args: [] });
  });
});

describe('judgeAccount', () => {
  const NOW = Date.parse('2026-05-01T12:00:00.000Z');
  const input = (over: Partial<AccountCheckInput> = {}): AccountCheckInput => ({
    name: 'a', priority: 10, suspended: false, thresholds: { fiveHour: 90, weekly: 95 }, usable: true,
    credentials: { state: 'ok', message: 'present', expiresAt: NOW + 3_600_000, fileMode: 0o600 },
    usage: {}, links: { state: 'linked', detail: [] }, ...over,
  });
  it.each([
    ['all good', {}, true, []],
    ['usage unknown still takes the pool', { usage: {} }, true, []],
    ['suspended', { suspended: true }, false, [/suspended/]],
    ['not logged in', { usable: false, credentials: { state: 'missing' as const, message: 'no credentials' } }, false, [/not logged in: claude-failover account login a/]],
    ['over the 5-hour threshold', { usage: { fiveHour: { utilization: 92, resetsAt: '2026-05-01T13:00:00.000Z' } } }, false, [/5-hour usage 92% >= its threshold 90% until 2026-05-01T13:00/]],
    ['over, but the window has reset', { usage: { fiveHour: { utilization: 92, resetsAt: '2026-05-01T11:00:00.000Z' } } }, true, []],
    ['over the weekly threshold', { usage: { sevenDay: { utilization: 99 } } }, false, [/weekly usage 99%/]],
    ['diverged links', { links: { state: 'diverged' as const, detail: ['/a/todos is a real directory'] } }, false, [/shared state diverged: \/a\/todos is a real directory/]],
    ['access token expired with a refresh token: still takes the pool', { credentials: { state: 'ok' as const, message: 'access token expired', expiresAt: NOW - 60_000, refreshToken: true } }, true, []],
    ['expired without a refresh token', { usable: false, credentials: { state: 'expired' as const, message: 'expired', expiresAt: NOW - 60_000, refreshToken: false } }, false, [/access token expired; log in again: claude-failover account login a/]],
    ['links not made yet is fine (the controller makes them)', { links: { state: 'unlinked' as const, detail: ['7 link(s) not made yet'] } }, true, []],
  ])('%s', (_n, over, can, reasons) => {
    const r = judgeAccount(input(over), NOW);
    expect(r.canTakePool).toBe(can);
    expect(r.reasons).toHaveLength(reasons.length);
    reasons.forEach((re, i) => expect(r.reasons[i]).toMatch(re));
  });
  it('warns that an expired access token is left to claude to refresh', () => {
    expect(judgeAccount(input({ credentials: { state: 'ok', message: '', expiresAt: NOW - 1, refreshToken: true } }), NOW).credentials.warnings).toEqual([expect.stringMatching(/access token expired; a refresh token is there/)]);
  });
  it('warns about a credentials file others can read', () => {
    expect(judgeAccount(input({ credentials: { state: 'ok', message: '', fileMode: 0o644 } }), NOW).credentials.warnings).toEqual(['.credentials.json has mode 0644; it should be 0600 (chmod 600)']);
  });
});
