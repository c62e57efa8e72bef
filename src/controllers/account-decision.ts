/**
 * The active-account decision: which account the whole pool should run on.
 *
 * Pure: a function of the accounts' facts, the current active account and `now`. The Account
 * controller persists the result (active account, decision log) and the Session controller
 * converges sessions onto it.
 *
 * ## Per-account classification (at `now`), first match wins
 * | tier        | when                                                                  | target?          |
 * |-------------|-----------------------------------------------------------------------|------------------|
 * | `excluded`  | suspended; credentials invalid or missing (`false`); shared state not linked | never      |
 * | `exhausted` | `exhaustedUntil` > now (hard evidence); or 5h/7d utilization ≥ 100    | never            |
 * | `over`      | 5h ≥ fiveHourThreshold or 7d ≥ weeklyThreshold (reset windows count 0)| never            |
 * | `unknown`   | no usage data (never polled, failed polls only, or an expired access token that claude refreshes at launch), or credentials not yet checked (`'unknown'`) | fallback only |
 * | `good`      | known usage below both thresholds, credentials valid                 | yes              |
 *
 * An account whose figures are no longer current (`usageUnknown`: failing polls or stale data)
 * keeps the tier of its last known figures, but claims no headroom (it ranks after accounts of the
 * same priority with current figures, and its `why` says "usage unknown").
 * An expired access token is not invalid credentials: with a refresh token present the CLI
 * refreshes it when a session starts there, so the account stays a target (`unknown` until its
 * usage is observed). The controller itself never refreshes tokens, so it cannot poll such an
 * account; the Account controller warns when an account has had no fresh usage data for long.
 *
 * Candidates are ordered by `priority` (lower first), then headroom (most first; headroom =
 * min(5h threshold − 5h%, weekly threshold − 7d%)), then name.
 *
 * ## Rules
 * Leaving an account that must not be used (over a threshold, exhausted, suspended, invalid,
 * diverged, removed) happens at once; the minimum dwell only delays discretionary switches
 * (failback to a preferred account). A session in the middle of a turn still gets the failover
 * grace (the Session controller), but the pool decision is never held.
 *
 * | situation                                                  | result (reason)                                                        |
 * |------------------------------------------------------------|------------------------------------------------------------------------|
 * | forced target, valid (exists, not excluded, not exhausted) | switch at once, dwell ignored (`Forced`)                                |
 * | forced target invalid                                      | rejected (`forcedRejected`); normal rules below; `ForcedTargetInvalid` if they keep the current |
 * | no current                                                 | best good, else best unknown (`Initial`)                                |
 * | current removed from the manifests                         | at once → best good, else best unknown (`CurrentRemoved`)               |
 * | current excluded / exhausted                               | at once, dwell ignored → best good, else best unknown (`Suspended`, `CredentialsInvalid`, `SharedStateDiverged`, `Exhausted`) |
 * | current over a threshold                                   | at once, dwell ignored → best good, else best unknown (`ThresholdCrossed`) |
 * | current good or unknown, a higher-priority account with `failbackBelow` set is good (current figures, not `usageUnknown`) and its 5h% < failbackBelow | after the dwell: switch (`Failback`); during the dwell: stay (`DwellHold`, requeueAt = dwell end) |
 * | current good or unknown otherwise                          | stay (`StaySticky`): unknown usage is not a reason to leave             |
 * | nothing to switch to                                       | keep the current (no churn) (`AllExhausted` with requeueAt = earliest time an over/exhausted account becomes usable; `NoEligibleAccount` when every other account is excluded) |
 *
 * Over a threshold with only accounts of unknown usage left, the pool moves to the best of them
 * rather than staying: staying runs the current account into its hard limit (turns cut off by
 * 429s), while moving is recoverable — if the unknown account turns out to be near its limit,
 * its first status line, poll or limit message makes it `over`/`exhausted` and the rules above
 * move on. Accounts with known usage below their thresholds are always preferred.
 *
 * Failback compares the 5-hour utilization with `failbackBelow` (the weekly window must be below
 * its threshold as for any candidate). Because the target must be below `failbackBelow` and the
 * pool leaves it only at its threshold, the gap between the two is the hysteresis: no flapping.
 */
import {
  effectiveUtilization,
  formatAge,
  formatPercent,
  hasUsageData,
  headroom as headroomOf,
  isOverThreshold,
  type UsageSnapshot,
  type UsageWindow,
} from '../core/quota.js';

export interface AccountDecisionInput {
  name: string;
  /** Lower is preferred. */
  priority: number;
  suspended: boolean;
  credentialsValid: boolean | 'unknown';
  /** Why the credentials are invalid (shown in the verdict), when `credentialsValid` is false. */
  credentialsProblem?: string;
  /** The access token has expired but a refresh token is present: claude refreshes it at launch. */
  accessTokenExpired?: boolean;
  /** False when a shared directory diverged (not a failover target). */
  sharedStateLinked: boolean;
  /** Which shared directories diverged (shown in the verdict), when `sharedStateLinked` is false. */
  sharedStateProblem?: string;
  thresholds: { fiveHourThreshold: number; weeklyThreshold: number; failbackBelow?: number };
  /** Merged usage (src/core/quota.ts mergeUsage), or unknown (never polled / failed polls only). */
  usage: UsageSnapshot | 'unknown';
  /**
   * Set when the figures in `usage` are no longer current (src/core/quota-health.ts: polls failing,
   * or the newest figure too old), with a short why. The tier still follows the last known figures,
   * but no headroom is claimed (nor used to rank) for such an account.
   */
  usageUnknown?: string;
  /** Hard evidence: out until this instant (ISO). */
  exhaustedUntil?: string;
  /** Short text of the evidence for the message, e.g. `transcript: You've hit your session limit`. */
  exhaustedReason?: string;
}

export interface DecideActiveInput {
  accounts: readonly AccountDecisionInput[];
  /** The active account now (persisted), or null on first start. */
  current: string | null;
  /** When `current` became active (ISO). Missing = dwell already elapsed. */
  currentSince?: string;
  /** Minimum time on an account before a discretionary switch (failback). Never holds a threshold failover. */
  minDwellMs: number;
  now: Date | string;
  /** An operator's `failover --to`. */
  forced?: { to: string; reason?: string };
}

export type DecisionReason =
  | 'Initial'
  | 'StaySticky'
  | 'ThresholdCrossed'
  | 'Exhausted'
  | 'Suspended'
  | 'CredentialsInvalid'
  | 'SharedStateDiverged'
  | 'CurrentRemoved'
  | 'Failback'
  | 'DwellHold'
  | 'AllExhausted'
  | 'NoEligibleAccount'
  | 'Forced'
  | 'ForcedTargetInvalid';

export type AccountTier = 'good' | 'unknown' | 'over' | 'exhausted' | 'excluded';

export interface AccountVerdict {
  name: string;
  /** May receive the pool (`good`, or `unknown` as a fallback). */
  eligible: boolean;
  tier: AccountTier;
  /** Human explanation with figures and sources. */
  why: string;
  /** Percentage points before the nearer threshold (known usage only). */
  headroom?: number;
  /** For `over`/`exhausted`: when it becomes usable again, if known (ISO). */
  availableAt?: string;
}

export interface ActiveDecision {
  active: string | null;
  previous: string | null;
  switched: boolean;
  reason: DecisionReason;
  /** Human: what happened, with the figures and sources that triggered it. */
  message: string;
  perAccount: AccountVerdict[];
  /** When to decide again: the earliest reset (AllExhausted) or the end of the dwell before a failback (DwellHold). */
  requeueAt?: string;
  /** Why a forced target was refused. */
  forcedRejected?: string;
}

function toMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : ms;
}

function fmtWindow(label: string, window: UsageWindow | undefined, nowMs: number): string {
  if (!window) return `${label} n/a`;
  const utilization = effectiveUtilization(window, nowMs);
  const age = toMs(window.observedAt);
  return `${label} ${formatPercent(utilization)}${window.rolledOver || utilization !== window.utilization ? ' (window reset)' : ''} (${window.source}${age !== undefined ? `, ${formatAge(nowMs - age)} ago` : ''})`;
}

function fmtUsage(account: AccountDecisionInput, nowMs: number): string {
  if (!hasUsageData(account.usage === 'unknown' ? undefined : account.usage)) return 'usage unknown';
  const usage = account.usage as UsageSnapshot;
  return `${fmtWindow('5h', usage.fiveHour, nowMs)}, ${fmtWindow('7d', usage.sevenDay, nowMs)}`;
}

export interface Classified extends AccountVerdict {
  input: AccountDecisionInput;
}

function classify(a: AccountDecisionInput, nowMs: number): Classified {
  const base = { name: a.name, input: a };
  if (a.suspended) return { ...base, eligible: false, tier: 'excluded', why: 'suspended' };
  if (a.credentialsValid === false) return { ...base, eligible: false, tier: 'excluded', why: `credentials invalid (CredentialsValid=False)${a.credentialsProblem ? `: ${a.credentialsProblem}` : ''}` };
  if (!a.sharedStateLinked) return { ...base, eligible: false, tier: 'excluded', why: `shared state diverged (SharedStateLinked=False)${a.sharedStateProblem ? `: ${a.sharedStateProblem}` : ''}` };
  const until = toMs(a.exhaustedUntil);
  if (until !== undefined && until > nowMs) {
    return {
      ...base,
      eligible: false,
      tier: 'exhausted',
      why: `exhausted until ${new Date(until).toISOString()}${a.exhaustedReason ? ` (${a.exhaustedReason})` : ''}`,
      availableAt: new Date(until).toISOString(),
    };
  }
  const usage = a.usage === 'unknown' ? undefined : a.usage;
  if (!hasUsageData(usage)) {
    const token = a.accessTokenExpired ? '; access token expired (claude refreshes it at launch)' : '';
    return { ...base, eligible: true, tier: 'unknown', why: `usage unknown${token} (a target only when no account with known usage qualifies)` };
  }
  const t = a.thresholds;
  const u5 = effectiveUtilization(usage.fiveHour, nowMs);
  const u7 = effectiveUtilization(usage.sevenDay, nowMs);
  const resetOf = (w: UsageWindow | undefined): number | undefined => toMs(w?.resetsAt);
  const fig = fmtUsage(a, nowMs);
  if (u5 >= 100 || u7 >= 100) {
    const resets = [u5 >= 100 ? resetOf(usage.fiveHour) : undefined, u7 >= 100 ? resetOf(usage.sevenDay) : undefined];
    const v: Classified = { ...base, eligible: false, tier: 'exhausted', why: `exhausted: ${fig}` };
    if (!resets.some((r, i) => r === undefined && (i === 0 ? u5 >= 100 : u7 >= 100))) {
      v.availableAt = new Date(Math.max(...resets.filter((r): r is number => r !== undefined))).toISOString();
    }
    return v;
  }
  const { fiveHour: over5, sevenDay: over7 } = isOverThreshold(usage, t, nowMs);
  if (over5 || over7) {
    const parts: string[] = [];
    if (over5) parts.push(`${fmtWindow('5h', usage.fiveHour, nowMs)} ≥ ${formatPercent(t.fiveHourThreshold)}`);
    if (over7) parts.push(`${fmtWindow('7d', usage.sevenDay, nowMs)} ≥ ${formatPercent(t.weeklyThreshold)}`);
    const v: Classified = { ...base, eligible: false, tier: 'over', why: `over threshold: ${parts.join(', ')}`, headroom: headroomOf(usage, t, nowMs) };
    const r5 = over5 ? resetOf(usage.fiveHour) : undefined;
    const r7 = over7 ? resetOf(usage.sevenDay) : undefined;
    if ((!over5 || r5 !== undefined) && (!over7 || r7 !== undefined)) {
      v.availableAt = new Date(Math.max(r5 ?? -Infinity, r7 ?? -Infinity)).toISOString();
    }
    return v;
  }
  const h = headroomOf(usage, t, nowMs);
  if (a.credentialsValid === 'unknown') {
    return { ...base, eligible: true, tier: 'unknown', why: `credentials not verified yet; ${fig}`, headroom: h };
  }
  if (a.usageUnknown !== undefined) {
    return { ...base, eligible: true, tier: 'good', why: `usage unknown (${a.usageUnknown}); last known ${fig}` };
  }
  return { ...base, eligible: true, tier: 'good', why: `ok: ${fig}, headroom ${Math.round(h * 10) / 10} pts`, headroom: h };
}

function byPreference(a: Classified, b: Classified): number {
  if (a.input.priority !== b.input.priority) return a.input.priority - b.input.priority;
  const ha = a.tier === 'good' ? (a.headroom ?? 0) : 0;
  const hb = b.tier === 'good' ? (b.headroom ?? 0) : 0;
  if (ha !== hb) return hb - ha;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function strip(classified: Classified): AccountVerdict {
  const { input: _input, ...v } = classified;
  return v;
}

function describeTarget(target: Classified, nowMs: number): string {
  return `${target.name} (priority ${target.input.priority}, ${target.tier === 'unknown' ? target.why : fmtUsage(target.input, nowMs)})`;
}

/** What every phase of the decision reads: the classified accounts and the current one. */
export interface DecisionContext {
  input: DecideActiveInput;
  nowMs: number;
  /** Every account, classified at `now`, in input order. */
  all: Classified[];
  byName: Map<string, Classified>;
  /** The active account now (persisted), or null on first start. */
  previous: string | null;
  /** Its classification; undefined when there is none or it is no longer declared. */
  current: Classified | undefined;
}

type DecisionCore = Omit<ActiveDecision, 'perAccount' | 'previous' | 'switched'>;

/** Classifies every account; the context the phases below share. Pure. */
export function decisionContext(input: DecideActiveInput): DecisionContext {
  const nowMs = typeof input.now === 'string' ? Date.parse(input.now) : input.now.getTime();
  const all = input.accounts.map((a) => classify(a, nowMs));
  const byName = new Map(all.map((c) => [c.name, c]));
  return { input, nowMs, all, byName, previous: input.current, current: input.current !== null ? byName.get(input.current) : undefined };
}

function complete(ctx: DecisionContext, core: DecisionCore): ActiveDecision {
  return { ...core, previous: ctx.previous, switched: core.active !== ctx.previous, perAccount: ctx.all.map(strip) };
}

function others(ctx: DecisionContext, name: string | null): Classified[] {
  return ctx.all.filter((c) => c.name !== name);
}

function best(pool: Classified[], tier: AccountTier): Classified | undefined {
  return pool.filter((c) => c.tier === tier).sort(byPreference)[0];
}

/** Decides which account the pool should run on. See the module comment for the rules. */
export function decideActive(input: DecideActiveInput): ActiveDecision {
  const ctx = decisionContext(input);
  const forced = decideForced(ctx);
  if (forced.decision) return forced.decision;
  const decision = decideUnforced(ctx);
  if (forced.rejected === undefined) return decision;
  return {
    ...decision,
    reason: decision.switched ? decision.reason : 'ForcedTargetInvalid',
    message: `forced failover to ${input.forced?.to} rejected: ${forced.rejected}; ${decision.message}`,
    forcedRejected: forced.rejected,
  };
}

/** An operator's forced target: taken at once when it can take the pool, else why it was refused. Pure. */
export function decideForced(ctx: DecisionContext): { decision?: ActiveDecision; rejected?: string } {
  const request = ctx.input.forced;
  if (!request) return {};
  const target = ctx.byName.get(request.to);
  if (!target) return { rejected: `no account named ${request.to}` };
  if (target.tier === 'excluded' || target.tier === 'exhausted') return { rejected: `${target.name} cannot take the pool: ${target.why}` };
  const why = request.reason ? ` (${request.reason})` : '';
  const note = target.tier === 'over' ? `; note: ${target.why}` : '';
  if (target.name === ctx.previous) {
    return { decision: complete(ctx, { active: target.name, reason: 'Forced', message: `forced failover to ${target.name}${why}: already active${note}` }) };
  }
  return {
    decision: complete(ctx, {
      active: target.name,
      reason: 'Forced',
      message: `forced failover${ctx.previous ? ` from ${ctx.previous}` : ''} to ${describeTarget(target, ctx.nowMs)}${why}${note}`,
    }),
  };
}

/** No account to move to: stay on `stayOn` (no churn) until the earliest reset, if any is known. Pure. */
export function nothingToSwitchTo(ctx: DecisionContext, stayOn: string | null, lead: string): ActiveDecision {
  const { current } = ctx;
  const waiting = others(ctx, stayOn).filter((c) => c.tier === 'over' || c.tier === 'exhausted');
  const currentWaits = current && (current.tier === 'over' || current.tier === 'exhausted') ? [current] : [];
  const resets = [...waiting, ...currentWaits]
    .map((c) => ({ name: c.name, at: toMs(c.availableAt) }))
    .filter((r): r is { name: string; at: number } => r.at !== undefined)
    .sort((a, b) => a.at - b.at);
  const summary = ctx.all.map((c) => `${c.name}: ${c.why}`).join('; ');
  const keep = stayOn !== null ? `staying on ${stayOn} (no churn)` : 'no active account';
  if (waiting.length > 0 || currentWaits.length > 0) {
    const first = resets[0];
    const core: DecisionCore = {
      active: stayOn,
      reason: 'AllExhausted',
      message: `${lead}all accounts are exhausted or over their thresholds; ${keep}${first ? `; earliest reset ${new Date(first.at).toISOString()} (${first.name})` : '; no reset time known'}. ${summary}`,
    };
    if (first) core.requeueAt = new Date(first.at).toISOString();
    return complete(ctx, core);
  }
  return complete(ctx, { active: stayOn, reason: 'NoEligibleAccount', message: `${lead}no account can take the pool; ${keep}. ${summary}` });
}

/** The rules without a forced target, first match wins (see the module comment). Pure. */
export function decideUnforced(ctx: DecisionContext): ActiveDecision {
  const { previous, current } = ctx;
  // First start: best good, else best unknown.
  if (previous === null) {
    const target = best(ctx.all, 'good') ?? best(ctx.all, 'unknown');
    if (target) return complete(ctx, { active: target.name, reason: 'Initial', message: `initial active account ${describeTarget(target, ctx.nowMs)}` });
    return nothingToSwitchTo(ctx, null, '');
  }
  const leave = mustLeave(ctx);
  if (leave) return leave;
  if (!current) return nothingToSwitchTo(ctx, null, ''); // unreachable: covered by mustLeave
  return failbackOrStay(ctx, current);
}

/** Leaving the current account at once (dwell ignored): removed, excluded, exhausted, or over a threshold. Pure. */
export function mustLeave(ctx: DecisionContext): ActiveDecision | undefined {
  const { previous, current } = ctx;
  const hard: { reason: DecisionReason; why: string } | undefined = !current
    ? { reason: 'CurrentRemoved', why: `${previous} is no longer declared` }
    : current.tier === 'exhausted'
      ? { reason: 'Exhausted', why: `${current.name} is ${current.why}` }
      : current.tier === 'excluded'
        ? {
            reason: current.input.suspended ? 'Suspended' : current.input.credentialsValid === false ? 'CredentialsInvalid' : 'SharedStateDiverged',
            why: `${current.name}: ${current.why}`,
          }
        : undefined;
  const pool = others(ctx, previous);
  const target = best(pool, 'good') ?? best(pool, 'unknown');
  if (hard) {
    if (target) return complete(ctx, { active: target.name, reason: hard.reason, message: `${hard.why}; switching to ${describeTarget(target, ctx.nowMs)}` });
    return nothingToSwitchTo(ctx, current ? previous : null, `${hard.why}; `);
  }
  if (current?.tier !== 'over') return undefined;
  // Never held by the dwell: staying runs the account into its hard limit.
  if (!target) return nothingToSwitchTo(ctx, previous, `${current.name} is ${current.why}; `);
  const recoverable = target.tier === 'unknown' ? ' (no account with known usage below its thresholds; a limit there moves the pool on)' : '';
  return complete(ctx, { active: target.name, reason: 'ThresholdCrossed', message: `${current.name} crossed a threshold: ${current.why}; switching to ${describeTarget(target, ctx.nowMs)}${recoverable}` });
}

/** The current account is good or unknown: sticky, unless a preferred account qualifies for failback (after the dwell). Pure. */
export function failbackOrStay(ctx: DecisionContext, current: Classified): ActiveDecision {
  const { previous, nowMs, input } = ctx;
  const since = toMs(input.currentSince);
  const dwellEnds = since !== undefined ? since + input.minDwellMs : undefined;
  const dwelling = dwellEnds !== undefined && nowMs < dwellEnds;
  const failback = ctx.all
    // Never a voluntary move onto figures that are no longer current.
    .filter((c) => c.name !== previous && c.tier === 'good' && c.input.usageUnknown === undefined && c.input.priority < current.input.priority && c.input.thresholds.failbackBelow !== undefined)
    .filter((c) => {
      const usage = c.input.usage === 'unknown' ? undefined : c.input.usage;
      return effectiveUtilization(usage?.fiveHour, nowMs) < (c.input.thresholds.failbackBelow ?? -Infinity);
    })
    .sort(byPreference)[0];
  if (!failback) return complete(ctx, { active: previous, reason: 'StaySticky', message: `staying on ${current.name}: ${current.why}` });
  const usage = failback.input.usage as UsageSnapshot;
  const figures = `${fmtWindow('5h', usage.fiveHour, nowMs)} < ${formatPercent(failback.input.thresholds.failbackBelow ?? 0)}`;
  if (dwelling && dwellEnds !== undefined) {
    return complete(ctx, {
      active: previous,
      reason: 'DwellHold',
      message: `failback to ${failback.name} (${figures}) pending until the minimum dwell on ${current.name} ends at ${new Date(dwellEnds).toISOString()}`,
      requeueAt: new Date(dwellEnds).toISOString(),
    });
  }
  return complete(ctx, {
    active: failback.name,
    reason: 'Failback',
    message: `failing back from ${current.name} to ${failback.name} (priority ${failback.input.priority} < ${current.input.priority}): ${figures}; ${fmtUsage(failback.input, nowMs)}`,
  });
}
