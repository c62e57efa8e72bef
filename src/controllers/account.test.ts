import { describe, expect, it } from 'vitest';
import { sessionInputs } from './account.js';

const launchedAt = '2026-11-22T10:00:00.000Z';
const st = (extra: Record<string, unknown>) => ({ 'Session/s1': { observedGeneration: 'g', conditions: [], account: 'a', launchedAt, ...extra } });

describe('sessionInputs: what an account learns from its sessions', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['nothing', {}, []],
    ['status line usage', { rateLimits: { five_hour: { used_percentage: 42, resets_at: 1795320000 }, observedAt: '2026-11-22T10:05:00.000Z' } }, ['snapshot']],
    ['status line from before this launch is ignored', { rateLimits: { five_hour: { used_percentage: 42 }, observedAt: '2026-11-22T09:00:00.000Z' } }, []],
    ['StopFailure rate_limit is hard evidence', { lastError: { error: 'rate_limit', message: "You've hit your session limit · resets 3:45pm (UTC)", at: '2026-11-22T10:06:00.000Z' } }, ['evidence:stop-failure']],
    ['a StopFailure from the previous account (before this launch) is ignored', { lastError: { error: 'rate_limit', at: '2026-11-22T09:59:00.000Z' } }, []],
    ['other API errors are not quota', { lastError: { error: 'overloaded', at: '2026-11-22T10:06:00.000Z' } }, []],
    ['a pane match seen once is not evidence', { paneLimit: { text: "You've hit your session limit", at: '2026-11-22T10:06:00.000Z', confirmed: false } }, []],
    ['a pane match confirmed twice is evidence', { paneLimit: { text: "You've hit your session limit", at: '2026-11-22T10:06:00.000Z', confirmed: true } }, ['evidence:pane']],
  ])('%s', (_n, extra, kinds) => {
    const got = sessionInputs('a', st(extra)).map((i) => (i.type === 'snapshot' ? 'snapshot' : `evidence:${i.evidence.source}`));
    expect(got).toEqual(kinds);
  });

  // During a failover the process being stopped may report after the session's status already
  // names the new account: a report carries the account its process was launched under.
  it.each<[string, string, Record<string, unknown>, string[]]>([
    ['the old process\'s 100 % status line, read after the move, belongs to the old account', 'a', { rateLimits: { five_hour: { used_percentage: 100 }, observedAt: '2026-11-22T10:05:00.000Z', account: 'b' } }, []],
    ['... and counts for it', 'b', { rateLimits: { five_hour: { used_percentage: 100 }, observedAt: '2026-11-22T10:05:00.000Z', account: 'b' } }, ['snapshot']],
    ['a StopFailure names its account', 'b', { lastError: { error: 'rate_limit', message: "You've hit your session limit · resets 3:45pm (UTC)", at: '2026-11-22T10:06:00.000Z', account: 'b' } }, ['evidence:stop-failure']],
    ['and is not evidence against the new account', 'a', { lastError: { error: 'rate_limit', message: "You've hit your session limit · resets 3:45pm (UTC)", at: '2026-11-22T10:06:00.000Z', account: 'b' } }, []],
  ])('%s', (_n, account, extra, kinds) => {
    const got = sessionInputs(account, st(extra)).map((i) => (i.type === 'snapshot' ? 'snapshot' : `evidence:${i.evidence.source}`));
    expect(got).toEqual(kinds);
  });

  it('only counts sessions on that account', () => {
    expect(sessionInputs('b', st({ lastError: { error: 'rate_limit', at: '2026-11-22T10:06:00.000Z' } }))).toEqual([]);
  });
});
