/**
 * Quota observations per account, with provenance, and how they merge into one picture.
 *
 * Pure: no I/O, `now` is always an argument. Sources:
 * - `usage-api`    GET /api/oauth/usage (polled; see src/adapters/quota/usage-client.ts)
 * - `statusline`   the status line command's stdin JSON `rate_limits` (real time, free)
 * - `stop-failure` a StopFailure hook with `error: "rate_limit"`     (hard evidence)
 * - `transcript`   a transcript record with `error: "rate_limit"`     (hard evidence)
 * - `pane`         pane text (a hint; counts only once confirmed)
 *
 * ## Merge precedence ({@link mergeUsage})
 * 1. Percentages, per window (`fiveHour`, `sevenDay`, each `scoped[scope]`): the observation with
 *    the newest `observedAt` wins, whatever its source. Equal times: usage-api > statusline >
 *    transcript > stop-failure > pane.
 * 2. A window whose `resetsAt` has passed describes a finished window: it is reported with
 *    utilization 0, `rolledOver: true`, and no `resetsAt` (a new window starts from zero).
 * 3. Hard evidence of exhaustion ({@link ExhaustionEvidence}, from stop-failure/transcript, or
 *    pane with `confirmed: true`; unconfirmed pane evidence is ignored) with a `resetsAt` in the
 *    future overrides every percentage of its window — even newer ones, because the endpoint lags
 *    and a session that stopped on the limit is a fact — until that reset passes. The window then
 *    shows `utilization = max(observed, 100)`, `exhausted: true`, the evidence's source and reset.
 * 4. Evidence WITHOUT a reset time holds until a newer percentage observation of its window shows
 *    < 100 %, and at most `evidenceHoldMs` (default 5 h) after it was observed.
 * 5. Window of evidence: kind `session`/`five_hour` → fiveHour; `weekly` → sevenDay; a `scope`
 *    (`opus`, `sonnet`) → that scoped window; `usage`/`generic` → no window (account level only).
 * 6. Account level: `exhaustedUntil` = the LATEST reset among all evidence in force (any kind,
 *    scoped too: a session really stopped), or undefined. `exhausted` = some evidence is in force
 *    or fiveHour/sevenDay utilization ≥ 100.
 */

import { z } from 'zod';

export type UsageSource = 'usage-api' | 'statusline' | 'stop-failure' | 'transcript' | 'pane';

export interface UsageWindow {
  /** Percent used, 0–100; may exceed 100. */
  utilization: number;
  /** When the window resets, ISO-8601. */
  resetsAt?: string;
  source: UsageSource;
  /** When the figure was observed, ISO-8601. */
  observedAt: string;
  /** Set by {@link mergeUsage}: hard evidence says this window is used up. */
  exhausted?: boolean;
  /** Set by {@link mergeUsage}: the observed window's reset has passed; utilization shown as 0. */
  rolledOver?: boolean;
}

export interface ScopedUsageWindow extends UsageWindow {
  /** Lower-case scope, e.g. `opus`, `sonnet`. */
  scope: string;
}

export interface UsageSnapshot {
  fiveHour?: UsageWindow;
  sevenDay?: UsageWindow;
  scoped: ScopedUsageWindow[];
}

/** A limit hit proven by a structured signal (or a confirmed pane match). */
export interface ExhaustionEvidence {
  kind: 'session' | 'five_hour' | 'weekly' | 'opus' | 'usage' | 'generic';
  scope?: string;
  /** ISO-8601; absent when the message gave no (resolvable) reset time. */
  resetsAt?: string;
  source: UsageSource;
  observedAt: string;
  /** Pane evidence counts only when confirmed (status region, seen twice). */
  confirmed?: boolean;
  /** The message text, for the decision log. */
  text?: string;
}

/** One input to {@link mergeUsage}: a (partial) snapshot from one source, or evidence. */
export type UsageInput =
  | { type: 'snapshot'; snapshot: Partial<UsageSnapshot> }
  | { type: 'evidence'; evidence: ExhaustionEvidence };

export interface MergedUsage extends UsageSnapshot {
  /** Hard evidence in force (after merge rules), newest first. */
  evidence: ExhaustionEvidence[];
  /** The latest reset among evidence in force; the account is out until then. */
  exhaustedUntil?: string;
  /** Evidence in force, or fiveHour/sevenDay utilization ≥ 100. */
  exhausted: boolean;
}

export interface MergeOptions {
  /** Hold for evidence without a reset time. Default 5 h. */
  evidenceHoldMs?: number;
}

const SOURCE_RANK: Record<UsageSource, number> = { 'usage-api': 5, statusline: 4, transcript: 3, 'stop-failure': 2, pane: 1 };
const DEFAULT_HOLD_MS = 5 * 60 * 60 * 1000;

function ms(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

function newer<W extends UsageWindow>(a: W | undefined, b: W): W {
  if (!a) return b;
  const ta = ms(a.observedAt) ?? -Infinity;
  const tb = ms(b.observedAt) ?? -Infinity;
  if (tb !== ta) return tb > ta ? b : a;
  return SOURCE_RANK[b.source] > SOURCE_RANK[a.source] ? b : a;
}

function rollOver<W extends UsageWindow>(w: W, nowMs: number): W {
  const r = ms(w.resetsAt);
  if (r === undefined || r > nowMs) return w;
  const { resetsAt: _drop, ...rest } = w;
  return { ...rest, utilization: 0, rolledOver: true } as W;
}

/** The window key an evidence kind/scope applies to; undefined = account level only. */
export function evidenceWindow(e: Pick<ExhaustionEvidence, 'kind' | 'scope'>): 'fiveHour' | 'sevenDay' | { scope: string } | undefined {
  if (e.scope) return { scope: e.scope.toLowerCase() };
  switch (e.kind) {
    case 'session':
    case 'five_hour':
      return 'fiveHour';
    case 'weekly':
      return 'sevenDay';
    case 'opus':
      return { scope: 'opus' };
    default:
      return undefined;
  }
}

function asDate(now: Date | string | number): number {
  return typeof now === 'number' ? now : typeof now === 'string' ? Date.parse(now) : now.getTime();
}

/**
 * Merges observations of one account into one picture. See the module comment for the exact
 * precedence. Pure; input order does not matter.
 */
export function mergeUsage(inputs: readonly UsageInput[], now: Date | string | number, options: MergeOptions = {}): MergedUsage {
  const nowMs = asDate(now);
  const holdMs = options.evidenceHoldMs ?? DEFAULT_HOLD_MS;
  let fiveHour: UsageWindow | undefined;
  let sevenDay: UsageWindow | undefined;
  const scoped = new Map<string, ScopedUsageWindow>();
  const allEvidence: ExhaustionEvidence[] = [];

  for (const input of inputs) {
    if (input.type === 'evidence') {
      allEvidence.push(input.evidence);
      continue;
    }
    const s = input.snapshot;
    if (s.fiveHour) fiveHour = newer(fiveHour, s.fiveHour);
    if (s.sevenDay) sevenDay = newer(sevenDay, s.sevenDay);
    for (const w of s.scoped ?? []) {
      const key = w.scope.toLowerCase();
      scoped.set(key, newer(scoped.get(key), { ...w, scope: key }));
    }
  }

  const windowOf = (e: ExhaustionEvidence): UsageWindow | undefined => {
    const k = evidenceWindow(e);
    if (k === 'fiveHour') return fiveHour;
    if (k === 'sevenDay') return sevenDay;
    if (k) return scoped.get(k.scope);
    return undefined;
  };

  const inForce = allEvidence.filter((e) => {
    if (e.source === 'pane' && e.confirmed !== true) return false;
    const observed = ms(e.observedAt) ?? -Infinity;
    const reset = ms(e.resetsAt);
    if (reset !== undefined) return reset > nowMs;
    if (observed + holdMs <= nowMs) return false;
    // No reset time: a newer percentage below 100 for its window ends it. For account-level
    // evidence (usage/generic), a newer fiveHour AND sevenDay below 100 ends it.
    const k = evidenceWindow(e);
    const cancels = (w: UsageWindow | undefined): boolean => w !== undefined && (ms(w.observedAt) ?? -Infinity) > observed && w.utilization < 100;
    if (k === undefined) return !(cancels(fiveHour) && cancels(sevenDay));
    return !cancels(windowOf(e));
  });
  inForce.sort((a, b) => (ms(b.observedAt) ?? 0) - (ms(a.observedAt) ?? 0));

  if (fiveHour) fiveHour = rollOver(fiveHour, nowMs);
  if (sevenDay) sevenDay = rollOver(sevenDay, nowMs);
  for (const [k, w] of scoped) scoped.set(k, rollOver(w, nowMs));

  // Apply evidence onto windows (newest evidence first; the first one applied to a window wins
  // except that a later reset extends it).
  const apply = <W extends UsageWindow>(w: W | undefined, e: ExhaustionEvidence, extra: Partial<W>): W => {
    const base = w && !w.rolledOver ? w.utilization : 0;
    const prevReset = w?.exhausted ? ms(w.resetsAt) : undefined;
    const eReset = ms(e.resetsAt);
    if (w?.exhausted && (eReset === undefined || (prevReset !== undefined && prevReset >= eReset))) return w;
    const out = { ...(extra as object), utilization: Math.max(base, 100), source: e.source, observedAt: e.observedAt, exhausted: true } as W;
    if (e.resetsAt) out.resetsAt = e.resetsAt;
    return out;
  };
  for (const e of inForce) {
    const k = evidenceWindow(e);
    if (k === 'fiveHour') fiveHour = apply(fiveHour, e, {});
    else if (k === 'sevenDay') sevenDay = apply(sevenDay, e, {});
    else if (k) scoped.set(k.scope, apply(scoped.get(k.scope), e, { scope: k.scope }));
  }

  let exhaustedUntil: number | undefined;
  for (const e of inForce) {
    const r = ms(e.resetsAt) ?? (ms(e.observedAt) ?? nowMs) + holdMs;
    if (exhaustedUntil === undefined || r > exhaustedUntil) exhaustedUntil = r;
  }

  const out: MergedUsage = {
    scoped: [...scoped.values()].sort((a, b) => a.scope.localeCompare(b.scope)),
    evidence: inForce,
    exhausted: inForce.length > 0 || (fiveHour?.utilization ?? 0) >= 100 || (sevenDay?.utilization ?? 0) >= 100,
  };
  if (fiveHour) out.fiveHour = fiveHour;
  if (sevenDay) out.sevenDay = sevenDay;
  if (exhaustedUntil !== undefined) out.exhaustedUntil = new Date(exhaustedUntil).toISOString();
  return out;
}

/** Utilization of a window as of `now`: 0 when its reset has passed or when it is missing. */
export function effectiveUtilization(w: UsageWindow | undefined, now: Date | string | number): number {
  if (!w) return 0;
  const r = ms(w.resetsAt);
  if (r !== undefined && r <= asDate(now)) return 0;
  return w.utilization;
}

export interface Thresholds {
  /** Percent; at or above it the account leaves rotation. */
  fiveHourThreshold: number;
  weeklyThreshold: number;
}

export interface ThresholdCheck {
  /** Some window is at/over its threshold. */
  over: boolean;
  /** The five-hour utilization is at/over `fiveHourThreshold`. */
  fiveHour: boolean;
  /** The weekly utilization is at/over `weeklyThreshold`. */
  sevenDay: boolean;
}

/**
 * Whether the five-hour and the weekly utilization are AT or above their thresholds as of `now`
 * (windows whose reset passed count as 0; missing windows as 0). Scoped windows are not
 * compared against thresholds; scoped exhaustion shows through `MergedUsage.exhaustedUntil`.
 * The active-account decision's `over` tier (src/controllers/account-decision.ts).
 */
export function isOverThreshold(snapshot: UsageSnapshot, thresholds: Thresholds, now: Date | string | number): ThresholdCheck {
  const fiveHour = effectiveUtilization(snapshot.fiveHour, now) >= thresholds.fiveHourThreshold;
  const sevenDay = effectiveUtilization(snapshot.sevenDay, now) >= thresholds.weeklyThreshold;
  return { over: fiveHour || sevenDay, fiveHour, sevenDay };
}

/** Percentage points left before the nearer threshold: min(5h threshold − 5h%, weekly threshold − 7d%). */
export function headroom(snapshot: UsageSnapshot, thresholds: Thresholds, now: Date | string | number): number {
  return Math.min(
    thresholds.fiveHourThreshold - effectiveUtilization(snapshot.fiveHour, now),
    thresholds.weeklyThreshold - effectiveUtilization(snapshot.sevenDay, now),
  );
}

/** True when the snapshot holds at least one of the two main windows. */
export function hasUsageData(snapshot: UsageSnapshot | undefined): snapshot is UsageSnapshot {
  return snapshot !== undefined && (snapshot.fiveHour !== undefined || snapshot.sevenDay !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Parsers for the wire shapes (pure, tolerant)

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.max(0, n) : undefined;
}

/** ISO string from an ISO string, epoch seconds or epoch milliseconds; undefined if invalid. */
export function normalizeTime(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return new Date(v > 1e12 ? v : v * 1000).toISOString();
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^\d+(\.\d+)?$/.test(v.trim())) return normalizeTime(Number(v));
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  }
  return undefined;
}

function windowFrom(v: unknown, valueKey: string, source: UsageSource, observedAt: string): UsageWindow | undefined {
  if (!isRecord(v)) return undefined;
  const utilization = num(v[valueKey]);
  if (utilization === undefined) return undefined;
  const w: UsageWindow = { utilization, source, observedAt };
  const r = normalizeTime(v.resets_at);
  if (r) w.resetsAt = r;
  return w;
}

function scopeName(v: unknown): string | undefined {
  if (typeof v === 'string' && v.trim() !== '') return v.trim().toLowerCase();
  if (isRecord(v)) {
    for (const k of ['name', 'model', 'model_family', 'display_name', 'id']) {
      const s = v[k];
      if (typeof s === 'string' && s.trim() !== '') return s.trim().toLowerCase();
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The usage endpoint's response, validated like a manifest (zod; a path and a message per problem)

const percentSchema = z.number().min(0, 'must be a percentage ≥ 0 (it may exceed 100)');
const RESETS_AT = 'must be an ISO-8601 time, epoch seconds or null';
const resetsAtSchema = z.union([z.iso.datetime({ offset: true, error: RESETS_AT }), z.number().min(0), z.null()], { error: RESETS_AT });
/** `{utilization, resets_at}`; `utilization: null` is a window without a figure (treated as missing). */
const usageWindowSchema = z.looseObject({ utilization: percentSchema.nullable(), resets_at: resetsAtSchema.optional() });
const limitSchema = z.looseObject({
  kind: z.string(),
  percent: percentSchema.nullable().optional(),
  utilization: percentSchema.nullable().optional(),
  resets_at: resetsAtSchema.optional(),
  scope: z.union([z.string(), z.looseObject({}), z.null()]).optional(),
});
const SCOPED_KEY = /^seven_day_(.+)$/;
/** Sibling keys of the scoped windows that are not usage windows. */
const NOT_A_WINDOW = new Set(['seven_day_oauth_apps']);

/**
 * The usage endpoint's response: windows `five_hour`, `seven_day` and
 * `seven_day_<scope>` are `{utilization, resets_at}` or null or missing; `utilization` is a number
 * ≥ 0 that may exceed 100; the newer `limits[]` holds `{kind, percent, resets_at, scope}`. Other
 * fields (`extra_usage`, …) are not checked. A body with none of `five_hour`, `seven_day`, `limits`
 * is not a usage response.
 */
export const usageResponseSchema = z
  .looseObject({
    five_hour: usageWindowSchema.nullable().optional(),
    seven_day: usageWindowSchema.nullable().optional(),
    limits: z.array(limitSchema).optional(),
  })
  .superRefine((body, ctx) => {
    for (const [key, value] of Object.entries(body)) {
      if (!SCOPED_KEY.test(key) || NOT_A_WINDOW.has(key)) continue;
      const r = usageWindowSchema.nullable().safeParse(value);
      if (!r.success) for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: i.message, path: [key, ...i.path] });
    }
    if (!('five_hour' in body) && !('seven_day' in body) && !('limits' in body)) ctx.addIssue({ code: 'custom', message: 'no five_hour, seven_day or limits field: not a usage response', path: [] });
  });

export type UsageResponseParse = { ok: true; snapshot: UsageSnapshot } | { ok: false; problems: string[] };

function issueText(i: { path: readonly PropertyKey[]; message: string }): string {
  const where = i.path.map(String).join('.');
  const message = i.message.replace(/^Invalid input: /, '');
  return where ? `${where}: ${message}` : message;
}

function validWindow(v: unknown, valueKey: 'utilization' | 'percent', observedAt: string): UsageWindow | undefined {
  if (!isRecord(v)) return undefined;
  const u = v[valueKey];
  if (typeof u !== 'number') return undefined;
  const w: UsageWindow = { utilization: u, source: 'usage-api', observedAt };
  const r = normalizeTime(v.resets_at);
  if (r) w.resetsAt = r;
  return w;
}

/**
 * Validates a usage-endpoint response body ({@link usageResponseSchema}) and maps it to a snapshot.
 * A wrong shape is refused with one problem per field (`five_hour.utilization: expected number,
 * received string`): the caller counts it as a failed poll and keeps its last good figures.
 * Null/missing windows, utilization over 100, ISO or epoch `resets_at`, and `limits[]`
 * (`session` → fiveHour, `weekly_all` → sevenDay, `weekly_scoped` → scoped by `scope`) are valid.
 * The classic keys win over `limits[]` for the same window; `limits[]` fills gaps.
 */
export function parseUsageResponse(body: unknown, observedAt: string): UsageResponseParse {
  if (!isRecord(body)) return { ok: false, problems: [`the body is ${body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`}, not a JSON object`] };
  const checked = usageResponseSchema.safeParse(body);
  if (!checked.success) return { ok: false, problems: checked.error.issues.map(issueText) };
  const snap: UsageSnapshot = { scoped: [] };
  const five = validWindow(body.five_hour, 'utilization', observedAt);
  const seven = validWindow(body.seven_day, 'utilization', observedAt);
  if (five) snap.fiveHour = five;
  if (seven) snap.sevenDay = seven;
  const scoped = new Map<string, ScopedUsageWindow>();
  for (const [key, value] of Object.entries(body)) {
    const m = SCOPED_KEY.exec(key);
    if (!m?.[1] || NOT_A_WINDOW.has(key)) continue;
    const w = validWindow(value, 'utilization', observedAt);
    if (w) scoped.set(m[1].toLowerCase(), { ...w, scope: m[1].toLowerCase() });
  }
  for (const item of Array.isArray(body.limits) ? body.limits : []) {
    if (!isRecord(item)) continue;
    const w = validWindow(item, 'percent', observedAt) ?? validWindow(item, 'utilization', observedAt);
    if (!w) continue;
    const kind = typeof item.kind === 'string' ? item.kind : '';
    if (kind === 'session') snap.fiveHour ??= w;
    else if (kind === 'weekly_all') snap.sevenDay ??= w;
    else if (kind === 'weekly_scoped') {
      const scope = scopeName(item.scope);
      if (scope && !scoped.has(scope)) scoped.set(scope, { ...w, scope });
    }
  }
  snap.scoped = [...scoped.values()].sort((a, b) => a.scope.localeCompare(b.scope));
  return { ok: true, snapshot: snap };
}

/**
 * Parses the status line command's stdin JSON (`rate_limits.five_hour.used_percentage`,
 * `resets_at` in epoch seconds). Returns undefined when it carries no rate limits (non-subscriber,
 * or before the first response).
 */
export function parseStatusLineUsage(input: unknown, observedAt: string): UsageSnapshot | undefined {
  let v: unknown = input;
  if (typeof input === 'string') {
    try {
      v = JSON.parse(input);
    } catch (_err) {
      return undefined;
    }
  }
  if (!isRecord(v) || !isRecord(v.rate_limits)) return undefined;
  const rl = v.rate_limits;
  const five = windowFrom(rl.five_hour, 'used_percentage', 'statusline', observedAt);
  const seven = windowFrom(rl.seven_day, 'used_percentage', 'statusline', observedAt);
  if (!five && !seven) return undefined;
  const snap: UsageSnapshot = { scoped: [] };
  if (five) snap.fiveHour = five;
  if (seven) snap.sevenDay = seven;
  return snap;
}

/**
 * Evidence from a parsed limit message (see src/core/limit-messages.ts). Warnings are not
 * evidence (returns undefined). Pane matches must be passed with `confirmed` set by the caller.
 */
export function evidenceFromLimit(
  match: { kind: ExhaustionEvidence['kind']; warning: boolean; resetsAt?: Date; scope?: string; text?: string },
  source: UsageSource,
  observedAt: string,
  confirmed?: boolean,
): ExhaustionEvidence | undefined {
  if (match.warning) return undefined;
  const e: ExhaustionEvidence = { kind: match.kind, source, observedAt };
  if (match.scope) e.scope = match.scope;
  if (match.resetsAt) e.resetsAt = match.resetsAt.toISOString();
  if (match.text) e.text = match.text;
  if (confirmed !== undefined) e.confirmed = confirmed;
  return e;
}

/** `92.3%` style, one decimal, for messages. */
export function formatPercent(n: number): string {
  return `${Math.round(n * 10) / 10}%`;
}

/** Human age like `40s`, `5m`, `2h3m`, `1d2h`, for "how old is this figure". */
export function formatAge(ageMs: number): string {
  const s = Math.max(0, Math.round(ageMs / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
}
