import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Same shape as the usage endpoint's response (`GET /api/oauth/usage`); every window may be null or missing. */
export interface UsageWindow {
  utilization: number;
  resets_at: string | null;
}
export interface UsageFile {
  five_hour?: UsageWindow | null;
  seven_day?: UsageWindow | null;
  seven_day_opus?: UsageWindow | null;
  seven_day_sonnet?: UsageWindow | null;
  [key: string]: unknown;
}

export type LimitKind = 'five_hour' | 'weekly' | 'opus';

export interface Exhaustion {
  kind: LimitKind;
  resetsAt: Date | undefined;
}

function asWindow(value: unknown): UsageWindow | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const u = v['utilization'];
  if (typeof u !== 'number' || !Number.isFinite(u)) return undefined;
  const r = v['resets_at'];
  return { utilization: u, resets_at: typeof r === 'string' ? r : null };
}

/** Reads the usage file tolerantly: missing or malformed → undefined (no limit, no rate_limits). */
export function readUsage(path: string): UsageFile | undefined {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as UsageFile) : undefined;
  } catch {
    return undefined;
  }
}

export function writeUsageAtomic(path: string, usage: UsageFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(usage, null, 2)}\n`);
  renameSync(tmp, path);
}

function parseDate(s: string | null): Date | undefined {
  if (s === null) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Which limit (if any) blocks a request: weekly first (it outlasts the 5-hour window), then Opus for Opus models, then the 5-hour window. */
export function exhaustion(usage: UsageFile | undefined, model: string | undefined): Exhaustion | undefined {
  if (usage === undefined) return undefined;
  const weekly = asWindow(usage.seven_day);
  if (weekly !== undefined && weekly.utilization >= 100) return { kind: 'weekly', resetsAt: parseDate(weekly.resets_at) };
  const opus = asWindow(usage.seven_day_opus);
  if (model !== undefined && /opus/i.test(model) && opus !== undefined && opus.utilization >= 100) {
    return { kind: 'opus', resetsAt: parseDate(opus.resets_at) };
  }
  const five = asWindow(usage.five_hour);
  if (five !== undefined && five.utilization >= 100) return { kind: 'five_hour', resetsAt: parseDate(five.resets_at) };
  return undefined;
}

function clockParts(date: Date, timeZone: string): { month: string; day: string; hour: string; minute: string; period: string } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', hour12: true,
  }).formatToParts(date);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return { month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), period: get('dayPeriod').toLowerCase() };
}

/** `3pm`, `3:45pm` for the 5-hour window; `Dec 10, 1:54pm` for weekly windows (the forms 2.1.332 prints). */
export function formatReset(date: Date, kind: LimitKind, timeZone: string): string {
  const p = clockParts(date, timeZone);
  const time = p.minute === '00' ? `${p.hour}${p.period}` : `${p.hour}:${p.minute}${p.period}`;
  return kind === 'weekly' ? `${p.month} ${p.day}, ${time}` : time;
}

const LIMIT_NAMES: Record<LimitKind, string> = { five_hour: '5-hour limit', weekly: 'weekly limit', opus: 'Opus limit' };

/** The limit message of 2.1.332, e.g. `You've hit your 5-hour limit · resets 6:06pm (UTC)`. */
export function limitMessage(ex: Exhaustion, timeZone: string, withZone: boolean): string {
  const base = `You've hit your ${LIMIT_NAMES[ex.kind]}`;
  if (ex.resetsAt === undefined) return base;
  const zone = withZone ? ` (${timeZone})` : '';
  return `${base} · resets ${formatReset(ex.resetsAt, ex.kind, timeZone)}${zone}`;
}

export interface StatusRateLimit {
  used_percentage: number;
  resets_at?: number;
}

/** Status line `rate_limits`: `{five_hour:{used_percentage, resets_at(epoch s)}, seven_day:{…}}`; undefined without data. */
export function statusRateLimits(usage: UsageFile | undefined): Record<string, StatusRateLimit> | undefined {
  if (usage === undefined) return undefined;
  const out: Record<string, StatusRateLimit> = {};
  for (const key of ['five_hour', 'seven_day'] as const) {
    const w = asWindow(usage[key]);
    if (w === undefined) continue;
    const reset = parseDate(w.resets_at);
    out[key] = reset === undefined ? { used_percentage: w.utilization } : { used_percentage: w.utilization, resets_at: Math.floor(reset.getTime() / 1000) };
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/** `#sim usage` and CLAUDE_SIM_USAGE_PER_TURN: set utilizations, keeping a future reset time or starting a new window. */
export function withUtilization(usage: UsageFile | undefined, now: Date, fiveHour: number | undefined, sevenDay: number | undefined): UsageFile {
  const next: UsageFile = { ...(usage ?? {}) };
  const set = (key: 'five_hour' | 'seven_day', value: number | undefined, windowMs: number): void => {
    const current = asWindow(next[key]);
    if (value === undefined) {
      if (current === undefined) next[key] = { utilization: 0, resets_at: new Date(now.getTime() + windowMs).toISOString() };
      return;
    }
    const reset = current === undefined ? undefined : parseDate(current.resets_at);
    const resetsAt = reset !== undefined && reset.getTime() > now.getTime() ? reset : new Date(now.getTime() + windowMs);
    next[key] = { utilization: value, resets_at: resetsAt.toISOString() };
  };
  set('five_hour', fiveHour, 5 * 3600_000);
  set('seven_day', sevenDay, 7 * 24 * 3600_000);
  return next;
}

export function utilizationOf(usage: UsageFile | undefined, key: 'five_hour' | 'seven_day'): number | undefined {
  return asWindow(usage?.[key])?.utilization;
}
