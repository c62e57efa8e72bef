import { describe, expect, it } from 'vitest';
import { decideActive, type AccountDecisionInput, type AccountTier, type DecideActiveInput, type DecisionReason } from '../../src/controllers/account-decision.js';
import type { UsageSnapshot } from '../../src/core/quota.js';

const NOW = Date.parse('2026-03-10T12:00:00Z');
const T = (min: number): string => new Date(NOW + min * 60_000).toISOString();
const DWELL = 5 * 60_000;

interface Opts {
  p?: number;
  u5?: number;
  u7?: number;
  r5?: number;
  r7?: number;
  unknown?: boolean;
  suspended?: boolean;
  creds?: boolean | 'unknown';
  linked?: boolean;
  failbackBelow?: number;
  exhaustedUntil?: number;
  /** The figures are no longer current (quota health Unknown). */
  stale?: boolean;
}

function acct(name: string, o: Opts = {}): AccountDecisionInput {
  let usage: UsageSnapshot | 'unknown' = 'unknown';
  if (!o.unknown) {
    usage = {
      scoped: [],
      fiveHour: { utilization: o.u5 ?? 10, source: 'usage-api', observedAt: T(-1), resetsAt: T(o.r5 ?? 120) },
      sevenDay: { utilization: o.u7 ?? 10, source: 'usage-api', observedAt: T(-1), resetsAt: T(o.r7 ?? 5000) },
    };
  }
  const a: AccountDecisionInput = {
    name,
    priority: o.p ?? 1,
    suspended: o.suspended ?? false,
    credentialsValid: o.creds ?? true,
    sharedStateLinked: o.linked ?? true,
    thresholds: { fiveHourThreshold: 90, weeklyThreshold: 95 },
    usage,
  };
  if (o.failbackBelow !== undefined) a.thresholds.failbackBelow = o.failbackBelow;
  if (o.stale) a.usageUnknown = 'stale: newest figure 22m old';
  if (o.exhaustedUntil !== undefined) {
    a.exhaustedUntil = T(o.exhaustedUntil);
    a.exhaustedReason = "transcript: You've hit your session limit";
  }
  return a;
}

interface Case {
  name: string;
  accounts: AccountDecisionInput[];
  current?: string | null;
  /** minutes ago the current became active; default 60 (dwell elapsed) */
  sinceMin?: number;
  forced?: { to: string; reason?: string };
  active: string | null;
  reason: DecisionReason;
  switched?: boolean;
  requeueAt?: string | null;
  message?: RegExp[];
  forcedRejected?: RegExp;
  tiers?: Record<string, AccountTier>;
  /** Per-account verdict texts. */
  why?: Record<string, RegExp>;
}

const CASES: Case[] = [
  // initial choice, ordering, ties
  { name: 'initial: lowest priority number wins', accounts: [acct('b', { p: 2, u5: 1 }), acct('a', { p: 1, u5: 50 })], current: null, active: 'a', reason: 'Initial', switched: true },
  { name: 'initial: tie on priority → most headroom', accounts: [acct('a', { u5: 50 }), acct('b', { u5: 20 })], current: null, active: 'b', reason: 'Initial' },
  { name: 'initial: headroom counts the weekly window too', accounts: [acct('a', { u5: 10, u7: 90 }), acct('b', { u5: 60, u7: 10 })], current: null, active: 'b', reason: 'Initial' },
  { name: 'initial: full tie → name order', accounts: [acct('b'), acct('a')], current: null, active: 'a', reason: 'Initial' },
  { name: 'initial: skips an account over threshold', accounts: [acct('a', { p: 1, u5: 95 }), acct('b', { p: 2 })], current: null, active: 'b', reason: 'Initial' },
  { name: 'initial: known-good beats a higher-priority unknown', accounts: [acct('a', { p: 1, unknown: true }), acct('b', { p: 2 })], current: null, active: 'b', reason: 'Initial' },
  { name: 'initial: all unknown → best priority', accounts: [acct('b', { p: 2, unknown: true }), acct('a', { p: 1, unknown: true })], current: null, active: 'a', reason: 'Initial' },
  { name: 'initial: unverified credentials rank as unknown', accounts: [acct('a', { p: 1, creds: 'unknown' }), acct('b', { p: 2 })], current: null, active: 'b', reason: 'Initial', tiers: { a: 'unknown', b: 'good' } },
  { name: 'initial: nothing usable → AllExhausted, no active', accounts: [acct('a', { u5: 99, r5: 30 }), acct('b', { u7: 97, r7: 900 })], current: null, active: null, reason: 'AllExhausted', switched: false, requeueAt: T(30) },

  // stickiness and thresholds
  { name: 'sticky: stays on a lower-priority account while it is fine', accounts: [acct('a', { p: 1, u5: 0 }), acct('b', { p: 2, u5: 40 })], current: 'b', active: 'b', reason: 'StaySticky', switched: false },
  { name: '5h at 89.9 % → stay', accounts: [acct('a', { u5: 89.9 }), acct('b')], current: 'a', active: 'a', reason: 'StaySticky' },
  { name: '5h exactly at threshold → switch', accounts: [acct('a', { p: 1, u5: 90 }), acct('b', { p: 2 })], current: 'a', active: 'b', reason: 'ThresholdCrossed', message: [/a crossed a threshold/, /5h 90% \(usage-api, 1m ago\) ≥ 90%/, /switching to b/] },
  { name: '7d over weekly threshold → switch', accounts: [acct('a', { p: 1, u7: 96 }), acct('b', { p: 2 })], current: 'a', active: 'b', reason: 'ThresholdCrossed', message: [/7d 96% .* ≥ 95%/] },
  { name: 'switch target: priority first, then headroom', accounts: [acct('a', { p: 1, u5: 92 }), acct('b', { p: 2, u5: 50 }), acct('c', { p: 2, u5: 5 }), acct('d', { p: 3, u5: 0 })], current: 'a', active: 'c', reason: 'ThresholdCrossed' },
  { name: 'a window whose reset passed is not over threshold', accounts: [acct('a', { u5: 97, r5: -1 }), acct('b')], current: 'a', active: 'a', reason: 'StaySticky', message: [/window reset/] },

  // dwell
  { name: 'dwell never holds a threshold: crossed 1 min after a switch → leave at once', accounts: [acct('a', { p: 1, u5: 92 }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'ThresholdCrossed', switched: true, requeueAt: null, message: [/a crossed a threshold/] },
  { name: 'dwell never holds a threshold: crossed right after start (just became active)', accounts: [acct('a', { p: 1, u5: 95 }), acct('b', { p: 2 })], current: 'a', sinceMin: 0, active: 'b', reason: 'ThresholdCrossed' },
  { name: 'dwell never holds a weekly threshold either', accounts: [acct('a', { p: 1, u7: 97 }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'ThresholdCrossed' },
  { name: 'dwell does not hold hard exhaustion (evidence)', accounts: [acct('a', { p: 1, exhaustedUntil: 30 }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'Exhausted', message: [/exhausted until/, /transcript/] },
  { name: 'dwell does not hold utilization ≥ 100', accounts: [acct('a', { p: 1, u5: 100.5 }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'Exhausted' },
  { name: 'dwell does not hold a suspension', accounts: [acct('a', { p: 1, suspended: true }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'Suspended' },
  { name: 'dwell does not hold invalid credentials', accounts: [acct('a', { p: 1, creds: false }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'CredentialsInvalid' },
  { name: 'current diverged → leave at once', accounts: [acct('a', { p: 1, linked: false }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, active: 'b', reason: 'SharedStateDiverged' },
  { name: 'current removed from the manifests', accounts: [acct('b', { p: 2 }), acct('c', { p: 3 })], current: 'a', active: 'b', reason: 'CurrentRemoved' },
  { name: 'expired evidence no longer counts', accounts: [acct('a', { exhaustedUntil: -1 }), acct('b')], current: 'a', active: 'a', reason: 'StaySticky' },

  // excluded targets
  {
    name: 'targets skip suspended, invalid, diverged, over, exhausted',
    accounts: [acct('a', { p: 1, u5: 95 }), acct('b', { p: 2, suspended: true }), acct('c', { p: 3, creds: false }), acct('d', { p: 4, linked: false }), acct('e', { p: 5, exhaustedUntil: 60 }), acct('f', { p: 6 })],
    current: 'a',
    active: 'f',
    reason: 'ThresholdCrossed',
    tiers: { a: 'over', b: 'excluded', c: 'excluded', d: 'excluded', e: 'exhausted', f: 'good' },
  },

  // failback
  { name: 'failback: higher priority below failbackBelow → move back', accounts: [acct('a', { p: 1, u5: 10, failbackBelow: 50 }), acct('b', { p: 2, u5: 30 })], current: 'b', active: 'a', reason: 'Failback', message: [/failing back from b to a/, /5h 10% .* < 50%/] },
  { name: 'failback: not while at/above failbackBelow', accounts: [acct('a', { p: 1, u5: 50, failbackBelow: 50 }), acct('b', { p: 2 })], current: 'b', active: 'b', reason: 'StaySticky' },
  { name: 'failback: only with failbackBelow set', accounts: [acct('a', { p: 1, u5: 0 }), acct('b', { p: 2 })], current: 'b', active: 'b', reason: 'StaySticky' },
  { name: 'failback: never to a lower priority', accounts: [acct('a', { p: 1, u5: 60 }), acct('b', { p: 2, u5: 0, failbackBelow: 50 })], current: 'a', active: 'a', reason: 'StaySticky' },
  { name: 'failback: target weekly over threshold → no', accounts: [acct('a', { p: 1, u5: 0, u7: 96, failbackBelow: 50 }), acct('b', { p: 2 })], current: 'b', active: 'b', reason: 'StaySticky' },
  { name: 'failback: never to unknown usage', accounts: [acct('a', { p: 1, unknown: true, failbackBelow: 50 }), acct('b', { p: 2 })], current: 'b', active: 'b', reason: 'StaySticky' },
  { name: 'failback: honours dwell', accounts: [acct('a', { p: 1, u5: 0, failbackBelow: 50 }), acct('b', { p: 2 })], current: 'b', sinceMin: 2, active: 'b', reason: 'DwellHold', requeueAt: T(3) },
  { name: 'failback: picks the best of several', accounts: [acct('a', { p: 1, u5: 0, failbackBelow: 50 }), acct('b', { p: 2, u5: 0, failbackBelow: 50 }), acct('c', { p: 3 })], current: 'c', active: 'a', reason: 'Failback' },
  { name: 'failback: from an unknown current too', accounts: [acct('a', { p: 1, u5: 0, failbackBelow: 50 }), acct('b', { p: 2, unknown: true })], current: 'b', active: 'a', reason: 'Failback' },

  // all exhausted
  {
    name: 'all exhausted: keep current, requeue at the earliest reset',
    accounts: [acct('a', { p: 1, u5: 93, r5: 90 }), acct('b', { p: 2, exhaustedUntil: 30 }), acct('c', { p: 3, u7: 99, r7: 3000 }), acct('d', { p: 4, suspended: true })],
    current: 'a',
    active: 'a',
    reason: 'AllExhausted',
    switched: false,
    requeueAt: T(30),
    message: [/staying on a/, /earliest reset .* \(b\)/],
  },
  { name: 'all exhausted: hard-exhausted current is kept (no churn)', accounts: [acct('a', { p: 1, exhaustedUntil: 45 }), acct('b', { p: 2, u5: 95, r5: 20 })], current: 'a', active: 'a', reason: 'AllExhausted', requeueAt: T(20) },
  { name: 'all exhausted: a window over threshold AND over 7d needs both resets', accounts: [acct('a', { u5: 95, r5: 10, u7: 97, r7: 600 })], current: 'a', active: 'a', reason: 'AllExhausted', requeueAt: T(600) },
  { name: 'all exhausted: an account without a known reset is skipped for requeueAt', accounts: [acct('a', { u5: 95 }), { ...acct('b', { p: 2 }), usage: { scoped: [], fiveHour: { utilization: 99, source: 'statusline', observedAt: T(-1) } } }], current: 'a', active: 'a', reason: 'AllExhausted', requeueAt: T(120) },
  { name: 'no eligible account at all (suspended/invalid) → keep current', accounts: [acct('a', { suspended: true }), acct('b', { creds: false })], current: 'a', active: 'a', reason: 'NoEligibleAccount', switched: false, requeueAt: null },

  // unknown data
  { name: 'unknown current usage is not a reason to leave', accounts: [acct('a', { p: 2, unknown: true }), acct('b', { p: 1 })], current: 'a', active: 'a', reason: 'StaySticky', message: [/usage unknown/] },
  { name: 'over threshold with only unknown others → move to the unknown one (recoverable)', accounts: [acct('a', { u5: 92 }), acct('b', { p: 2, unknown: true })], current: 'a', active: 'b', reason: 'ThresholdCrossed', switched: true, message: [/usage unknown/, /a limit there moves the pool on/] },
  { name: 'over threshold, during the dwell, only unknown others → still moves', accounts: [acct('a', { u5: 92 }), acct('b', { p: 2, unknown: true })], current: 'a', sinceMin: 1, active: 'b', reason: 'ThresholdCrossed' },
  { name: 'over threshold: unknown targets by priority', accounts: [acct('a', { p: 1, u5: 92 }), acct('c', { p: 3, unknown: true }), acct('b', { p: 2, unknown: true })], current: 'a', active: 'b', reason: 'ThresholdCrossed' },
  { name: 'over threshold: excluded and over others are never targets', accounts: [acct('a', { p: 1, u5: 92 }), acct('b', { p: 2, unknown: true, creds: false }), acct('c', { p: 3, u5: 95 })], current: 'a', active: 'a', reason: 'AllExhausted', switched: false },
  { name: 'expired access token (refresh token present) is a target with unknown usage', accounts: [acct('a', { p: 1, u5: 92 }), { ...acct('b', { p: 2, unknown: true }), accessTokenExpired: true }], current: 'a', active: 'b', reason: 'ThresholdCrossed', tiers: { a: 'over', b: 'unknown' }, message: [/access token expired \(claude refreshes it at launch\)/] },
  { name: 'invalid credentials: the verdict names the problem', accounts: [acct('a', { p: 1 }), { ...acct('b', { p: 2, creds: false }), credentialsProblem: 'no credentials at /x/.credentials.json' }], current: 'a', active: 'a', reason: 'StaySticky', tiers: { a: 'good', b: 'excluded' }, why: { b: /credentials invalid \(CredentialsValid=False\): no credentials at \/x\/\.credentials\.json/ } },
  { name: 'diverged shared state: the verdict names the paths', accounts: [acct('a', { p: 1 }), { ...acct('b', { p: 2, linked: false }), sharedStateProblem: '/b/todos is a real directory' }], current: 'a', active: 'a', reason: 'StaySticky', why: { b: /shared state diverged \(SharedStateLinked=False\): \/b\/todos is a real directory/ } },
  { name: 'over threshold: known-good beats a higher-priority unknown', accounts: [acct('a', { p: 1, u5: 92 }), acct('b', { p: 2, unknown: true }), acct('c', { p: 3 })], current: 'a', active: 'c', reason: 'ThresholdCrossed' },
  { name: 'exhausted with only unknown others → go to the unknown one', accounts: [acct('a', { exhaustedUntil: 60 }), acct('b', { p: 2, unknown: true })], current: 'a', active: 'b', reason: 'Exhausted', message: [/usage unknown/] },

  // forced
  { name: 'forced: valid target, during dwell', accounts: [acct('a', { p: 1 }), acct('b', { p: 2 })], current: 'a', sinceMin: 1, forced: { to: 'b', reason: 'maintenance' }, active: 'b', reason: 'Forced', message: [/forced failover from a to b/, /maintenance/] },
  { name: 'forced: target over threshold is allowed, noted', accounts: [acct('a', { p: 1 }), acct('b', { p: 2, u5: 93 })], current: 'a', forced: { to: 'b' }, active: 'b', reason: 'Forced', message: [/note: over threshold/] },
  { name: 'forced: unknown-usage target is allowed', accounts: [acct('a', { p: 1 }), acct('b', { p: 2, unknown: true })], current: 'a', forced: { to: 'b' }, active: 'b', reason: 'Forced' },
  { name: 'forced: current target → no switch', accounts: [acct('a'), acct('b')], current: 'a', forced: { to: 'a' }, active: 'a', reason: 'Forced', switched: false, message: [/already active/] },
  { name: 'forced: suspended target rejected', accounts: [acct('a', { p: 1 }), acct('b', { p: 2, suspended: true })], current: 'a', forced: { to: 'b' }, active: 'a', reason: 'ForcedTargetInvalid', switched: false, forcedRejected: /b cannot take the pool: suspended/ },
  { name: 'forced: exhausted target rejected', accounts: [acct('a', { p: 1 }), acct('b', { p: 2, exhaustedUntil: 10 })], current: 'a', forced: { to: 'b' }, active: 'a', reason: 'ForcedTargetInvalid', forcedRejected: /exhausted until/ },
  { name: 'forced: invalid-credentials target rejected', accounts: [acct('a', { p: 1 }), acct('b', { p: 2, creds: false })], current: 'a', forced: { to: 'b' }, active: 'a', reason: 'ForcedTargetInvalid', forcedRejected: /credentials invalid/ },
  { name: 'forced: unknown name rejected', accounts: [acct('a')], current: 'a', forced: { to: 'zz' }, active: 'a', reason: 'ForcedTargetInvalid', forcedRejected: /no account named zz/ },
  { name: 'forced: rejected, but the normal rules still switch', accounts: [acct('a', { p: 1, exhaustedUntil: 30 }), acct('b', { p: 2, linked: false }), acct('c', { p: 3 })], current: 'a', forced: { to: 'b' }, active: 'c', reason: 'Exhausted', forcedRejected: /shared state diverged/ },
  // Figures that are no longer current (docs/operations.md, "Usage data unknown"): the tier follows them, no headroom is claimed.
  { name: 'stale figures: still a threshold target (backups barely move), after a current one of the same priority', accounts: [acct('a', { p: 1, u5: 93 }), acct('b', { p: 2, u5: 5, stale: true }), acct('c', { p: 2, u5: 60 })], current: 'a', active: 'c', reason: 'ThresholdCrossed' },
  { name: 'stale figures: the only target left', accounts: [acct('a', { p: 1, u5: 93 }), acct('b', { p: 2, u5: 5, stale: true })], current: 'a', active: 'b', reason: 'ThresholdCrossed', message: [/switching to b \(priority 2, 5h 5%/] },
  { name: 'stale figures: no voluntary failback onto them', accounts: [acct('a', { p: 1, u5: 5, failbackBelow: 20, stale: true }), acct('b', { p: 2 })], current: 'b', active: 'b', reason: 'StaySticky' },
  { name: 'stale figures on the current account: no headroom claimed', accounts: [acct('a', { p: 1, u5: 40, stale: true }), acct('b', { p: 2 })], current: 'a', active: 'a', reason: 'StaySticky', message: [/staying on a: usage unknown \(stale: newest figure 22m old\); last known 5h 40%/] },
];

describe('decideActive (table)', () => {
  it.each(CASES)('$name', (c) => {
    const input: DecideActiveInput = { accounts: c.accounts, current: c.current ?? null, minDwellMs: DWELL, now: new Date(NOW) };
    if (c.current) input.currentSince = T(-(c.sinceMin ?? 60));
    if (c.forced) input.forced = c.forced;
    const d = decideActive(input);
    expect({ active: d.active, reason: d.reason }).toEqual({ active: c.active, reason: c.reason });
    expect(d.previous).toBe(c.current ?? null);
    expect(d.switched).toBe(d.active !== (c.current ?? null));
    if (c.switched !== undefined) expect(d.switched).toBe(c.switched);
    if (c.requeueAt === null) expect(d.requeueAt).toBeUndefined();
    else if (c.requeueAt !== undefined) expect(d.requeueAt).toBe(c.requeueAt);
    for (const re of c.message ?? []) expect(d.message).toMatch(re);
    if (c.forcedRejected) expect(d.forcedRejected).toMatch(c.forcedRejected);
    else expect(d.forcedRejected).toBeUndefined();
    if (c.tiers) expect(Object.fromEntries(d.perAccount.map((p) => [p.name, p.tier]))).toEqual(c.tiers);
    for (const v of d.perAccount) {
      if (c.accounts.find((a) => a.name === v.name)?.usageUnknown === undefined) continue;
      expect(v.why, v.name).not.toMatch(/headroom/);
      expect(v.headroom, v.name).toBeUndefined();
    }
    for (const [name, re] of Object.entries(c.why ?? {})) expect(d.perAccount.find((p) => p.name === name)?.why).toMatch(re);
    expect(d.perAccount.map((p) => p.name)).toEqual(c.accounts.map((a) => a.name));
    for (const p of d.perAccount) {
      expect(p.eligible).toBe(p.tier === 'good' || p.tier === 'unknown');
      expect(p.why).not.toBe('');
    }
  });
});

describe('decideActive over time (sequences)', () => {
  /** Runs the decision at each step, carrying the active account and `since` like the controller. */
  function run(steps: Array<{ atMin: number; accounts: AccountDecisionInput[] }>): Array<{ atMin: number; active: string | null; reason: DecisionReason }> {
    let current: string | null = null;
    let since: string | undefined;
    const out: Array<{ atMin: number; active: string | null; reason: DecisionReason }> = [];
    for (const s of steps) {
      const now = new Date(NOW + s.atMin * 60_000);
      const input: DecideActiveInput = { accounts: s.accounts, current, minDwellMs: DWELL, now };
      if (since) input.currentSince = since;
      const d = decideActive(input);
      if (d.switched) since = now.toISOString();
      current = d.active;
      out.push({ atMin: s.atMin, active: d.active, reason: d.reason });
    }
    return out;
  }

  it('fails over on the threshold, fails back ONCE after the reset, no flapping', () => {
    const a = (u5: number): AccountDecisionInput => acct('a', { p: 1, u5, failbackBelow: 50 });
    const b = (u5: number): AccountDecisionInput => acct('b', { p: 2, u5 });
    const steps = [
      { atMin: 0, accounts: [a(40), b(0)] },
      { atMin: 10, accounts: [a(91), b(0)] },
      { atMin: 20, accounts: [a(91), b(20)] },
      { atMin: 30, accounts: [a(60), b(30)] }, // A reset but still above failbackBelow: stay on B
      { atMin: 40, accounts: [a(5), b(40)] }, // below failbackBelow: back to A
      { atMin: 41, accounts: [a(6), b(40)] },
      { atMin: 50, accounts: [a(30), b(10)] },
      { atMin: 60, accounts: [a(49), b(0)] },
    ];
    const r = run(steps);
    expect(r.map((x) => `${x.atMin}:${x.active}:${x.reason}`)).toEqual([
      '0:a:Initial',
      '10:b:ThresholdCrossed',
      '20:b:StaySticky',
      '30:b:StaySticky',
      '40:a:Failback',
      '41:a:StaySticky',
      '50:a:StaySticky',
      '60:a:StaySticky',
    ]);
    const switches = r.filter((x, i) => i > 0 && x.active !== r[i - 1]?.active).length;
    expect(switches).toBe(2);
  });

  it('a threshold crossed right after a switch moves at once: the dwell does not hold it', () => {
    const steps = [
      { atMin: 0, accounts: [acct('a', { p: 1, exhaustedUntil: 300 }), acct('b', { p: 2, u5: 50 }), acct('c', { p: 3 })] },
      { atMin: 1, accounts: [acct('a', { p: 1, exhaustedUntil: 300 }), acct('b', { p: 2, u5: 91 }), acct('c', { p: 3 })] },
      { atMin: 2, accounts: [acct('a', { p: 1, exhaustedUntil: 300 }), acct('b', { p: 2, u5: 92 }), acct('c', { p: 3 })] },
    ];
    expect(run(steps).map((x) => `${x.active}:${x.reason}`)).toEqual(['b:Initial', 'c:ThresholdCrossed', 'c:StaySticky']);
  });

  it('just started: crosses 1 min after start → leaves; the next account crosses right after → leaves again', () => {
    const steps = [
      { atMin: 0, accounts: [acct('a', { p: 1, u5: 70 }), acct('b', { p: 2, u5: 40 }), acct('c', { p: 3 })] },
      { atMin: 1, accounts: [acct('a', { p: 1, u5: 91 }), acct('b', { p: 2, u5: 40 }), acct('c', { p: 3 })] },
      { atMin: 2, accounts: [acct('a', { p: 1, u5: 91 }), acct('b', { p: 2, u5: 90 }), acct('c', { p: 3 })] },
      { atMin: 3, accounts: [acct('a', { p: 1, u5: 92 }), acct('b', { p: 2, u5: 91 }), acct('c', { p: 3 })] },
    ];
    expect(run(steps).map((x) => `${x.active}:${x.reason}`)).toEqual(['a:Initial', 'b:ThresholdCrossed', 'c:ThresholdCrossed', 'c:StaySticky']);
  });

  it('the dwell still delays a failback, then it happens once', () => {
    const a = (u5: number): AccountDecisionInput => acct('a', { p: 1, u5, failbackBelow: 50 });
    const steps = [
      { atMin: 0, accounts: [a(95), acct('b', { p: 2 })] },
      { atMin: 1, accounts: [a(95), acct('b', { p: 2 })] },
      { atMin: 2, accounts: [a(5), acct('b', { p: 2 })] }, // reset, but b became active 2 min ago (dwell 5 min)
      { atMin: 4, accounts: [a(5), acct('b', { p: 2 })] },
      { atMin: 6, accounts: [a(5), acct('b', { p: 2 })] },
      { atMin: 7, accounts: [a(6), acct('b', { p: 2 })] },
    ];
    expect(run(steps).map((x) => `${x.active}:${x.reason}`)).toEqual(['b:Initial', 'b:StaySticky', 'b:DwellHold', 'b:DwellHold', 'a:Failback', 'a:StaySticky']);
  });

  it('all exhausted does not churn, and resumes at the earliest reset', () => {
    const steps = [
      { atMin: 0, accounts: [acct('a', { p: 1, u5: 10 }), acct('b', { p: 2, u5: 95, r5: 30 })] },
      { atMin: 5, accounts: [acct('a', { p: 1, u5: 96, r5: 100 }), acct('b', { p: 2, u5: 95, r5: 30 })] },
      { atMin: 10, accounts: [acct('a', { p: 1, u5: 97, r5: 100 }), acct('b', { p: 2, u5: 95, r5: 30 })] },
      { atMin: 31, accounts: [acct('a', { p: 1, u5: 97, r5: 100 }), acct('b', { p: 2, u5: 95, r5: 30 })] }, // b's window reset
    ];
    expect(run(steps).map((x) => `${x.active}:${x.reason}`)).toEqual(['a:Initial', 'a:AllExhausted', 'a:AllExhausted', 'b:ThresholdCrossed']);
  });
});
