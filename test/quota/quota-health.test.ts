import { describe, expect, it } from 'vitest';
import type { ManifestObject } from '../../src/api/objects.js';
import { accountSpecSchema } from '../../src/api/schemas.js';
import { quotaHealthConfigOf } from '../../src/controllers/account.js';
import { quotaHealth, type QuotaHealthConfig } from '../../src/core/quota-health.js';
import type { UsageSource, UsageWindow } from '../../src/core/quota.js';

const MIN = 60_000;
const NOW = Date.parse('2026-03-10T12:00:00Z');
const CFG: QuotaHealthConfig = { unknownAfterFailures: 3, maxUsageAgeMs: 15 * MIN };
const w = (agoMin: number, source: UsageSource = 'usage-api', utilization = 40): UsageWindow => ({ utilization, source, observedAt: new Date(NOW - agoMin * MIN).toISOString() });

describe('quotaHealth', () => {
  it.each<[string, { five?: UsageWindow; seven?: UsageWindow; failures: number; lastGoodAgoMin?: number }, string, boolean]>([
    ['fresh figures', { five: w(2), seven: w(2), failures: 0, lastGoodAgoMin: 2 }, 'UsageFresh', true],
    ['nothing yet', { failures: 0 }, 'NoUsageData', false],
    ['nothing yet, two failures', { failures: 2 }, 'NoUsageData', false],
    ['nothing ever, three failures', { failures: 3 }, 'UsagePollsFailing', false],
    ['two failures, figures 10 min old', { five: w(10), seven: w(10), failures: 2, lastGoodAgoMin: 10 }, 'UsageFresh', true],
    ['three failures in a row', { five: w(12), seven: w(12), failures: 3, lastGoodAgoMin: 12 }, 'UsagePollsFailing', false],
    ['three failures but a session reported since', { five: w(1, 'statusline'), seven: w(12), failures: 3, lastGoodAgoMin: 12 }, 'UsageFresh', true],
    ['a session report older than the last good poll does not count', { five: w(20, 'statusline'), seven: w(12), failures: 3, lastGoodAgoMin: 12 }, 'UsagePollsFailing', false],
    ['figures older than maxUsageAge, no failure (credentials gone: no polls)', { five: w(16), seven: w(16), failures: 0, lastGoodAgoMin: 16 }, 'UsageStale', false],
    ['exactly maxUsageAge is still fresh', { five: w(15), failures: 0, lastGoodAgoMin: 15 }, 'UsageFresh', true],
    ['a session report 16 min old with failing polls: stale', { five: w(16, 'statusline'), failures: 4, lastGoodAgoMin: 30 }, 'UsageStale', false],
    ['one failure and figures older than maxUsageAge: the failing polls are the cause', { five: w(16), failures: 1, lastGoodAgoMin: 16 }, 'UsagePollsFailing', false],
  ])('%s → %s', (_n, c, reason, known) => {
    const h = quotaHealth({ usage: { ...(c.five ? { fiveHour: c.five } : {}), ...(c.seven ? { sevenDay: c.seven } : {}) }, poll: { consecutiveFailures: c.failures, ...(c.lastGoodAgoMin !== undefined ? { lastGood: { value: {}, at: NOW - c.lastGoodAgoMin * MIN } } : {}) }, lastError: 'x answered 500' }, NOW, CFG);
    expect(h.reason).toBe(reason);
    expect(h.known).toBe(known);
  });

  it('says why, with the count, the last error and the age; and when the figures will turn stale', () => {
    const failing = quotaHealth({ usage: { fiveHour: w(12) }, poll: { consecutiveFailures: 3, lastGood: { value: {}, at: NOW - 12 * MIN } }, lastError: 'http://127.0.0.1:9/api/oauth/usage answered 500' }, NOW, CFG);
    expect(failing.message).toBe('the usage endpoint failed 3 times in a row (last: http://127.0.0.1:9/api/oauth/usage answered 500) and no session reported usage since; the last figures are 12m old: usage is unknown, not exhausted');
    expect(failing.ageMs).toBe(12 * MIN);
    const stale = quotaHealth({ usage: { fiveHour: w(22) }, poll: { consecutiveFailures: 0 } }, NOW, CFG);
    expect(stale.message).toBe('the newest usage figure is 22m old (maxUsageAge 15m): usage is unknown, not exhausted');
    const fresh = quotaHealth({ usage: { fiveHour: w(4) }, poll: { consecutiveFailures: 0 } }, NOW, CFG);
    expect(fresh.staleAt).toBe(NOW - 4 * MIN + 15 * MIN);
  });
});

describe('the Account manifest fields', () => {
  const spec = (quota: Record<string, unknown>) => accountSpecSchema.safeParse({ configDir: '/srv/a', quota });
  it('defaults: 3 failed polls, maxUsageAge 3 × pollInterval and at least a minute', () => {
    const r = spec({ pollInterval: '5m' });
    expect(r.success).toBe(true);
    if (!r.success) return;
    expect(quotaHealthConfigOf({ spec: r.data } as ManifestObject<'Account'>)).toEqual({ unknownAfterFailures: 3, maxUsageAgeMs: 15 * MIN });
    const fast = spec({ pollInterval: '1s' });
    expect(fast.success && quotaHealthConfigOf({ spec: fast.data } as ManifestObject<'Account'>)).toEqual({ unknownAfterFailures: 3, maxUsageAgeMs: MIN });
    const set = spec({ pollInterval: '1m', maxUsageAge: '10m', unknownAfterFailures: 5 });
    expect(set.success && quotaHealthConfigOf({ spec: set.data } as ManifestObject<'Account'>)).toEqual({ unknownAfterFailures: 5, maxUsageAgeMs: 10 * MIN });
  });

  it.each<[Record<string, unknown>, string]>([
    [{ pollInterval: '5m', maxUsageAge: '5m' }, 'quota.maxUsageAge: must be longer than pollInterval (5m): figures would be stale between two polls'],
    [{ maxUsageAge: 'soon' }, 'quota.maxUsageAge: invalid duration: use a number and a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 7d, 1h30m'],
    [{ unknownAfterFailures: 0 }, 'quota.unknownAfterFailures: Too small: expected number to be >=1'],
  ])('refuses %j', (quota, problem) => {
    const r = spec(quota);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([problem]);
  });
});
