/**
 * planAccounts (src/controllers/account.ts) over observations built by hand: what the Account
 * controller records (conditions, pool status, events) from credentials, links and usage.
 */
import { describe, expect, it } from 'vitest';
import { desiredFromObjects } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import { emptyPlanPart, type StatusMap } from '../../src/core/controller.js';
import type { CredentialsCheck, PathInfo } from '../../src/core/ports.js';
import type { UsageSnapshot } from '../../src/core/quota.js';
import { AccountController, planAccounts, staleUsageAfterMs, type AccountObservation, type AccountObserved, type PoolStatus } from '../../src/controllers/account.js';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const at = (min: number) => new Date(T0 + min * 60_000);

const manifests = (names: string[]) =>
  names
    .map((n, i) => `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: ${n}}\nspec: {configDir: /acc/${n}, priority: ${(i + 1) * 10}, sharedStateDir: /shared, sharedDirs: [projects, todos]}\n`)
    .join('---\n');
const desiredOf = (names: string[]) => desiredFromObjects(parseManifestText('/m/a.yaml', manifests(names), { homeDir: '/h' }).objects);

const linked = (name: string): Record<string, PathInfo> => ({ projects: { kind: 'symlink', target: '/shared/projects' }, todos: { kind: 'symlink', target: '/shared/todos' }, ...(name ? {} : {}) });
const usage = (u5: number, observedAt: Date): UsageSnapshot => ({ scoped: [], fiveHour: { utilization: u5, source: 'usage-api', observedAt: observedAt.toISOString(), resetsAt: at(300).toISOString() }, sevenDay: { utilization: 10, source: 'usage-api', observedAt: observedAt.toISOString(), resetsAt: at(9000).toISOString() } });

function obs(o: { credentials?: CredentialsCheck; u5?: number; seen?: Date; links?: Record<string, PathInfo> } = {}): AccountObservation {
  const seen = o.seen ?? at(0);
  return {
    credentials: o.credentials ?? { ok: true, expiresAt: T0 + 86_400_000 },
    poll: { consecutiveFailures: 0, ...(o.u5 !== undefined ? { lastGood: { value: usage(o.u5, seen), at: seen.getTime() }, lastAttemptAt: seen.getTime(), lastOutcome: 'ok' as const } : {}) },
    links: o.links ?? linked(''),
  };
}

const EXPIRED_REFRESHABLE: CredentialsCheck = { ok: true, expiresAt: T0 - 3_600_000, accessTokenExpired: true };
const MISSING: CredentialsCheck = { ok: false, reason: 'CredentialsMissing', message: 'no credentials at /acc/x/.credentials.json' };

/** Plans passes in order, carrying the status like the manager does. */
function passes(names: string[], steps: { now: Date; accounts: Record<string, AccountObservation>; forced?: AccountObserved['forced'] }[]) {
  const desired = desiredOf(names);
  let prior: StatusMap = {};
  return steps.map((s) => {
    const part = planAccounts({ desired, observed: { accounts: s.accounts, ...(s.forced ? { forced: s.forced } : {}) }, prior, inventory: {}, now: s.now, options: { dryRun: false, prune: false } }, 0);
    prior = { ...prior, ...part.status };
    return { part, pool: part.status['Account/*'] as PoolStatus, status: part.status, events: part.events };
  });
}

const cond = (st: unknown, type: string) => (st as { conditions: { type: string; status: string; reason: string; message: string }[] }).conditions.find((c) => c.type === type);

describe('planAccounts: an expired access token with a refresh token', () => {
  it('is not invalid credentials: the account stays a target with unknown usage, and is taken over a threshold', () => {
    const [r] = passes(['a', 'b'], [{ now: at(0), accounts: { a: obs({ u5: 95 }), b: obs({ credentials: EXPIRED_REFRESHABLE }) } }]);
    expect(cond(r?.status['Account/b'], 'CredentialsValid')).toMatchObject({ status: 'True', reason: 'AccessTokenExpired' });
    expect(cond(r?.status['Account/b'], 'CredentialsValid')?.message).toMatch(/refresh token is present: claude refreshes it/);
    expect(r?.status['Account/b']?.tier).toBe('unknown');
    expect(r?.pool.activeAccount).toBe('b');
    expect(r?.events.filter((e) => e.reason === 'CredentialsExpired')).toEqual([]);
  });

  it('missing credentials still exclude', () => {
    const [, r] = passes(['a', 'b'], [
      { now: at(0), accounts: { a: obs({ u5: 10 }), b: obs({ credentials: MISSING }) } },
      { now: at(1), accounts: { a: obs({ u5: 95 }), b: obs({ credentials: MISSING }) } },
    ]);
    expect(cond(r?.status['Account/b'], 'CredentialsValid')).toMatchObject({ status: 'False', reason: 'CredentialsMissing' });
    expect(r?.status['Account/b']?.tier).toBe('excluded');
    expect(r?.pool.activeAccount).toBe('a');
    expect(r?.pool.lastDecision?.reason).toBe('AllExhausted');
  });

  it('the controller does not poll it (the endpoint would answer 401 and the token is never refreshed)', async () => {
    const calls: string[] = [];
    const controller = new AccountController({
      quota: {
        probeUsage: async () => ({ reachable: true, message: 'answered' }),
        readCredentials: async (dir) => (dir === '/acc/b' ? EXPIRED_REFRESHABLE : { ok: true, expiresAt: T0 + 86_400_000 }),
        fetchUsage: async (dir) => {
          calls.push(dir);
          return { ok: true, snapshot: usage(20, at(0)), observedAt: at(0).toISOString() };
        },
      },
      fs: { inspect: async (p) => ({ kind: 'symlink', target: p.replace(/^\/acc\/\w+/, '/shared') }), readText: async () => undefined, listDir: async () => undefined },
      minDwellMs: 600_000,
      clock: () => T0,
    });
    const observed = await controller.observe(['*'], { desired: desiredOf(['a', 'b']), prior: {}, dryRun: false });
    expect(calls).toEqual(['/acc/a']);
    expect(observed.accounts.b?.polled).toBeUndefined();
  });
});

describe('AccountController.observe: new credentials', () => {
  it('a rejected token is not polled again until the interval; new credentials (a login, a refresh by claude) are polled at once', async () => {
    let creds: CredentialsCheck = { ok: true, expiresAt: T0 + 3_600_000 };
    let now = T0;
    const calls: number[] = [];
    const controller = new AccountController({
      quota: {
        probeUsage: async () => ({ reachable: true, message: 'answered' }),
        readCredentials: async () => creds,
        fetchUsage: async () => {
          calls.push(now);
          return calls.length === 1 ? { ok: false, kind: 'CredentialsExpired', message: 'usage endpoint answered 401' } : { ok: true, snapshot: usage(20, new Date(now)), observedAt: new Date(now).toISOString() };
        },
      },
      fs: { inspect: async (p) => ({ kind: 'symlink', target: p.replace(/^\/acc\/\w+/, '/shared') }), readText: async () => undefined, listDir: async () => undefined },
      minDwellMs: 600_000,
      clock: () => now,
    });
    const desired = desiredOf(['a']);
    // A real pass: observe, then commit once the plan was applied (what keeps the poll schedule).
    const observe = async () => {
      const observed = await controller.observe(['*'], { desired, prior: {}, dryRun: false });
      await controller.commit(observed, { part: emptyPlanPart(), failures: [] });
      return observed;
    };
    expect((await observe()).accounts.a?.polled?.ok).toBe(false);
    now += 1000;
    expect((await observe()).accounts.a?.polled).toBeUndefined(); // within the 5m interval
    creds = { ok: true, expiresAt: T0 + 7_200_000 }; // logged in again
    now += 1000;
    expect((await observe()).accounts.a?.polled?.ok).toBe(true);
    expect(calls).toEqual([T0, T0 + 2000]);
  });
});

describe('planAccounts: usage data that is not fresh', () => {
  const after = staleUsageAfterMs(5 * 60_000) / 60_000;

  it('warns once for a backup without fresh figures for long, with why; not for the active account', () => {
    const rs = passes(['a', 'b'], [
      { now: at(0), accounts: { a: obs({ u5: 10, seen: at(0) }), b: obs({ credentials: EXPIRED_REFRESHABLE }) } },
      { now: at(after - 1), accounts: { a: obs({ u5: 10, seen: at(0) }), b: obs({ credentials: EXPIRED_REFRESHABLE }) } },
      { now: at(after + 1), accounts: { a: obs({ u5: 10, seen: at(0) }), b: obs({ credentials: EXPIRED_REFRESHABLE }) } },
      { now: at(after + 5), accounts: { a: obs({ u5: 10, seen: at(0) }), b: obs({ credentials: EXPIRED_REFRESHABLE }) } },
    ]);
    const stale = rs.map((r) => r.events.filter((e) => e.reason === 'UsageDataStale').map((e) => e.key));
    expect(stale).toEqual([[], [], ['Account/b'], []]);
    const ev = rs[2]?.events.find((e) => e.reason === 'UsageDataStale');
    expect(ev?.message).toMatch(/^backup Account\/b: no fresh usage data for 1h\d*m? \(never observed\): its access token has expired and the controller never refreshes tokens/);
    expect(ev?.message).toMatch(/it stays a failover target/);
    expect(cond(rs[2]?.status['Account/b'], 'UsageDataFresh')).toMatchObject({ status: 'False', reason: 'NoFreshUsageData' });
    // The active account went just as long without figures: a condition, no event (its sessions report).
    expect(cond(rs[2]?.status['Account/a'], 'UsageDataFresh')).toMatchObject({ status: 'False' });
    expect(rs[0]?.status['Account/a'] && cond(rs[0].status['Account/a'], 'UsageDataFresh')).toMatchObject({ status: 'True', reason: 'Observed' });
  });

  it('fresh figures clear it; a later gap warns again', () => {
    const rs = passes(['a', 'b'], [
      { now: at(0), accounts: { a: obs({ u5: 10, seen: at(0) }), b: obs({ u5: 10, seen: at(0) }) } },
      { now: at(after + 1), accounts: { a: obs({ u5: 10, seen: at(after + 1) }), b: obs({ u5: 10, seen: at(0) }) } },
      { now: at(after + 2), accounts: { a: obs({ u5: 10, seen: at(after + 2) }), b: obs({ u5: 10, seen: at(after + 2) }) } },
      { now: at(2 * after + 4), accounts: { a: obs({ u5: 10, seen: at(2 * after + 4) }), b: obs({ u5: 10, seen: at(after + 2) }) } },
    ]);
    expect(rs.map((r) => r.events.filter((e) => e.reason === 'UsageDataStale').length)).toEqual([0, 1, 0, 1]);
    expect(cond(rs[2]?.status['Account/b'], 'UsageDataFresh')?.status).toBe('True');
  });
});

describe('planAccounts: no eligible account', () => {
  it('records NoEligibleAccount with the reason per account, an event once, and clears it when one can take the pool', () => {
    const diverged = { projects: { kind: 'symlink' as const, target: '/shared/projects' }, todos: { kind: 'directory' as const } };
    const rs = passes(['a', 'b'], [
      { now: at(0), accounts: { a: obs({ credentials: MISSING }), b: obs({ u5: 10, links: diverged }) } },
      { now: at(1), accounts: { a: obs({ credentials: MISSING }), b: obs({ u5: 10, links: diverged }) } },
      { now: at(2), accounts: { a: obs({ credentials: MISSING }), b: obs({ u5: 10 }) } },
    ]);
    const first = rs[0];
    expect(first?.pool.activeAccount).toBeNull();
    expect(first?.pool.noEligibleAccount?.accounts.map((x) => x.name)).toEqual(['a', 'b']);
    expect(first?.pool.noEligibleAccount?.message).toMatch(/a: credentials invalid \(CredentialsValid=False\): no credentials at \/acc\/x\/\.credentials\.json/);
    expect(first?.pool.noEligibleAccount?.message).toMatch(/b: shared state diverged \(SharedStateLinked=False\): \/acc\/b\/todos is a real directory .*claude-failover account link b --adopt/);
    expect(cond(first?.pool, 'Ready')).toMatchObject({ status: 'False', reason: 'NoEligibleAccount' });
    expect(rs.map((r) => r.events.filter((e) => e.reason === 'NoEligibleAccount').length)).toEqual([1, 0, 0]);
    expect(rs[0]?.events.filter((e) => e.reason === 'SharedStateDiverged').map((e) => e.key)).toEqual(['Account/b']);
    expect(rs[1]?.events.filter((e) => e.reason === 'SharedStateDiverged')).toEqual([]);
    expect(rs[1]?.pool.noEligibleAccount?.since).toBe(at(0).toISOString());
    expect(rs[2]?.pool.noEligibleAccount).toBeUndefined();
    expect(rs[2]?.pool.activeAccount).toBe('b');
    expect(rs[2]?.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['EligibleAccountAvailable', 'ActiveAccountSelected']));
  });

  it('is not set while accounts are only over their thresholds (that is AllExhausted)', () => {
    const [r] = passes(['a', 'b'], [{ now: at(0), accounts: { a: obs({ u5: 95 }), b: obs({ u5: 96 }) } }]);
    expect(r?.pool.noEligibleAccount).toBeUndefined();
    expect(r?.pool.allExhausted).toBe(true);
  });
});

describe('planAccounts: a forced failover', () => {
  it('records the outcome of the request by its id; a refused one is a FailoverRejected event with the reason', () => {
    const rs = passes(['a', 'b', 'c'], [
      { now: at(0), accounts: { a: obs({ u5: 10 }), b: obs({ credentials: MISSING }), c: obs({ u5: 10 }) } },
      { now: at(1), accounts: { a: obs({ u5: 10 }), b: obs({ credentials: MISSING }), c: obs({ u5: 10 }) }, forced: { to: 'b', id: 'r1', reason: 'test' } },
      { now: at(2), accounts: { a: obs({ u5: 10 }), b: obs({ credentials: MISSING }), c: obs({ u5: 10 }) }, forced: { to: 'c', id: 'r2' } },
    ]);
    expect(rs[1]?.pool.forced).toMatchObject({ id: 'r1', to: 'b', accepted: false });
    expect(rs[1]?.pool.forced?.message).toMatch(/^forced failover to b rejected: b cannot take the pool: credentials invalid/);
    const rejected = rs[1]?.events.find((e) => e.reason === 'FailoverRejected');
    expect(rejected?.type).toBe('Warning');
    expect(rejected?.message).toMatch(/rejected: b cannot take the pool: credentials invalid .*; the pool stays on a$/);
    expect(rs[1]?.pool.activeAccount).toBe('a');
    expect(rs[2]?.pool.forced).toMatchObject({ id: 'r2', to: 'c', accepted: true });
    expect(rs[2]?.pool.activeAccount).toBe('c');
    expect(rs[2]?.events.filter((e) => e.reason === 'FailoverRejected')).toEqual([]);
  });
});

describe('planAccounts: a rejected token', () => {
  it('stays invalid between polls (until a poll succeeds), with one CredentialsExpired event', () => {
    const rejectedPoll: AccountObservation = { ...obs({ u5: 10 }), polled: { ok: false, kind: 'CredentialsExpired', message: 'usage endpoint answered 401' }, poll: { consecutiveFailures: 0, lastOutcome: 'rejected', lastAttemptAt: at(1).getTime() } };
    const between: AccountObservation = { ...obs({ u5: 10 }), poll: { consecutiveFailures: 0, lastOutcome: 'rejected', lastAttemptAt: at(1).getTime() } };
    const rs = passes(['a', 'b'], [
      { now: at(0), accounts: { a: obs({ u5: 10 }), b: obs({ u5: 10 }) } },
      { now: at(1), accounts: { a: obs({ u5: 10 }), b: rejectedPoll } },
      { now: at(2), accounts: { a: obs({ u5: 10 }), b: between } },
      { now: at(3), accounts: { a: obs({ u5: 10 }), b: obs({ u5: 10, seen: at(3) }) } },
    ]);
    expect(rs.map((r) => cond(r.status['Account/b'], 'CredentialsValid')?.status)).toEqual(['True', 'False', 'False', 'True']);
    expect(cond(rs[2]?.status['Account/b'], 'CredentialsValid')?.message).toBe('usage endpoint answered 401');
    expect(rs.map((r) => r.events.filter((e) => e.reason === 'CredentialsExpired').length)).toEqual([0, 1, 0, 0]);
  });
});

describe('AccountController: a plan preview takes nothing from the real passes', () => {
  it('a dry-run before any real pass polls but keeps no schedule; after a real pass, previews reuse its observation (no request)', async () => {
    const calls: number[] = [];
    let now = T0;
    const controller = new AccountController({
      quota: {
        probeUsage: async () => ({ reachable: true, message: 'answered' }),
        readCredentials: async () => ({ ok: true, expiresAt: T0 + 86_400_000 }),
        fetchUsage: async () => {
          calls.push(now);
          return { ok: true, snapshot: usage(20, new Date(now)), observedAt: new Date(now).toISOString() };
        },
      },
      fs: { inspect: async (p) => ({ kind: 'symlink', target: p.replace(/^\/acc\/\w+/, '/shared') }), readText: async () => undefined, listDir: async () => undefined },
      minDwellMs: 600_000,
      clock: () => now,
    });
    const desired = desiredOf(['a']);
    // `reconcile --dry-run` in a fresh process: it polls (it has nothing else to plan from)...
    expect((await controller.observe(['*'], { desired, prior: {}, dryRun: true })).accounts.a?.polled?.ok).toBe(true);
    // ...but keeps nothing: the real pass a second later still polls (the old code had scheduled the next poll in 5 min).
    now += 1000;
    const real = await controller.observe(['*'], { desired, prior: {}, dryRun: false });
    expect(real.accounts.a?.polled?.ok).toBe(true);
    await controller.commit(real, { part: emptyPlanPart(), failures: [] });
    expect(calls).toEqual([T0, T0 + 1000]);
    // A preview on the running controller: planned from the committed observation, no request.
    now += 10 * 60_000; // a poll would be due
    const preview = await controller.observe(['*'], { desired, prior: {}, dryRun: true });
    expect(preview.accounts.a?.polled).toBeUndefined();
    expect(preview.accounts.a?.poll.lastGood?.at).toBe(T0 + 1000);
    expect(calls).toHaveLength(2);
    // The real pass polls as scheduled.
    expect((await controller.observe(['*'], { desired, prior: {}, dryRun: false })).accounts.a?.polled?.ok).toBe(true);
    expect(calls).toHaveLength(3);
  });
});
