/**
 * The phases of planAccounts (src/controllers/account.ts), each called directly: per-account
 * assessment and links, the pool decision, each account's conditions and status, and the pool's
 * switch, alerts and status.
 */
import { describe, expect, it } from 'vitest';
import { desiredFromObjects } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import type { Condition } from '../../src/core/conditions.js';
import { emptyPlanPart, type StatusMap } from '../../src/core/controller.js';
import type { CredentialsCheck, PathInfo, UsageFetch } from '../../src/core/ports.js';
import type { AccountStatus, PoolStatus } from '../../src/core/status.js';
import { decideActive, type ActiveDecision, type AccountVerdict } from '../../src/controllers/account-decision.js';
import {
  assessAccount, credentialsCondition, decidePool, planAccountStatus, planActiveLink, planFailoverCompletion, planForcedOutcome,
  planNoEligibleAccount, planPoolSwitch, poolStatusOf, quotaCondition, sharedStateCondition, sharedStateLinkChange, usageFreshnessCondition,
  type AccountObservation,
} from '../../src/controllers/account.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const NOW = new Date(T0);
const min = (m: number) => T0 + m * 60_000;

const desiredOf = (specs: Record<string, string>, sessions = '') => desiredFromObjects(parseManifestText('/m/a.yaml', Object.entries(specs)
  .map(([n, extra], i) => `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: ${n}}\nspec: {configDir: /acc/${n}, priority: ${(i + 1) * 10}${extra}}\n`).join('---\n') + sessions, { homeDir: '/h' }).objects);
const SHARED = ', sharedStateDir: /shared, sharedDirs: [projects, todos]';
const accountOf = (extra = SHARED) => {
  const a = desiredOf({ a: extra }).accounts[0];
  if (!a) throw new Error('no account');
  return a;
};
const LINKED: Record<string, PathInfo> = { projects: { kind: 'symlink', target: '/shared/projects' }, todos: { kind: 'symlink', target: '/shared/todos' } };
const VALID: CredentialsCheck = { ok: true, expiresAt: T0 + 86_400_000 };
const window = (u: number, at = T0) => ({ utilization: u, source: 'usage-api' as const, observedAt: new Date(at).toISOString(), resetsAt: new Date(min(300)).toISOString() });

function obs(o: { credentials?: CredentialsCheck; u5?: number; seenAt?: number; polled?: UsageFetch; failures?: number; lastOutcome?: 'ok' | 'rejected'; links?: Record<string, PathInfo>; activeLink?: PathInfo } = {}): AccountObservation {
  const seenAt = o.seenAt ?? T0;
  return {
    credentials: o.credentials ?? VALID,
    ...(o.polled ? { polled: o.polled } : {}),
    poll: {
      consecutiveFailures: o.failures ?? 0,
      ...(o.u5 !== undefined ? { lastGood: { value: { scoped: [], fiveHour: window(o.u5, seenAt), sevenDay: window(10, seenAt) }, at: seenAt }, lastAttemptAt: seenAt } : {}),
      ...(o.lastOutcome ? { lastOutcome: o.lastOutcome } : {}),
    },
    links: o.links ?? LINKED,
    ...(o.activeLink ? { activeLink: o.activeLink } : {}),
  };
}
const cond = (type: string, status: Condition['status'], reason: string): Condition => ({ type, status, reason, message: '', lastTransitionTime: NOW.toISOString(), observedGeneration: 'g' });
const priorAccount = (over: Partial<AccountStatus> = {}): AccountStatus => ({ observedGeneration: 'g', conditions: [], active: false, tier: 'good', usage: { scoped: [], exhausted: false, evidence: [] }, freshness: { state: 'Fresh' }, poll: { consecutiveFailures: 0 }, observingSince: new Date(min(-600)).toISOString(), ...over });
const verdict = (tier: AccountVerdict['tier'], name = 'a'): AccountVerdict => ({ name, eligible: tier === 'good' || tier === 'unknown', tier, why: `${tier} why` });
const decision = (over: Partial<ActiveDecision> = {}): ActiveDecision => ({ active: 'a', previous: 'a', switched: false, reason: 'StaySticky', message: 'staying', perAccount: [verdict('good')], ...over });
const pool = (over: Partial<PoolStatus> = {}): PoolStatus => ({ observedGeneration: 'pool', conditions: [], activeAccount: 'a', allExhausted: false, exhausted: [], ...over });

describe('assessAccount: usage, health, links and the decision input of one account', () => {
  it.each<[string, AccountObservation, StatusMap, { credentialsValid: boolean | 'unknown'; usage: 'known' | 'unknown'; linked: boolean; wake: boolean; problem?: RegExp }]>([
    ['a fresh poll', obs({ u5: 40 }), {}, { credentialsValid: true, usage: 'known', linked: true, wake: true }],
    ['never polled', obs(), {}, { credentialsValid: true, usage: 'unknown', linked: true, wake: true }],
    ['missing credentials: no wake for polls', obs({ credentials: { ok: false, reason: 'CredentialsMissing', message: 'no file' } }), {}, { credentialsValid: false, usage: 'unknown', linked: true, wake: false, problem: /no file/ }],
    ['the last poll was rejected', obs({ lastOutcome: 'rejected' }), {}, { credentialsValid: false, usage: 'unknown', linked: true, wake: true, problem: /rejected the access token/ }],
    ['a diverged shared dir', obs({ links: { ...LINKED, todos: { kind: 'directory' } } }), {}, { credentialsValid: true, usage: 'unknown', linked: false, wake: true }],
    ['a session reports usage for it', obs(), { 'Session/s1': { observedGeneration: 'g', conditions: [], account: 'a', launchedAt: new Date(min(-10)).toISOString(), rateLimits: { five_hour: { used_percentage: 30 }, observedAt: new Date(min(-1)).toISOString() } } }, { credentialsValid: true, usage: 'known', linked: true, wake: true }],
  ])('%s', (_name, observation, prior, want) => {
    const got = assessAccount(accountOf(), observation, prior, NOW);
    expect(got.decisionInput.credentialsValid).toBe(want.credentialsValid);
    expect(got.decisionInput.usage === 'unknown' ? 'unknown' : 'known').toBe(want.usage);
    expect(got.links.linked).toBe(want.linked);
    expect(Number.isFinite(got.wakeAt)).toBe(want.wake);
    if (want.problem) expect(got.decisionInput.credentialsProblem).toMatch(want.problem);
  });
});

describe('sharedStateLinkChange: the missing links, created together', () => {
  it.each<[string, string, Record<string, PathInfo>, string[] | undefined]>([
    ['all linked: nothing', SHARED, LINKED, undefined],
    ['one missing: mkdir + symlink', SHARED, { projects: LINKED.projects as PathInfo, todos: { kind: 'missing' } }, ['fs.mkdir', 'fs.symlink']],
    ['one missing, one diverged: nothing is changed', SHARED, { projects: { kind: 'directory' }, todos: { kind: 'missing' } }, undefined],
    ['no shared store: nothing', '', {}, undefined],
  ])('%s', (_name, extra, links, effects) => {
    const account = accountOf(extra);
    const change = sharedStateLinkChange(account, assessAccount(account, obs({ links }), {}, NOW).links);
    expect(change?.effects.map((e) => e.type)).toEqual(effects);
  });
});

describe('decidePool: the decision from the assessments and the pool status', () => {
  const desired = desiredOf({ a: SHARED, b: SHARED });
  const assess = (u5: Record<string, number>) => desired.accounts.map((a) => assessAccount(a, obs({ u5: u5[a.metadata.name] as number }), {}, NOW));
  it.each<[string, Record<string, number>, PoolStatus | undefined, { to: string; reason?: string } | undefined, string, string]>([
    ['first start: the preferred account', { a: 10, b: 10 }, undefined, undefined, 'a', 'Initial'],
    ['over the threshold: moves', { a: 95, b: 10 }, pool(), undefined, 'b', 'ThresholdCrossed'],
    ['good: stays', { a: 50, b: 10 }, pool(), undefined, 'a', 'StaySticky'],
    ['forced', { a: 50, b: 10 }, pool(), { to: 'b' }, 'b', 'Forced'],
  ])('%s', (_name, u5, poolStatus, forced, active, reason) => {
    const got = decidePool(assess(u5), poolStatus, forced, 0, NOW);
    expect([got.active, got.reason]).toEqual([active, reason]);
  });
});

describe('credentialsCondition', () => {
  it.each<[string, AccountObservation, AccountStatus | undefined, string, string, string[]]>([
    ['present', obs(), undefined, 'True', 'CredentialsPresent', []],
    ['missing: an event the first time', obs({ credentials: { ok: false, reason: 'CredentialsMissing', message: 'no file' } }), undefined, 'False', 'CredentialsMissing', ['CredentialsExpired']],
    ['missing again: no second event', obs({ credentials: { ok: false, reason: 'CredentialsMissing', message: 'no file' } }), priorAccount({ conditions: [cond('CredentialsValid', 'False', 'CredentialsMissing')] }), 'False', 'CredentialsMissing', []],
    ['a 401 now', obs({ polled: { ok: false, kind: 'CredentialsExpired', message: '401' } }), undefined, 'False', 'CredentialsExpired', ['CredentialsExpired']],
    ['the last rejection stands until a poll succeeds', obs({ lastOutcome: 'rejected' }), priorAccount({ conditions: [cond('CredentialsValid', 'False', 'Forbidden')] }), 'False', 'Forbidden', []],
    ['an expired access token with a refresh token is valid', obs({ credentials: { ok: true, accessTokenExpired: true, expiresAt: T0 - 1000 } }), undefined, 'True', 'AccessTokenExpired', []],
  ])('%s', (_name, observation, prior, status, reason, events) => {
    const got = credentialsCondition(accountOf(), observation, prior);
    expect([got.condition.status, got.condition.reason]).toEqual([status, reason]);
    expect(got.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('sharedStateCondition', () => {
  it.each<[string, string, Record<string, PathInfo>, AccountStatus | undefined, string, string[]]>([
    ['linked', SHARED, LINKED, undefined, 'Linked', []],
    ['not configured', '', {}, undefined, 'NotConfigured', []],
    ['linking', SHARED, { projects: { kind: 'missing' }, todos: LINKED.todos as PathInfo }, undefined, 'Linking', []],
    ['diverged: an event the first time', SHARED, { projects: { kind: 'directory' }, todos: LINKED.todos as PathInfo }, undefined, 'Diverged', ['SharedStateDiverged']],
    ['still diverged: no second event', SHARED, { projects: { kind: 'directory' }, todos: LINKED.todos as PathInfo }, priorAccount({ conditions: [cond('SharedStateLinked', 'False', 'Diverged')] }), 'Diverged', []],
  ])('%s', (_name, extra, links, prior, reason, events) => {
    const account = accountOf(extra);
    const got = sharedStateCondition(account, assessAccount(account, obs({ links }), {}, NOW).links, prior);
    expect(got.condition.reason).toBe(reason);
    expect(got.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('quotaCondition', () => {
  const failing = () => assessAccount(accountOf(), obs({ u5: 40, failures: 5, polled: { ok: false, kind: 'Unavailable', message: '503' } }), {}, NOW);
  it.each<[string, () => ReturnType<typeof assessAccount>, AccountVerdict | undefined, AccountStatus | undefined, string | undefined, string[]]>([
    ['good', () => assessAccount(accountOf(), obs({ u5: 40 }), {}, NOW), verdict('good'), undefined, 'BelowThresholds', []],
    ['over', () => assessAccount(accountOf(), obs({ u5: 95 }), {}, NOW), verdict('over'), undefined, 'ThresholdCrossed', []],
    ['exhausted', () => assessAccount(accountOf(), obs({ u5: 100 }), {}, NOW), verdict('exhausted'), undefined, 'Exhausted', []],
    ['no data', () => assessAccount(accountOf(), obs(), {}, NOW), verdict('unknown'), undefined, 'NoUsageData', []],
    ['polls failing: Unknown, one event', failing, verdict('good'), undefined, 'UsagePollsFailing', ['QuotaUnknown']],
    ['still failing: no second event', failing, verdict('good'), priorAccount({ conditions: [cond('QuotaAvailable', 'Unknown', 'UsagePollsFailing')] }), 'UsagePollsFailing', []],
    ['figures again: recovered', () => assessAccount(accountOf(), obs({ u5: 40 }), {}, NOW), verdict('good'), priorAccount({ conditions: [cond('QuotaAvailable', 'Unknown', 'UsagePollsFailing')] }), 'BelowThresholds', ['QuotaRecovered']],
    ['no verdict: no condition', () => assessAccount(accountOf(), obs({ u5: 40 }), {}, NOW), undefined, undefined, undefined, []],
  ])('%s', (_name, assessment, v, prior, reason, events) => {
    const got = quotaCondition(assessment(), v, prior, T0);
    expect(got.condition?.reason).toBe(reason);
    expect(got.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('usageFreshnessCondition', () => {
  it.each<[string, AccountObservation, boolean, AccountStatus | undefined, string, string[]]>([
    ['fresh figures', obs({ u5: 40 }), false, undefined, 'Observed', []],
    ['never observed, just started', obs(), false, undefined, 'NotYetObserved', []],
    ['a backup blind for hours: warned once', obs({ u5: 40, seenAt: min(-240) }), false, undefined, 'NoFreshUsageData', ['UsageDataStale']],
    ['already warned', obs({ u5: 40, seenAt: min(-240) }), false, priorAccount({ conditions: [cond('UsageDataFresh', 'False', 'NoFreshUsageData')] }), 'NoFreshUsageData', []],
    ['the active account: no warning event', obs({ u5: 40, seenAt: min(-240) }), true, undefined, 'NoFreshUsageData', []],
    ['never observed since long ago', obs(), false, priorAccount(), 'NoFreshUsageData', ['UsageDataStale']],
  ])('%s', (_name, observation, active, prior, reason, events) => {
    const got = usageFreshnessCondition(assessAccount(accountOf(), observation, {}, NOW), active, prior, NOW);
    expect(got.condition.reason).toBe(reason);
    expect(got.events.map((e) => e.reason)).toEqual(events);
    expect(got.observingSince).toBe(prior?.observingSince ?? NOW.toISOString());
  });
});

describe('planAccountStatus: the conditions in order, the status and the poll notes', () => {
  it.each<[string, AccountObservation, ActiveDecision, string[], string, string[]]>([
    ['active and good', obs({ u5: 40 }), decision({ perAccount: [verdict('good')] }), ['CredentialsValid', 'SharedStateLinked', 'QuotaAvailable', 'Active', 'UsageDataFresh', 'Ready'], 'Active', []],
    ['standby, throttled poll', obs({ u5: 40, polled: { ok: false, kind: 'RateLimited', message: '429' } }), decision({ active: 'b', perAccount: [verdict('good'), verdict('good', 'b')] }), ['CredentialsValid', 'SharedStateLinked', 'QuotaAvailable', 'Active', 'UsageDataFresh', 'Ready'], 'Standby', ['info']],
    ['credentials missing: not Ready', obs({ credentials: { ok: false, reason: 'CredentialsMissing', message: 'no file' } }), decision({ active: 'b', perAccount: [verdict('excluded')] }), ['CredentialsValid', 'SharedStateLinked', 'Active', 'UsageDataFresh', 'Ready'], 'CredentialsMissing', []],
    ['endpoint unavailable', obs({ polled: { ok: false, kind: 'Unavailable', message: '503' } }), decision({ perAccount: [verdict('unknown')] }), ['CredentialsValid', 'SharedStateLinked', 'QuotaAvailable', 'Active', 'UsageDataFresh', 'Ready'], 'Active', ['warning']],
  ])('%s', (_name, observation, d, types, readyReason, notes) => {
    const got = planAccountStatus(assessAccount(accountOf(), observation, {}, NOW), d, undefined, NOW);
    expect(got.status.conditions.map((c) => c.type)).toEqual(types);
    expect(got.status.conditions.find((c) => c.type === 'Ready')?.reason).toBe(readyReason);
    expect(got.status.active).toBe(d.active === 'a');
    expect(got.notes.map((n) => n.level)).toEqual(notes);
    if (observation.polled && !observation.polled.ok) expect(got.status.lastPollError).toMatchObject({ kind: observation.polled.kind });
  });
});

describe('planActiveLink', () => {
  const desired = desiredOf({ a: ', activeLink: /h/.claude' });
  it.each<[string, PathInfo | undefined, string[], string[]]>([
    ['missing: created', undefined, ['create'], []],
    ['points elsewhere: updated', { kind: 'symlink', target: '/acc/z' }, ['update'], []],
    ['points at the active account: nothing', { kind: 'symlink', target: '/acc/a' }, [], []],
    ['a real directory: left, with a warning', { kind: 'directory' }, [], ['warning']],
  ])('%s', (_name, info, changes, notes) => {
    const out = emptyPlanPart();
    planActiveLink(desired, { accounts: { a: obs(info ? { activeLink: info } : {}) } }, decision(), out);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(out.notes.map((n) => n.level)).toEqual(notes);
  });
});

describe('planPoolSwitch', () => {
  it.each<[string, ActiveDecision, PoolStatus | undefined, boolean, string[], string[], string | undefined]>([
    ['first choice', decision({ previous: null, switched: true, reason: 'Initial' }), undefined, false, ['create'], ['ActiveAccountSelected'], undefined],
    ['a failover', decision({ active: 'b', switched: true, reason: 'ThresholdCrossed' }), pool(), false, ['update'], ['FailoverStarted'], 'b'],
    ['staying', decision(), pool(), false, [], [], undefined],
    ['dry-run: says why it stays', decision({ reason: 'DwellHold' }), pool(), true, [], [], undefined],
  ])('%s', (_name, d, p, dryRun, changes, events, failoverTo) => {
    const out = emptyPlanPart();
    const failover = planPoolSwitch(d, p, {}, dryRun, NOW, out);
    expect(out.changes.map((c) => c.action)).toEqual(changes);
    expect(out.events.map((e) => e.reason)).toEqual(events);
    expect(failover?.to).toBe(failoverTo);
    expect(out.notes.length).toBe(dryRun ? 1 : 0);
  });
});

describe('planNoEligibleAccount', () => {
  const excluded = decision({ reason: 'NoEligibleAccount', perAccount: [verdict('excluded')] });
  it.each<[string, ActiveDecision, PoolStatus | undefined, boolean, string[]]>([
    ['every account excluded: recorded, one event', excluded, pool(), true, ['NoEligibleAccount']],
    ['still excluded: no second event', excluded, pool({ noEligibleAccount: { since: 'x', message: 'm', accounts: [] } }), true, []],
    ['an account again', decision(), pool({ noEligibleAccount: { since: 'x', message: 'm', accounts: [] } }), false, ['EligibleAccountAvailable']],
    ['nothing to say', decision(), pool(), false, []],
  ])('%s', (_name, d, p, recorded, events) => {
    const out = emptyPlanPart();
    expect(planNoEligibleAccount(d, p, NOW, out) !== undefined).toBe(recorded);
    expect(out.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('planForcedOutcome', () => {
  it.each<[string, ActiveDecision, boolean, boolean | undefined, string[]]>([
    ['accepted', decision({ active: 'b', reason: 'Forced' }), false, true, []],
    ['rejected: an event', decision({ forcedRejected: 'no account named z' }), false, false, ['FailoverRejected']],
    ['a dry-run records nothing', decision({ forcedRejected: 'no account named z' }), true, undefined, []],
  ])('%s', (_name, d, dryRun, accepted, events) => {
    const out = emptyPlanPart();
    const got = planForcedOutcome({ to: 'b', id: 'r1' }, d, pool(), dryRun, NOW, out);
    expect(got?.accepted).toBe(accepted);
    if (accepted !== undefined) expect(got?.id).toBe('r1');
    expect(out.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('planFailoverCompletion', () => {
  const desired = desiredOf({ a: '', b: '' }, '---\napiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: /proj}\n---\napiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s1}\nspec: {project: p, command: [claude]}\n');
  const started = { from: 'a', to: 'b', reason: 'ThresholdCrossed', startedAt: new Date(min(-1)).toISOString() };
  const session = (account: string, ready: 'True' | 'False'): StatusMap => ({ 'Session/s1': { observedGeneration: 'g', conditions: [cond('Ready', ready, 'Idle')], account } });
  it.each<[string, PoolStatus['failover'], StatusMap, boolean, boolean, string[]]>([
    ['every session Ready on the target: completed', started, session('b', 'True'), false, true, ['FailoverCompleted']],
    ['a session not Ready yet', started, session('b', 'False'), false, false, []],
    ['a session still on the old account', started, session('a', 'True'), false, false, []],
    ['switching this pass', started, session('b', 'True'), true, false, []],
    ['no failover', undefined, session('b', 'True'), false, false, []],
  ])('%s', (_name, failover, prior, switched, completed, events) => {
    const out = emptyPlanPart();
    const got = planFailoverCompletion(desired, prior, failover, switched, NOW, out);
    expect(got?.completedAt !== undefined).toBe(completed);
    expect(out.events.map((e) => e.reason)).toEqual(events);
  });
});

describe('poolStatusOf', () => {
  it.each<[string, ActiveDecision, PoolStatus | undefined, Pick<PoolStatus, 'failover' | 'noEligibleAccount' | 'forced'>, string, string | undefined]>([
    ['active', decision({ reason: 'StaySticky' }), pool({ activeSince: 'since' }), {}, 'StaySticky', 'since'],
    ['switched: active since now', decision({ active: 'b', switched: true, reason: 'Failback' }), pool({ activeSince: 'since' }), {}, 'Failback', NOW.toISOString()],
    ['all exhausted', decision({ reason: 'AllExhausted', perAccount: [verdict('over')] }), pool({ activeSince: 'since' }), {}, 'AllAccountsExhausted', 'since'],
    ['no eligible account', decision({ reason: 'NoEligibleAccount' }), pool({ activeSince: 'since' }), { noEligibleAccount: { since: 's', message: 'm', accounts: [] } }, 'NoEligibleAccount', 'since'],
    ['none active', decision({ active: null, previous: null, reason: 'NoEligibleAccount', perAccount: [] }), undefined, {}, 'NoEligibleAccount', undefined],
  ])('%s', (_name, d, p, records, readyReason, activeSince) => {
    const got = poolStatusOf(d, p, records, NOW);
    expect(got.conditions.find((c) => c.type === 'Ready')?.reason).toBe(readyReason);
    expect(got.activeSince).toBe(activeSince);
    expect(got.activeAccount).toBe(d.active);
    expect(got.exhausted).toEqual(d.perAccount.filter((v) => v.tier === 'over' || v.tier === 'exhausted').map((v) => v.name));
  });

  it('matches what decideActive decided', () => {
    const d = decideActive({ accounts: [], current: null, minDwellMs: 0, now: NOW });
    expect(poolStatusOf(d, undefined, {}, NOW).lastDecision?.reason).toBe(d.reason);
  });
});
