import { describe, expect, it } from 'vitest';
import {
  findLimitMessages,
  isTransientRateLimitText,
  parseLimitMessage,
  parseStopFailureLimit,
  parseTranscriptLimit,
  resolveResetTime,
  stripAnsi,
  zonedTimeToUtc,
  type LimitKind,
} from '../../src/core/limit-messages.js';

// Tuesday 2026-03-10 12:00 UTC (US already on DST since Mar 8; Europe not until Mar 29).
const NOW = new Date('2026-03-10T12:00:00Z');

interface Case {
  name: string;
  text: string;
  now?: string;
  zone?: string;
  kind: LimitKind;
  warning?: boolean;
  resetsAt?: string | null;
  scope?: string;
  percent?: number;
}

const CASES: Case[] = [
  // era 1
  { name: 'era1 prose with Etc zone (UTC-5)', text: 'Claude usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).', kind: 'usage', resetsAt: '2026-03-10T18:00:00.000Z' },
  { name: 'era1 epoch seconds', text: 'Claude AI usage limit reached|1749924000', kind: 'usage', resetsAt: new Date(1749924000 * 1000).toISOString() },
  { name: 'era1 epoch milliseconds', text: 'Claude AI usage limit reached|1749924000000', kind: 'usage', resetsAt: new Date(1749924000 * 1000).toISOString() },
  { name: 'era1 without reset', text: 'Claude usage limit reached.', kind: 'usage', resetsAt: null },
  // era 2
  { name: '5-hour, default zone UTC', text: '5-hour limit reached ∙ resets 9pm', zone: 'UTC', kind: 'five_hour', resetsAt: '2026-03-10T21:00:00.000Z' },
  { name: 'Opus weekly, month day, New York EDT', text: 'Opus weekly limit reached ∙ resets Oct 31, 9am', zone: 'America/New_York', kind: 'opus', scope: 'opus', resetsAt: '2026-10-31T13:00:00.000Z' },
  { name: 'Session, Tokyo, time already passed today → tomorrow', text: 'Session limit reached ∙ resets 8pm', zone: 'Asia/Tokyo', kind: 'session', resetsAt: '2026-03-11T11:00:00.000Z' },
  { name: 'Weekly (era 2 wording)', text: 'Weekly limit reached ∙ resets Mon 9am', zone: 'UTC', kind: 'weekly', resetsAt: '2026-03-16T09:00:00.000Z' },
  { name: 'Sonnet weekly (extra)', text: 'Sonnet weekly limit reached ∙ resets Oct 31, 9am', zone: 'UTC', kind: 'weekly', scope: 'sonnet', resetsAt: '2026-10-31T09:00:00.000Z' },
  { name: 'warning 5-hour', text: 'Approaching 5-hour limit', kind: 'five_hour', warning: true, resetsAt: null },
  { name: 'warning usage', text: 'Approaching usage limit', kind: 'usage', warning: true, resetsAt: null },
  { name: 'warning weekly with reset', text: 'Approaching weekly limit · resets Mon 12:00am', zone: 'UTC', kind: 'weekly', warning: true, resetsAt: '2026-03-16T00:00:00.000Z' },
  { name: 'warning Opus', text: 'Approaching Opus limit', kind: 'opus', warning: true, scope: 'opus', resetsAt: null },
  // era 3
  { name: 'generic, Dec 17 at 6am Oslo (CET)', text: 'Limit reached · resets Dec 17 at 6am (Europe/Oslo)', kind: 'generic', resetsAt: '2026-12-17T05:00:00.000Z' },
  { name: 'generic, LA PDT', text: "You've hit your limit · resets 8am (America/Los_Angeles)", kind: 'generic', resetsAt: '2026-03-10T15:00:00.000Z' },
  // era 4
  { name: 'session 3:45pm, London GMT default', text: "You've hit your session limit · resets 3:45pm", zone: 'Europe/London', kind: 'session', resetsAt: '2026-03-10T15:45:00.000Z' },
  { name: 'weekly Mon 12:00am → next Monday', text: "You've hit your weekly limit · resets Mon 12:00am", zone: 'UTC', kind: 'weekly', resetsAt: '2026-03-16T00:00:00.000Z' },
  { name: 'Opus Berlin CET', text: "You've hit your Opus limit · resets 3:45pm (Europe/Berlin)", kind: 'opus', scope: 'opus', resetsAt: '2026-03-10T14:45:00.000Z' },
  // 2.1.332, measured by the conformance suite (test/conformance/)
  { name: '2.1.332 5-hour', text: "You've hit your 5-hour limit · resets 6:06pm (UTC)", kind: 'five_hour', resetsAt: '2026-03-10T18:06:00.000Z' },
  { name: '2.1.332 weekly with month day', text: "  ⎿  You've hit your weekly limit · resets Dec 10, 1:54pm (UTC)", kind: 'weekly', resetsAt: '2026-12-10T13:54:00.000Z' },
  { name: '2.1.332 status region', text: '  ⚠ Usage limit reached · limit resets 6:06pm', zone: 'UTC', kind: 'usage', resetsAt: '2026-03-10T18:06:00.000Z' },
  { name: 'Saigon 9:50pm', text: "You've hit your session limit · resets 9:50pm (Asia/Saigon)", kind: 'session', resetsAt: '2026-03-10T14:50:00.000Z' },
  { name: 'typographic apostrophe and en dash', text: 'You’ve hit your session limit – resets 3:45pm (UTC)', kind: 'session', resetsAt: '2026-03-10T15:45:00.000Z' },
  { name: 'with /login hint on the same line', text: "You've hit your limit · resets 8am (America/Los_Angeles) /login to switch to an API usage-billed account.", kind: 'generic', resetsAt: '2026-03-10T15:00:00.000Z' },
  { name: 'TUI decoration before the message', text: "  ⎿  You've hit your session limit · resets 3:45pm (UTC)", kind: 'session', resetsAt: '2026-03-10T15:45:00.000Z' },
  { name: 'ANSI colours', text: '\u001b[1;31m5-hour limit reached ∙ resets 9pm\u001b[0m', zone: 'UTC', kind: 'five_hour', resetsAt: '2026-03-10T21:00:00.000Z' },
  { name: 'extra: used N% warning', text: "You've used 90% of your weekly limit · resets Mon 9am (UTC)", kind: 'weekly', warning: true, percent: 90, resetsAt: '2026-03-16T09:00:00.000Z' },
  { name: 'extra: relative reset', text: "You've hit your session limit · resets in 2h 5m", kind: 'session', resetsAt: '2026-03-10T14:05:00.000Z' },
  { name: '24-hour clock', text: "You've hit your session limit · resets 21:00 (UTC)", kind: 'session', resetsAt: '2026-03-10T21:00:00.000Z' },
  { name: '12pm Tokyo (passed today → tomorrow noon)', text: "You've hit your session limit · resets 12pm (Asia/Tokyo)", kind: 'session', resetsAt: '2026-03-11T03:00:00.000Z' },
  { name: '12am Tokyo = next local midnight', text: "You've hit your session limit · resets 12am (Asia/Tokyo)", kind: 'session', resetsAt: '2026-03-10T15:00:00.000Z' },
  { name: 'half-hour zone Kolkata', text: "You've hit your session limit · resets 11:30pm (Asia/Kolkata)", kind: 'session', resetsAt: '2026-03-10T18:00:00.000Z' },
  { name: 'UTC+14 across the date line', text: "You've hit your session limit · resets 1am (Pacific/Kiritimati)", kind: 'session', resetsAt: '2026-03-11T11:00:00.000Z' },
  { name: 'noon word', text: "You've hit your session limit · resets noon (Asia/Tokyo)", kind: 'session', resetsAt: '2026-03-11T03:00:00.000Z' },
  { name: 'invalid zone: kind kept, reset unknown', text: "You've hit your session limit · resets 3pm (Mars/Olympus)", kind: 'session', resetsAt: null },
  { name: 'unparsable reset: kind kept, reset unknown', text: "You've hit your session limit · resets soon", kind: 'session', resetsAt: null },
  // DST-sensitive
  { name: 'Berlin: next day is the first CEST day', now: '2026-03-28T22:00:00Z', text: "You've hit your session limit · resets 3:45pm (Europe/Berlin)", kind: 'session', resetsAt: '2026-03-29T13:45:00.000Z' },
  { name: 'Berlin: 2:30am does not exist on spring-forward day → 3:30 CEST', now: '2026-03-28T23:00:00Z', text: "You've hit your session limit · resets 2:30am (Europe/Berlin)", kind: 'session', resetsAt: '2026-03-29T01:30:00.000Z' },
  { name: 'Berlin: 2:30am twice on fall-back day → the later (CET)', now: '2026-10-24T23:00:00Z', text: "You've hit your session limit · resets 2:30am (Europe/Berlin)", kind: 'session', resetsAt: '2026-10-25T01:30:00.000Z' },
  { name: 'New York: Monday after fall-back (EST)', now: '2026-10-31T20:00:00Z', text: "You've hit your weekly limit · resets Mon 12:00am (America/New_York)", kind: 'weekly', resetsAt: '2026-11-02T05:00:00.000Z' },
  { name: 'New York: same weekday, later today (before fall-back)', now: '2026-10-31T12:00:00Z', text: "You've hit your weekly limit · resets Sat 11pm (America/New_York)", kind: 'weekly', resetsAt: '2026-11-01T03:00:00.000Z' },
  { name: 'Sydney: after DST ended (AEST)', now: '2026-04-04T12:00:00Z', text: 'Limit reached · resets Apr 6, 9am (Australia/Sydney)', kind: 'generic', resetsAt: '2026-04-05T23:00:00.000Z' },
  { name: 'Sydney: date passed → next year, that day is AEST again', now: '2026-04-04T12:00:00Z', text: 'Limit reached · resets Apr 4, 9am (Australia/Sydney)', kind: 'generic', resetsAt: '2027-04-03T23:00:00.000Z' },
  { name: 'year rollover', now: '2026-12-31T12:00:00Z', text: 'Limit reached · resets Jan 2, 9am (UTC)', kind: 'generic', resetsAt: '2027-01-02T09:00:00.000Z' },
  { name: 'reset a minute ago (rounding) → today, not tomorrow', now: '2026-03-10T12:00:30Z', text: "You've hit your session limit · resets 11:59am (UTC)", kind: 'session', resetsAt: '2026-03-10T11:59:00.000Z' },
  { name: 'reset 10 minutes ago → tomorrow', now: '2026-03-10T12:00:30Z', text: "You've hit your session limit · resets 11:50am (UTC)", kind: 'session', resetsAt: '2026-03-11T11:50:00.000Z' },
];

describe('parseLimitMessage: every variant', () => {
  it.each(CASES)('$name', (c) => {
    const m = parseLimitMessage(c.text, { now: c.now ? new Date(c.now) : NOW, defaultTimeZone: c.zone ?? 'UTC' });
    expect(m).not.toBeNull();
    expect(m?.kind).toBe(c.kind);
    expect(m?.warning).toBe(c.warning ?? false);
    if (c.resetsAt === null) expect(m?.resetsAt).toBeUndefined();
    else if (c.resetsAt !== undefined) expect(m?.resetsAt?.toISOString()).toBe(c.resetsAt);
    if (c.scope !== undefined) expect(m?.scope).toBe(c.scope);
    if (c.percent !== undefined) expect(m?.percent).toBe(c.percent);
  });
});

describe('parseLimitMessage: not quota limits, not messages', () => {
  const NOT: Array<[string, string]> = [
    ['server throttling', 'API Error: Server is temporarily limiting requests (not your usage limit)'],
    ['transient rate limit', 'API Error: Rate limit reached'],
    ['bare rate limit', 'Rate limit reached'],
    ['overloaded', 'Overloaded'],
    ['overloaded 529', 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'],
    ['prose mentioning the message', 'The TUI prints "You\'ve hit your session limit · resets 3pm" when the quota is gone.'],
    ['quoted line', '"You\'ve hit your session limit · resets 3pm" appears when the quota is gone'],
    ['sentence continuing after the reset', "You've hit your session limit · resets 3pm, so I'll wait"],
    ['other limit words', "You've hit your limit before, try again"],
    ['code', 'if (msg.includes("limit reached")) retry();'],
    ['empty', ''],
  ];
  it.each(NOT)('%s → null', (_name, text) => {
    expect(parseLimitMessage(text, { now: NOW, defaultTimeZone: 'UTC' })).toBeNull();
  });

  it.each([
    ['API Error: Server is temporarily limiting requests (not your usage limit)', true],
    ['API Error: Rate limit reached', true],
    ['Overloaded', true],
    ["You've hit your session limit · resets 3:45pm", false],
    ['5-hour limit reached ∙ resets 9pm', false],
  ] as const)('isTransientRateLimitText(%j) = %s', (text, expected) => {
    expect(isTransientRateLimitText(text)).toBe(expected);
  });
});

describe('findLimitMessages on pane text', () => {
  it('finds every message in order and the last one wins in parseLimitMessage', () => {
    const pane = [
      '> working on task 12',
      '\u001b[33mApproaching 5-hour limit\u001b[0m',
      '  ⎿  You\'ve hit your session limit · resets 3:45pm (UTC)',
      '     /login to switch to an API usage-billed account.',
      '',
    ].join('\r\n');
    const all = findLimitMessages(pane, { now: NOW, defaultTimeZone: 'UTC' });
    expect(all.map((m) => [m.kind, m.warning])).toEqual([
      ['five_hour', true],
      ['session', false],
    ]);
    expect(parseLimitMessage(pane, { now: NOW })?.resetsAt?.toISOString()).toBe('2026-03-10T15:45:00.000Z');
  });

  it('stripAnsi removes CSI, OSC and bare CR', () => {
    expect(stripAnsi('\u001b]0;title\u0007a\u001b[2Kb\rc\u001b[0m')).toBe('abc');
  });
});

describe('time zone math', () => {
  it.each([
    [{ year: 2026, month: 3, day: 10, hour: 15, minute: 45 }, 'Europe/Berlin', '2026-03-10T14:45:00.000Z'],
    [{ year: 2026, month: 7, day: 10, hour: 15, minute: 45 }, 'Europe/Berlin', '2026-07-10T13:45:00.000Z'],
    [{ year: 2026, month: 1, day: 32, hour: 0, minute: 0 }, 'UTC', '2026-02-01T00:00:00.000Z'],
    [{ year: 2026, month: 3, day: 8, hour: 2, minute: 30 }, 'America/New_York', '2026-03-08T07:30:00.000Z'],
    [{ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York', '2026-11-01T06:30:00.000Z'],
    [{ year: 2026, month: 6, day: 1, hour: 0, minute: 0 }, 'Asia/Kathmandu', '2026-05-31T18:15:00.000Z'],
  ])('zonedTimeToUtc(%j, %s) = %s', (local, zone, expected) => {
    expect(zonedTimeToUtc(local, zone).toISOString()).toBe(expected);
  });

  it('resolveResetTime returns undefined for an invalid zone or clause', () => {
    expect(resolveResetTime('3pm', 'Not/AZone', NOW)).toBeUndefined();
    expect(resolveResetTime('13pm', 'UTC', NOW)).toBeUndefined();
    expect(resolveResetTime('Feb 30, 9am', 'UTC', NOW)).toBeUndefined();
    expect(resolveResetTime('at 3pm', 'UTC', NOW)?.toISOString()).toBe('2026-03-10T15:00:00.000Z');
  });

  it('Feb 29 resolves to the next leap year', () => {
    expect(resolveResetTime('Feb 29, 9am', 'UTC', NOW)?.toISOString()).toBe('2028-02-29T09:00:00.000Z');
  });
});

describe('parseTranscriptLimit', () => {
  const line = (extra: Record<string, unknown>, text: string): string =>
    JSON.stringify({ type: 'assistant', message: { content: [{ type: 'text', text }] }, ...extra });

  it('the documented record shape → session hit, reset from the text', () => {
    const rec = line({ error: 'rate_limit', isApiErrorMessage: true, apiErrorStatus: 429 }, "You've hit your session limit · resets 9:50pm (Asia/Saigon)");
    const e = parseTranscriptLimit(rec, { now: NOW });
    expect(e).toMatchObject({ kind: 'session', warning: false, source: 'transcript' });
    expect(e?.resetsAt?.toISOString()).toBe('2026-03-10T14:50:00.000Z');
    expect(e?.observedAt).toBe(NOW.toISOString());
  });

  it('uses the record timestamp as the reference time', () => {
    const rec = line({ error: 'rate_limit', timestamp: '2026-03-10T12:00:00Z' }, "You've hit your session limit · resets 9:50pm (Asia/Saigon)");
    const e = parseTranscriptLimit(rec, { now: new Date('2026-03-10T20:00:00Z') });
    expect(e?.resetsAt?.toISOString()).toBe('2026-03-10T14:50:00.000Z');
    expect(e?.observedAt).toBe('2026-03-10T12:00:00.000Z');
  });

  it('rate_limit with unrecognised text → generic hit without reset', () => {
    const e = parseTranscriptLimit(line({ error: 'rate_limit' }, 'Something new happened'), { now: NOW });
    expect(e).toMatchObject({ kind: 'generic', warning: false });
    expect(e?.resetsAt).toBeUndefined();
  });

  it.each([
    ['transient text with rate_limit', line({ error: 'rate_limit', isApiErrorMessage: true }, 'API Error: Rate limit reached')],
    ['server throttling with rate_limit', line({ error: 'rate_limit' }, 'API Error: Server is temporarily limiting requests (not your usage limit)')],
    ['ordinary assistant text quoting the message', line({}, "You've hit your session limit · resets 3pm")],
    ['API error that is not a limit', line({ isApiErrorMessage: true }, 'API Error: 500 Internal server error')],
    ['a warning in an API error message', line({ isApiErrorMessage: true }, 'Approaching 5-hour limit')],
    ['not JSON', '{"type":"assistant", broken'],
    ['not an object', '42'],
  ])('%s → null', (_n, rec) => {
    expect(parseTranscriptLimit(rec, { now: NOW })).toBeNull();
  });

  it('isApiErrorMessage with a limit text but no error field → evidence', () => {
    const e = parseTranscriptLimit(line({ isApiErrorMessage: true }, '5-hour limit reached ∙ resets 9pm'), { now: NOW, defaultTimeZone: 'UTC' });
    expect(e?.kind).toBe('five_hour');
    expect(e?.resetsAt?.toISOString()).toBe('2026-03-10T21:00:00.000Z');
  });

  it('era 1 epoch text as the whole content → evidence', () => {
    const e = parseTranscriptLimit({ type: 'assistant', message: { content: 'Claude AI usage limit reached|1749924000' } }, { now: NOW });
    expect(e?.kind).toBe('usage');
    expect(e?.resetsAt?.getTime()).toBe(1749924000 * 1000);
  });
});

describe('parseStopFailureLimit', () => {
  it.each([
    [
      'rate_limit with text',
      { hook_event_name: 'StopFailure', error: 'rate_limit', error_message: "You've hit your Opus limit · resets 3:45pm (Europe/Berlin)" },
      { kind: 'opus', resetsAt: '2026-03-10T14:45:00.000Z' },
    ],
    ['rate_limit, nested message object', { error: 'rate_limit', message: { text: 'Session limit reached ∙ resets 8pm' } }, { kind: 'session', resetsAt: '2026-03-10T20:00:00.000Z' }],
    ['rate_limit without text', { hook_event_name: 'StopFailure', error: 'rate_limit' }, { kind: 'generic', resetsAt: null }],
    ['overloaded', { error: 'overloaded', error_message: 'Overloaded' }, null],
    ['rate_limit that is transient', { error: 'rate_limit', error_message: 'API Error: Server is temporarily limiting requests (not your usage limit)' }, null],
    ['authentication_failed', { error: 'authentication_failed' }, null],
  ] as const)('%s', (_n, payload, expected) => {
    const e = parseStopFailureLimit(JSON.stringify(payload), { now: NOW, defaultTimeZone: 'UTC' });
    if (expected === null) {
      expect(e).toBeNull();
      return;
    }
    expect(e?.source).toBe('stop-failure');
    expect(e?.kind).toBe(expected.kind);
    if (expected.resetsAt === null) expect(e?.resetsAt).toBeUndefined();
    else expect(e?.resetsAt?.toISOString()).toBe(expected.resetsAt);
  });
});
