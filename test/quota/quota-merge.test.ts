import { describe, expect, it } from 'vitest';
import {
  evidenceFromLimit,
  formatAge,
  headroom,
  isOverThreshold,
  mergeUsage,
  normalizeTime,
  parseStatusLineUsage,
  parseUsageResponse,
  type ExhaustionEvidence,
  type UsageInput,
  type UsageSnapshot,
  type UsageSource,
  type UsageWindow,
} from '../../src/core/quota.js';

const NOW = '2026-03-10T12:00:00.000Z';
const T = (min: number): string => new Date(Date.parse(NOW) + min * 60_000).toISOString();

const w = (utilization: number, source: UsageSource, observedMin: number, resetMin?: number): UsageWindow => {
  const out: UsageWindow = { utilization, source, observedAt: T(observedMin) };
  if (resetMin !== undefined) out.resetsAt = T(resetMin);
  return out;
};
const snap = (s: Partial<UsageSnapshot>): UsageInput => ({ type: 'snapshot', snapshot: s });
const ev = (e: Partial<ExhaustionEvidence> & Pick<ExhaustionEvidence, 'kind' | 'source'>, observedMin: number, resetMin?: number): UsageInput => {
  const out: ExhaustionEvidence = { observedAt: T(observedMin), ...e };
  if (resetMin !== undefined) out.resetsAt = T(resetMin);
  return { type: 'evidence', evidence: out };
};

interface MergeCase {
  name: string;
  inputs: UsageInput[];
  fiveHour?: { utilization: number; source: UsageSource; exhausted?: boolean; resetsAt?: string; rolledOver?: boolean } | null;
  sevenDay?: { utilization: number; source: UsageSource; exhausted?: boolean } | null;
  scoped?: Array<{ scope: string; utilization: number; exhausted?: boolean }>;
  exhausted: boolean;
  exhaustedUntil?: string | null;
}

const CASES: MergeCase[] = [
  {
    name: 'newest observation per window wins, across sources',
    inputs: [snap({ fiveHour: w(40, 'usage-api', -10, 200), sevenDay: w(20, 'usage-api', -10) }), snap({ fiveHour: w(55, 'statusline', -1, 200) })],
    fiveHour: { utilization: 55, source: 'statusline' },
    sevenDay: { utilization: 20, source: 'usage-api' },
    exhausted: false,
    exhaustedUntil: null,
  },
  {
    name: 'input order does not matter',
    inputs: [snap({ fiveHour: w(55, 'statusline', -1, 200) }), snap({ fiveHour: w(40, 'usage-api', -10, 200) })],
    fiveHour: { utilization: 55, source: 'statusline' },
    exhausted: false,
  },
  {
    name: 'equal observation time: usage-api beats statusline',
    inputs: [snap({ fiveHour: w(50, 'statusline', -5) }), snap({ fiveHour: w(51, 'usage-api', -5) })],
    fiveHour: { utilization: 51, source: 'usage-api' },
    exhausted: false,
  },
  {
    name: 'a window whose reset passed rolls over to 0',
    inputs: [snap({ fiveHour: w(97, 'usage-api', -300, -5) })],
    fiveHour: { utilization: 0, source: 'usage-api', rolledOver: true },
    exhausted: false,
  },
  {
    name: 'utilization over 100 is exhausted by percentage',
    inputs: [snap({ fiveHour: w(104.5, 'usage-api', -1, 100) })],
    fiveHour: { utilization: 104.5, source: 'usage-api' },
    exhausted: true,
    exhaustedUntil: null,
  },
  {
    name: 'hard evidence overrides a NEWER lower percentage until its reset',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -10, 60), snap({ fiveHour: w(30, 'usage-api', -1, 60) })],
    fiveHour: { utilization: 100, source: 'transcript', exhausted: true, resetsAt: T(60) },
    exhausted: true,
    exhaustedUntil: T(60),
  },
  {
    name: 'evidence keeps a higher observed figure',
    inputs: [ev({ kind: 'five_hour', source: 'stop-failure' }, -2, 60), snap({ fiveHour: w(103, 'usage-api', -1, 60) })],
    fiveHour: { utilization: 103, source: 'stop-failure', exhausted: true },
    exhausted: true,
  },
  {
    name: 'evidence whose reset passed is ignored',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -120, -1), snap({ fiveHour: w(12, 'usage-api', -1, 240) })],
    fiveHour: { utilization: 12, source: 'usage-api' },
    exhausted: false,
    exhaustedUntil: null,
  },
  {
    name: 'weekly evidence → sevenDay window',
    inputs: [ev({ kind: 'weekly', source: 'transcript' }, -1, 3000), snap({ sevenDay: w(80, 'usage-api', -1, 3000) })],
    sevenDay: { utilization: 100, source: 'transcript', exhausted: true },
    exhausted: true,
    exhaustedUntil: T(3000),
  },
  {
    name: 'opus evidence → scoped window, and the account is out',
    inputs: [ev({ kind: 'opus', scope: 'opus', source: 'stop-failure' }, -1, 500), snap({ fiveHour: w(20, 'usage-api', -1, 100), scoped: [{ ...w(70, 'usage-api', -1, 500), scope: 'OPUS' }] })],
    fiveHour: { utilization: 20, source: 'usage-api' },
    scoped: [{ scope: 'opus', utilization: 100, exhausted: true }],
    exhausted: true,
    exhaustedUntil: T(500),
  },
  {
    name: 'account-level evidence (usage kind) touches no window',
    inputs: [ev({ kind: 'usage', source: 'transcript' }, -1, 90), snap({ fiveHour: w(20, 'usage-api', -1, 100) })],
    fiveHour: { utilization: 20, source: 'usage-api' },
    exhausted: true,
    exhaustedUntil: T(90),
  },
  {
    name: 'latest reset among evidence in force is exhaustedUntil',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -1, 90), ev({ kind: 'weekly', source: 'stop-failure' }, -2, 4000)],
    exhausted: true,
    exhaustedUntil: T(4000),
  },
  {
    name: 'unconfirmed pane evidence is ignored',
    inputs: [ev({ kind: 'session', source: 'pane' }, -1, 90), snap({ fiveHour: w(20, 'usage-api', -1, 100) })],
    fiveHour: { utilization: 20, source: 'usage-api' },
    exhausted: false,
    exhaustedUntil: null,
  },
  {
    name: 'confirmed pane evidence counts',
    inputs: [ev({ kind: 'session', source: 'pane', confirmed: true }, -1, 90)],
    fiveHour: { utilization: 100, source: 'pane', exhausted: true },
    exhausted: true,
    exhaustedUntil: T(90),
  },
  {
    name: 'evidence without reset: holds against OLDER percentages',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -5), snap({ fiveHour: w(30, 'usage-api', -10) })],
    fiveHour: { utilization: 100, source: 'transcript', exhausted: true },
    exhausted: true,
    exhaustedUntil: T(-5 + 300),
  },
  {
    name: 'evidence without reset: a NEWER percentage below 100 ends it',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -5), snap({ fiveHour: w(30, 'usage-api', -1) })],
    fiveHour: { utilization: 30, source: 'usage-api' },
    exhausted: false,
    exhaustedUntil: null,
  },
  {
    name: 'evidence without reset: expires after the hold (5 h)',
    inputs: [ev({ kind: 'session', source: 'transcript' }, -301)],
    exhausted: false,
    exhaustedUntil: null,
  },
  {
    name: 'account-level evidence without reset: needs newer 5h AND 7d below 100 to end',
    inputs: [ev({ kind: 'generic', source: 'stop-failure' }, -5), snap({ fiveHour: w(30, 'usage-api', -1), sevenDay: w(40, 'usage-api', -20) })],
    exhausted: true,
  },
  {
    name: 'no inputs → empty picture',
    inputs: [],
    fiveHour: null,
    sevenDay: null,
    scoped: [],
    exhausted: false,
    exhaustedUntil: null,
  },
];

describe('mergeUsage precedence', () => {
  it.each(CASES)('$name', (c) => {
    const m = mergeUsage(c.inputs, NOW);
    if (c.fiveHour === null) expect(m.fiveHour).toBeUndefined();
    else if (c.fiveHour) expect(m.fiveHour).toMatchObject(c.fiveHour);
    if (c.sevenDay === null) expect(m.sevenDay).toBeUndefined();
    else if (c.sevenDay) expect(m.sevenDay).toMatchObject(c.sevenDay);
    if (c.scoped) expect(m.scoped).toMatchObject(c.scoped);
    expect(m.exhausted).toBe(c.exhausted);
    if (c.exhaustedUntil === null) expect(m.exhaustedUntil).toBeUndefined();
    else if (c.exhaustedUntil !== undefined) expect(m.exhaustedUntil).toBe(c.exhaustedUntil);
  });

  it('rolled-over windows drop resetsAt', () => {
    const m = mergeUsage([snap({ fiveHour: w(97, 'usage-api', -300, -5) })], NOW);
    expect(m.fiveHour?.resetsAt).toBeUndefined();
  });
});

describe('thresholds and headroom', () => {
  const t = { fiveHourThreshold: 90, weeklyThreshold: 95 };
  it.each([
    ['below both', { fiveHour: w(89.9, 'usage-api', 0, 100), sevenDay: w(94.9, 'usage-api', 0, 5000) }, false, false],
    ['exactly at 5h threshold', { fiveHour: w(90, 'usage-api', 0, 100), sevenDay: w(10, 'usage-api', 0, 5000) }, true, false],
    ['over weekly only', { fiveHour: w(10, 'usage-api', 0, 100), sevenDay: w(96, 'usage-api', 0, 5000) }, false, true],
    ['exactly at weekly threshold', { sevenDay: w(95, 'usage-api', 0, 5000) }, false, true],
    ['over both', { fiveHour: w(91, 'usage-api', 0, 100), sevenDay: w(96, 'usage-api', 0, 5000) }, true, true],
    ['over 5h but window reset', { fiveHour: w(99, 'usage-api', -300, -1), sevenDay: w(10, 'usage-api', 0, 5000) }, false, false],
    ['over weekly but window reset', { sevenDay: w(99, 'usage-api', -300, -1) }, false, false],
    ['missing windows count as 0', {}, false, false],
    ['over 100', { fiveHour: w(120, 'usage-api', 0, 100) }, true, false],
  ] as const)('%s', (_n, s, fiveHour, sevenDay) => {
    expect(isOverThreshold({ scoped: [], ...s }, t, NOW)).toEqual({ over: fiveHour || sevenDay, fiveHour, sevenDay });
  });

  it('headroom is the nearer threshold', () => {
    expect(headroom({ scoped: [], fiveHour: w(50, 'usage-api', 0), sevenDay: w(80, 'usage-api', 0) }, t, NOW)).toBe(15);
    expect(headroom({ scoped: [], fiveHour: w(85, 'usage-api', 0), sevenDay: w(10, 'usage-api', 0) }, t, NOW)).toBe(5);
  });
});

describe('parseUsageResponse', () => {
  const at = NOW;
  const snap = (body: unknown): UsageSnapshot => {
    const r = parseUsageResponse(body, at);
    if (!r.ok) throw new Error(`refused: ${r.problems.join('; ')}`);
    return r.snapshot;
  };
  it('the documented shape', () => {
    const s = snap({
      five_hour: { utilization: 24.0, resets_at: '2026-01-02T19:59:59.600956+00:00' },
      seven_day: { utilization: 51, resets_at: '2026-01-07T10:00:00+00:00' },
      seven_day_opus: { utilization: 12, resets_at: null },
      seven_day_sonnet: null,
      seven_day_oauth_apps: 'not a window, not checked',
      extra_usage: { is_enabled: false, utilization: null },
    });
    expect(s.fiveHour).toEqual({ utilization: 24, resetsAt: '2026-01-02T19:59:59.600Z', source: 'usage-api', observedAt: at });
    expect(s.sevenDay?.utilization).toBe(51);
    expect(s.scoped).toEqual([{ scope: 'opus', utilization: 12, source: 'usage-api', observedAt: at }]);
  });

  it.each([
    ['null windows', { five_hour: null, seven_day: null }, undefined, undefined],
    ['one window missing', { seven_day: { utilization: 3 } }, undefined, 3],
    ['over 100', { five_hour: { utilization: 112.5, resets_at: null } }, 112.5, undefined],
    ['a window without a figure', { five_hour: { utilization: null, resets_at: null }, seven_day: { utilization: 0 } }, undefined, 0],
    ['epoch resets_at', { five_hour: { utilization: 7, resets_at: 1767380400 } }, 7, undefined],
  ])('valid: %s', (_n, body, five, seven) => {
    const s = snap(body);
    expect(s.fiveHour?.utilization).toBe(five);
    expect(s.sevenDay?.utilization).toBe(seven);
  });

  // A wrong shape is a failed poll (the last good figures are kept), with the field and the problem.
  it.each<[string, unknown, string[]]>([
    ['a window that is a string', { five_hour: 'lots', seven_day: { utilization: 20 } }, ['five_hour: expected object, received string']],
    ['utilization "NaN"', { five_hour: { utilization: 'NaN', resets_at: null }, seven_day: { utilization: 20 } }, ['five_hour.utilization: expected number, received string']],
    ['a numeric string', { five_hour: { utilization: '33.5' } }, ['five_hour.utilization: expected number, received string']],
    ['a negative figure', { five_hour: { utilization: -5 }, seven_day: { utilization: -5 } }, ['five_hour.utilization: must be a percentage ≥ 0 (it may exceed 100)', 'seven_day.utilization: must be a percentage ≥ 0 (it may exceed 100)']],
    ['a window without utilization', { five_hour: { resets_at: null } }, ['five_hour.utilization: expected number, received undefined']],
    ['a bad reset time', { five_hour: { utilization: 3, resets_at: 'tomorrow' } }, ['five_hour.resets_at: must be an ISO-8601 time, epoch seconds or null']],
    ['a scoped window of the wrong shape', { five_hour: { utilization: 3 }, seven_day_opus: { utilization: 'x' } }, ['seven_day_opus.utilization: expected number, received string']],
    ['limits that are not objects', { limits: ['junk'] }, ['limits.0: expected object, received string']],
    ['a limit with a string percent', { limits: [{ kind: 'session', percent: 'high' }] }, ['limits.0.percent: expected number, received string']],
    ['no usage field at all', {}, ['no five_hour, seven_day or limits field: not a usage response']],
    ['an error object answered with 200', { error: { type: 'overloaded_error' } }, ['no five_hour, seven_day or limits field: not a usage response']],
    ['null', null, ['the body is null, not a JSON object']],
    ['an array', [1], ['the body is an array, not a JSON object']],
    ['a string', 'x', ['the body is a string, not a JSON object']],
  ])('refused: %s', (_n, body, problems) => {
    expect(parseUsageResponse(body, at)).toEqual({ ok: false, problems });
  });

  it('limits[] fills gaps and maps scoped windows', () => {
    const s = snap({
      five_hour: { utilization: 40, resets_at: 1767380400 },
      limits: [
        { kind: 'session', percent: 86, resets_at: 1767380400, is_active: true },
        { kind: 'weekly_all', percent: 61, resets_at: '2026-01-07T10:00:00Z', is_active: true },
        { kind: 'weekly_scoped', percent: 97, resets_at: '2026-01-07T10:00:00Z', scope: 'Opus', is_active: true },
        { kind: 'weekly_scoped', percent: 5, scope: { model: 'sonnet' } },
        { kind: 'weekly_scoped', percent: 5 },
        { kind: 'mystery', percent: 1 },
      ],
    });
    expect(s.fiveHour?.utilization).toBe(40); // classic key wins
    expect(s.fiveHour?.resetsAt).toBe(new Date(1767380400 * 1000).toISOString());
    expect(s.sevenDay?.utilization).toBe(61);
    expect(s.scoped.map((x) => [x.scope, x.utilization])).toEqual([
      ['opus', 97],
      ['sonnet', 5],
    ]);
  });
});

describe('parseStatusLineUsage', () => {
  it('reads used_percentage with epoch-second resets', () => {
    const s = parseStatusLineUsage(
      JSON.stringify({ session_id: 's', rate_limits: { five_hour: { used_percentage: 23.5, resets_at: 1738425600 }, seven_day: { used_percentage: 41 } } }),
      NOW,
    );
    expect(s?.fiveHour).toEqual({ utilization: 23.5, resetsAt: '2025-02-01T16:00:00.000Z', source: 'statusline', observedAt: NOW });
    expect(s?.sevenDay?.utilization).toBe(41);
  });
  it.each([['no rate_limits', { session_id: 's' }], ['empty rate_limits', { rate_limits: {} }], ['not JSON', '{oops']])('%s → undefined', (_n, v) => {
    expect(parseStatusLineUsage(typeof v === 'string' ? v : JSON.stringify(v), NOW)).toBeUndefined();
  });
});

describe('small helpers', () => {
  it('normalizeTime', () => {
    expect(normalizeTime(1738425600)).toBe('2025-02-01T16:00:00.000Z');
    expect(normalizeTime(1738425600000)).toBe('2025-02-01T16:00:00.000Z');
    expect(normalizeTime('1738425600')).toBe('2025-02-01T16:00:00.000Z');
    expect(normalizeTime('nope')).toBeUndefined();
    expect(normalizeTime(null)).toBeUndefined();
  });
  it('evidenceFromLimit skips warnings and keeps scope/reset', () => {
    expect(evidenceFromLimit({ kind: 'five_hour', warning: true }, 'pane', NOW)).toBeUndefined();
    expect(evidenceFromLimit({ kind: 'opus', warning: false, scope: 'opus', resetsAt: new Date(T(5)) }, 'transcript', NOW)).toEqual({
      kind: 'opus',
      scope: 'opus',
      resetsAt: T(5),
      source: 'transcript',
      observedAt: NOW,
    });
  });
  it.each([
    [0, '0s'],
    [59_000, '59s'],
    [5 * 60_000, '5m'],
    [2 * 3600_000 + 3 * 60_000, '2h3m'],
    [26 * 3600_000, '1d2h'],
  ])('formatAge(%d) = %s', (ms, s) => {
    expect(formatAge(ms)).toBe(s);
  });
});
