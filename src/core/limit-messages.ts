/**
 * Claude Code's usage-limit messages: every known variant, all eras, in ONE place.
 *
 * Claude Code's wording is not a stable API (it changed between releases: the eras below). When a release changes it,
 * this file is the one edit. Everything here is pure: the reference time `now` and the default
 * time zone are arguments; time-zone math uses `Intl` only.
 *
 * Recognised (after stripping ANSI codes; `·`, `∙`, `•`, `-`, `–`, `—`, `|` all accepted as the
 * separator; `'` or `’` in "You've"):
 *
 *   era 1  `Claude usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).`      kind usage
 *          `Claude AI usage limit reached|1749924000`   (epoch seconds, transcript text) kind usage
 *   era 2  `5-hour limit reached ∙ resets 9pm`                                          kind five_hour
 *          `Session limit reached ∙ resets 8pm`                                         kind session
 *          `Weekly limit reached ∙ resets Mon 9am`                                      kind weekly
 *          `Opus weekly limit reached ∙ resets Oct 31, 9am`                             kind opus
 *          `Approaching 5-hour limit`, `Approaching usage limit` (…weekly/Opus/session) warning
 *   era 3  `Limit reached · resets Dec 17 at 6am (Europe/Oslo)`                         kind generic
 *          `You've hit your limit · resets 8am (America/Los_Angeles)`                   kind generic
 *   era 4  `You've hit your session limit · resets 3:45pm`                              kind session
 *          `You've hit your 5-hour limit · resets 6:06pm (UTC)`   (2.1.332)            kind five_hour
 *          `⚠ Usage limit reached · limit resets 6:06pm`  (2.1.332 status region)      kind usage
 *          `You've hit your weekly limit · resets Mon 12:00am`                          kind weekly
 *          `You've hit your Opus limit · resets 3:45pm (Europe/Berlin)`                 kind opus
 *   extra (tolerance, not in the fact sheet): `Sonnet weekly limit` / `You've hit your Sonnet
 *          limit` (kind weekly, scope sonnet); `You've used 90% of your weekly limit` (warning with
 *          percent); `resets in 2h 5m` (relative reset).
 *
 * NOT quota limits (never matched; see {@link isTransientRateLimitText}):
 *   `API Error: Server is temporarily limiting requests (not your usage limit)`,
 *   `API Error: Rate limit reached`, `Overloaded` (and `API Error: 529 …overloaded…`).
 *
 * False positives: the same words appear in files and chat an agent prints. Line matching is
 * anchored at the start of a line (after TUI decoration such as `⎿ ● │ >` and spaces), which
 * rejects prose that merely mentions the message, but a `cat` of a file can still produce a
 * matching line. Pane text is therefore only a hint that needs confirmation; the structured
 * parsers ({@link parseTranscriptLimit}, {@link parseStopFailureLimit}) are hard evidence.
 */

export type LimitKind = 'session' | 'five_hour' | 'weekly' | 'opus' | 'usage' | 'generic';

export interface LimitMatch {
  kind: LimitKind;
  /** True for "Approaching … limit" / "You've used N% …": a warning, not a hit. */
  warning: boolean;
  /** The instant the limit resets, when the text says so and the time could be resolved. */
  resetsAt?: Date;
  /** The reset clause as printed (e.g. `Dec 17 at 6am`), without the zone. */
  resetText?: string;
  /** The IANA zone used to resolve `resetsAt` (the stated one, else the default). */
  timeZone?: string;
  /** Per-model scope of a weekly limit (`opus`, `sonnet`); `opus` kind always has `opus`. */
  scope?: string;
  /** Percent used, for "You've used N% of your … limit" warnings. */
  percent?: number;
  /** The matched line, ANSI-stripped and trimmed. */
  text: string;
}

export interface LimitParseOptions {
  /** Reference time: when the message was printed/observed. Reset times resolve after it. */
  now: Date;
  /** Zone for resets printed without `(Zone)`. Default: the host's zone (`Intl`). */
  defaultTimeZone?: string;
  /**
   * A printed reset time up to this far in the past still counts as "this" occurrence rather than
   * the next day/week/year (Claude Code rounds reset times to the minute or hour). Default 2 min.
   */
  pastToleranceMs?: number;
}

// ---------------------------------------------------------------------------------------------
// ANSI stripping

// eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
const ANSI_RE = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[PX^_][^\u001b]*\u001b\\|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]/g;

/** Removes ANSI/VT escape sequences (CSI, OSC, DCS, single-char escapes) and stray CRs. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_RE, '').replace(/\r(?!\n)/g, '');
}

// ---------------------------------------------------------------------------------------------
// Patterns (all of them live here)

const SEP = String.raw`\s*[·∙•|\-–—]\s*`;
/** TUI decoration allowed before a message at the start of a line. */
const LEAD = String.raw`^[^\p{L}\p{N}]*`;
const APOS = `['’]`;
const ZONE = String.raw`\((?<zone>[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*)\)`;
/**
 * The reset clause: up to an optional `(Zone)`, an optional `/login …` hint, and the end of the
 * line. Quotes are not allowed in it, so a quoted mention inside prose does not match.
 */
const RESET_CLAUSE = String.raw`(?<reset>[^()\n/"'\x60‘’“”]*?)\s*(?:${ZONE})?\s*\.?(?:\s+/login\b.*)?\s*`;

interface LinePattern {
  re: RegExp;
  /** Builds the match skeleton from the regex groups. */
  build(g: Record<string, string | undefined>): Omit<LimitMatch, 'text' | 'resetsAt' | 'timeZone' | 'resetText'>;
}

function qualifierKind(q: string | undefined): { kind: LimitKind; scope?: string } {
  const s = (q ?? '').trim().toLowerCase().replace(/\s+/g, ' ');
  if (s === '') return { kind: 'generic' };
  if (s === '5-hour' || s === '5 hour' || s === 'five-hour') return { kind: 'five_hour' };
  if (s === 'session') return { kind: 'session' };
  if (s === 'weekly') return { kind: 'weekly' };
  if (s === 'usage') return { kind: 'usage' };
  if (s.startsWith('opus')) return { kind: 'opus', scope: 'opus' };
  if (s.startsWith('sonnet')) return { kind: 'weekly', scope: 'sonnet' };
  return { kind: 'generic' };
}

const QUALIFIER = String.raw`(?<q>5-hour|5 hour|session|weekly|usage|opus weekly|opus|sonnet weekly|sonnet)`;

const LINE_PATTERNS: readonly LinePattern[] = [
  // era 1, epoch form (transcript text): `Claude AI usage limit reached|1749924000`
  {
    re: new RegExp(String.raw`${LEAD}Claude(?: AI)? usage limit reached\|(?<epoch>\d{9,13})\s*$`, 'u'),
    build: () => ({ kind: 'usage', warning: false }),
  },
  // era 1: `Claude usage limit reached. Your limit will reset at 1pm (Etc/GMT+5).`
  {
    re: new RegExp(String.raw`${LEAD}Claude(?: AI)? usage limit reached\.?(?:\s*Your limit will reset (?:at\s+)?${RESET_CLAUSE})?$`, 'iu'),
    build: () => ({ kind: 'usage', warning: false }),
  },
  // era 2/3: `5-hour limit reached ∙ resets 9pm`, `Limit reached · resets Dec 17 at 6am (Europe/Oslo)`,
  // and 2.1.332's status region: `⚠ Usage limit reached · limit resets 6:06pm`
  {
    re: new RegExp(String.raw`${LEAD}(?:${QUALIFIER}\s+)?limit reached(?:${SEP}(?:limit\s+)?resets?\s+${RESET_CLAUSE})?$`, 'iu'),
    build: (g) => ({ ...qualifierKind(g.q), warning: false }),
  },
  // era 3/4: `You've hit your limit · resets 8am (America/Los_Angeles)`, `You've hit your Opus limit · …`
  {
    re: new RegExp(String.raw`${LEAD}You${APOS}ve hit your (?:${QUALIFIER}\s+)?limit(?:${SEP}resets?\s+${RESET_CLAUSE})?$`, 'iu'),
    build: (g) => ({ ...qualifierKind(g.q), warning: false }),
  },
  // warnings: `Approaching 5-hour limit`, `Approaching usage limit` (+ optional reset clause)
  {
    re: new RegExp(String.raw`${LEAD}Approaching (?:your )?(?:${QUALIFIER}\s+)?limit(?:${SEP}resets?\s+${RESET_CLAUSE})?$`, 'iu'),
    build: (g) => ({ ...qualifierKind(g.q), warning: true }),
  },
  // warnings (extra): `You've used 90% of your weekly limit · resets Mon 9am`
  {
    re: new RegExp(String.raw`${LEAD}You${APOS}ve used (?<pct>\d{1,3}(?:\.\d+)?)% of your (?:${QUALIFIER}\s+)?limit(?:${SEP}resets?\s+${RESET_CLAUSE})?$`, 'iu'),
    build: (g) => ({ ...qualifierKind(g.q), warning: true, percent: Number(g.pct) }),
  },
];

/**
 * Text of rate-limit errors that are NOT the account's quota: transient throttling or overload.
 * A line (or a transcript record) matching one of these never counts as a limit hit.
 */
const TRANSIENT_RES: readonly RegExp[] = [
  /not your usage limit/i,
  /Server is temporarily limiting requests/i,
  /API Error:\s*Rate limit reached/i,
  /^[^\p{L}\p{N}]*Rate limit reached\b/iu,
  /\bOverloaded\b/i,
  /API Error:\s*529\b/i,
];

/** True when the text is a transient rate-limit/overload error rather than a quota limit. */
export function isTransientRateLimitText(text: string): boolean {
  const plain = stripAnsi(text);
  return TRANSIENT_RES.some((re) => re.test(plain));
}

// ---------------------------------------------------------------------------------------------
// Time-zone math (Intl only)

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat | undefined {
  const hit = formatters.get(timeZone);
  if (hit) return hit;
  try {
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
    return f;
  } catch (_err) {
    return undefined;
  }
}

/** True when `timeZone` is an IANA zone name (or alias) that Intl accepts. */
export function isValidTimeZone(timeZone: string): boolean {
  return formatterFor(timeZone) !== undefined;
}

/** The host's time zone as Intl resolves it (`UTC` when unknown). */
export function hostTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

export interface ZonedParts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday … 6 = Saturday */
  weekday: number;
}

/** Wall-clock fields of instant `ms` in `timeZone`. Throws RangeError for an invalid zone. */
export function zonedParts(ms: number, timeZone: string): ZonedParts {
  const f = formatterFor(timeZone);
  if (!f) throw new RangeError(`invalid time zone: ${timeZone}`);
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(ms))) out[p.type] = p.value;
  const hour = Number(out.hour);
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: hour === 24 ? 0 : hour,
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAYS.indexOf((out.weekday ?? '').slice(0, 3).toLowerCase() as (typeof WEEKDAYS)[number]),
  };
}

function offsetAt(utcMs: number, timeZone: string): number {
  const p = zonedParts(utcMs, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock in `timeZone` shows the given local time. Month/day
 * overflow is normalised (day 32 = next month). In a DST gap (a local time that does not exist)
 * the result is shifted forward by the gap (02:30 → 03:30); for an ambiguous local time (the hour
 * repeated when clocks go back) the later instant is returned.
 */
export function zonedTimeToUtc(
  local: { year: number; month: number; day: number; hour: number; minute: number },
  timeZone: string,
): Date {
  const guess = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  // Offsets a day before and after: at most one transition lies between them.
  const before = offsetAt(guess - 86_400_000, timeZone);
  const after = offsetAt(guess + 86_400_000, timeZone);
  const valid = [guess - before, guess - after].filter((c) => c + offsetAt(c, timeZone) === guess);
  if (valid.length > 0) return new Date(Math.max(...valid));
  // A DST gap: the wall clock jumps over this time; shift forward by the gap.
  return new Date(guess - before);
}

// ---------------------------------------------------------------------------------------------
// Reset-clause grammar

const MONTHS: Record<string, number> = {
  jan: 1, january: 1, feb: 2, february: 2, mar: 3, march: 3, apr: 4, april: 4, may: 5, jun: 6, june: 6,
  jul: 7, july: 7, aug: 8, august: 8, sep: 9, sept: 9, september: 9, oct: 10, october: 10, nov: 11,
  november: 11, dec: 12, december: 12,
};
const WEEKDAY_NAMES: Record<string, number> = {
  sun: 0, sunday: 0, mon: 1, monday: 1, tue: 2, tues: 2, tuesday: 2, wed: 3, wednesday: 3, thu: 4,
  thur: 4, thurs: 4, thursday: 4, fri: 5, friday: 5, sat: 6, saturday: 6,
};

const TIME_RE = String.raw`(?:(?<h>\d{1,2})(?::(?<m>\d{2}))?\s*(?<ampm>[ap]\.?\s?m\.?)?|(?<word>noon|midnight))`;
const ABSOLUTE_RESET_RE = new RegExp(
  String.raw`^(?:(?:(?<mon>[A-Za-z]{3,9})\.?\s+(?<dom>\d{1,2})(?:st|nd|rd|th)?,?|(?<dow>[A-Za-z]{3,9})\.?,?|(?<today>today|tomorrow))\s+(?:at\s+)?)?${TIME_RE}$`,
  'i',
);
const RELATIVE_RESET_RE = /^in\s+(?:(?<d>\d+)\s*d(?:ays?)?\s*)?(?:(?<h>\d+)\s*h(?:(?:ou)?rs?)?\s*)?(?:(?<m>\d+)\s*m(?:in(?:ute)?s?)?)?$/i;

interface ResolveArgs {
  resetText: string;
  timeZone: string;
  now: Date;
  pastToleranceMs: number;
}

function dayShift(p: { year: number; month: number; day: number }, days: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(p.year, p.month - 1, p.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

/**
 * Resolves a printed reset clause (`3:45pm`, `Oct 31, 9am`, `Dec 17 at 6am`, `Mon 12:00am`,
 * `in 2h 5m`) to the next matching instant in `timeZone` after `now - pastToleranceMs`.
 * Returns undefined when the clause or zone is not understood.
 */
export function resolveResetTime(resetText: string, timeZone: string, now: Date, pastToleranceMs = 120_000): Date | undefined {
  if (!isValidTimeZone(timeZone)) return undefined;
  return resolve({ resetText: resetText.trim().replace(/\s+/g, ' '), timeZone, now, pastToleranceMs });
}

function resolve(a: ResolveArgs): Date | undefined {
  a = { ...a, resetText: a.resetText.replace(/^at\s+/i, '') };
  const rel = RELATIVE_RESET_RE.exec(a.resetText);
  if (rel?.groups && (rel.groups.d || rel.groups.h || rel.groups.m)) {
    const ms = (Number(rel.groups.d ?? 0) * 24 * 60 + Number(rel.groups.h ?? 0) * 60 + Number(rel.groups.m ?? 0)) * 60_000;
    return new Date(a.now.getTime() + ms);
  }
  const m = ABSOLUTE_RESET_RE.exec(a.resetText);
  const g = m?.groups;
  if (!g) return undefined;
  let hour: number;
  let minute = 0;
  if (g.word) {
    hour = g.word.toLowerCase() === 'noon' ? 12 : 0;
  } else {
    hour = Number(g.h);
    minute = g.m ? Number(g.m) : 0;
    const ampm = g.ampm?.toLowerCase().replace(/[.\s]/g, '');
    if (ampm) {
      if (hour < 1 || hour > 12) return undefined;
      if (ampm === 'am') hour = hour === 12 ? 0 : hour;
      else hour = hour === 12 ? 12 : hour + 12;
    } else if (hour > 23) {
      return undefined;
    }
  }
  if (minute > 59) return undefined;

  const earliest = a.now.getTime() - a.pastToleranceMs;
  const today = zonedParts(a.now.getTime(), a.timeZone);
  const at = (p: { year: number; month: number; day: number }): Date =>
    zonedTimeToUtc({ ...p, hour, minute }, a.timeZone);

  if (g.mon && g.dom) {
    const month = MONTHS[g.mon.toLowerCase()];
    const dom = Number(g.dom);
    if (!month || dom < 1 || dom > 31) return undefined;
    for (const year of [today.year - 1, today.year, today.year + 1, today.year + 2]) {
      // Skip dates that do not exist in that year (Feb 30, Feb 29 in a common year).
      const probe = new Date(Date.UTC(year, month - 1, dom));
      if (probe.getUTCMonth() !== month - 1) continue;
      const t = at({ year, month, day: dom });
      if (t.getTime() > earliest) return t;
    }
    return undefined;
  }
  if (g.dow) {
    const wd = WEEKDAY_NAMES[g.dow.toLowerCase()];
    if (wd === undefined) return undefined;
    for (let k = -1; k <= 8; k += 1) {
      const day = dayShift(today, k);
      const weekday = new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay();
      if (weekday !== wd) continue;
      const t = at(day);
      if (t.getTime() > earliest) return t;
    }
    return undefined;
  }
  const startOffset = g.today?.toLowerCase() === 'tomorrow' ? 1 : -1;
  for (let k = startOffset; k <= 2; k += 1) {
    const t = at(dayShift(today, k));
    if (t.getTime() > earliest) return t;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Parsing

function matchLine(line: string, opts: LimitParseOptions): LimitMatch | null {
  const text = line.trim();
  if (text === '' || TRANSIENT_RES.some((re) => re.test(text))) return null;
  for (const p of LINE_PATTERNS) {
    const m = p.re.exec(text);
    if (!m) continue;
    const g = m.groups ?? {};
    const out: LimitMatch = { ...p.build(g), text };
    if (g.epoch) {
      const n = Number(g.epoch);
      out.resetsAt = new Date(n > 1e12 ? n : n * 1000);
      return out;
    }
    const reset = g.reset?.trim();
    if (reset) {
      out.resetText = reset;
      const zone = g.zone ?? opts.defaultTimeZone ?? hostTimeZone();
      if (isValidTimeZone(zone)) {
        out.timeZone = zone;
        const at = resolve({ resetText: reset.replace(/\s+/g, ' '), timeZone: zone, now: opts.now, pastToleranceMs: opts.pastToleranceMs ?? 120_000 });
        if (at) out.resetsAt = at;
      } else if (g.zone) {
        // A zone we cannot resolve: keep the text, leave resetsAt unknown rather than guess.
        out.timeZone = g.zone;
      }
    }
    return out;
  }
  return null;
}

/** Every limit message in `text` (multi-line, ANSI codes allowed), in order of appearance. */
export function findLimitMessages(text: string, opts: LimitParseOptions): LimitMatch[] {
  const out: LimitMatch[] = [];
  for (const line of stripAnsi(text).split('\n')) {
    const m = matchLine(line, opts);
    if (m) out.push(m);
  }
  return out;
}

/**
 * The most recent (last) limit message in `text`, or null. For pane text this is the line nearest
 * the bottom of the screen. Warnings are returned too (`warning: true`); callers decide.
 */
export function parseLimitMessage(text: string, opts: LimitParseOptions): LimitMatch | null {
  const all = findLimitMessages(text, opts);
  return all.length > 0 ? (all[all.length - 1] ?? null) : null;
}

// ---------------------------------------------------------------------------------------------
// Structured sources (hard evidence)

/** A limit hit proven by a structured signal (transcript record or StopFailure hook). */
export interface LimitEvidence extends LimitMatch {
  source: 'transcript' | 'stop-failure';
  /** When the signal was produced (record timestamp, or `now`). ISO-8601. */
  observedAt: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function textsOf(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const out: string[] = [];
  for (const item of content) {
    if (typeof item === 'string') out.push(item);
    else if (isRecord(item) && typeof item.text === 'string') out.push(item.text);
  }
  return out;
}

function validDate(v: unknown): Date | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function evidenceFrom(texts: readonly string[], source: LimitEvidence['source'], refTime: Date, opts: LimitParseOptions, structured: boolean): LimitEvidence | null {
  const joined = texts.join('\n');
  if (joined && isTransientRateLimitText(joined)) return null;
  const hits = findLimitMessages(joined, { ...opts, now: refTime }).filter((m) => !m.warning);
  const last = hits[hits.length - 1];
  if (last) return { ...last, source, observedAt: refTime.toISOString() };
  if (!structured) return null;
  // A structured rate_limit signal whose text we do not recognise: still a hit, reset unknown.
  return { kind: 'generic', warning: false, text: stripAnsi(joined).trim().slice(0, 200), source, observedAt: refTime.toISOString() };
}

/**
 * Hard evidence from one transcript (JSONL) record — a line or an already-parsed object.
 *
 * Counts when the record carries `error: "rate_limit"`, or is an API error message
 * (`isApiErrorMessage: true`) whose text is a limit message, or its text is exactly the era-1
 * `Claude AI usage limit reached|<epoch>`. Ordinary assistant text that merely mentions a limit
 * is NOT evidence. Transient throttling texts ("not your usage limit", "Rate limit reached",
 * "Overloaded") return null even with `error: "rate_limit"`. The record's `timestamp` (when
 * valid) is the reference time for resolving the reset, else `opts.now`.
 */
export function parseTranscriptLimit(record: unknown, opts: LimitParseOptions): LimitEvidence | null {
  let rec: unknown = record;
  if (typeof record === 'string') {
    try {
      rec = JSON.parse(record);
    } catch (_err) {
      return null;
    }
  }
  if (!isRecord(rec)) return null;
  const message = isRecord(rec.message) ? rec.message : undefined;
  const texts = [...textsOf(message?.content), ...textsOf(rec.content)];
  const refTime = validDate(rec.timestamp) ?? opts.now;
  const rateLimited = rec.error === 'rate_limit';
  if (rateLimited) return evidenceFrom(texts, 'transcript', refTime, opts, true);
  if (rec.isApiErrorMessage === true) return evidenceFrom(texts, 'transcript', refTime, opts, false);
  // Era 1: the whole text is `Claude AI usage limit reached|<epoch>`.
  const exact = texts.find((t) => /^Claude AI usage limit reached\|\d{9,13}$/.test(t.trim()));
  if (exact) return evidenceFrom([exact], 'transcript', refTime, opts, false);
  return null;
}

/** Top-level fields of a StopFailure payload that may carry the error text. */
const STOP_FAILURE_TEXT_FIELDS = ['error_message', 'errorMessage', 'message', 'error_details', 'details', 'last_assistant_message', 'reason', 'text'];

/**
 * Hard evidence from a `StopFailure` hook payload (JSON on the hook's stdin): only when
 * `error === "rate_limit"`. The reset is parsed from whatever text field the payload carries
 * (see STOP_FAILURE_TEXT_FIELDS, nested `{text}`/`{message}` objects too); when none parses, the
 * result is a `generic` hit without `resetsAt`. Transient throttling texts return null.
 */
export function parseStopFailureLimit(payload: unknown, opts: LimitParseOptions): LimitEvidence | null {
  let p: unknown = payload;
  if (typeof payload === 'string') {
    try {
      p = JSON.parse(payload);
    } catch (_err) {
      return null;
    }
  }
  if (!isRecord(p) || p.error !== 'rate_limit') return null;
  const texts: string[] = [];
  for (const key of STOP_FAILURE_TEXT_FIELDS) {
    const v = p[key];
    if (typeof v === 'string') texts.push(v);
    else if (isRecord(v)) {
      if (typeof v.text === 'string') texts.push(v.text);
      if (typeof v.message === 'string') texts.push(v.message);
    }
  }
  return evidenceFrom(texts, 'stop-failure', validDate(p.timestamp) ?? opts.now, opts, true);
}
