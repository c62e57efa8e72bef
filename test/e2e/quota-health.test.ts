/**
 * Quota health e2e (docs/operations.md, "Usage data unknown"): the built controller (`run`, default flags) against the usage
 * endpoint stand-in on 127.0.0.1 and a webhook receiver stand-in. A 200 of the wrong shape is a
 * failed poll that keeps the last good figures; failing polls make an account's usage Unknown with
 * a QuotaUnknown event and notification; a recovery is noticed through a tokenless probe and
 * announced with QuotaRecovered.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeWebhookServer, type FakeWebhookServer } from '../../src/demo/fake-webhook-server.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

const pools: SimPool[] = [];
const hooks: FakeWebhookServer[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const h of hooks.splice(0)) await h.close();
});

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('quota health', () => {
  it('garbage 200s and an outage make usage Unknown (event + notification), the last good figures are kept, and a recovery is announced', async () => {
    const hook = await startFakeWebhookServer();
    hooks.push(hook);
    const p = new SimPool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }], sessions: [] });
    pools.push(p);
    await p.setup({ a: { fiveHour: 40, sevenDay: 20 }, b: { fiveHour: 30, sevenDay: 20 } });
    appendFileSync(join(p.manifests, 'pool.yaml'), `---\napiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata:\n  name: ops\nspec:\n  type: webhook\n  webhook:\n    url: ${hook.url}/hooks/cf\n`);
    const d = p.start();
    const account = (n: string) => p.status()[`Account/${n}`] as { conditions?: Cond[]; usage?: { fiveHour?: { utilization: number; source: string } }; lastPollError?: { kind: string; message: string } } | undefined;
    const quota = (n: string) => account(n)?.conditions?.find((c) => c.type === 'QuotaAvailable');
    const ready = (n: string) => account(n)?.conditions?.find((c) => c.type === 'Ready');
    const notified = (event: string, key: string) => hook.deliveries().filter((r) => (r.json as { event?: string; key?: string }).event === event && (r.json as { key?: string }).key === key);
    await until(() => p.active() === 'a' && quota('a')?.status === 'True' && quota('b')?.status === 'True', 30_000, 'both accounts known');

    // 1. A 200 of the wrong shape is a failed poll: b keeps 30 %, never "headroom 90 pts".
    p.usage.setUsage(p.token('b'), { five_hour: { utilization: -5 }, seven_day: { utilization: -5 } });
    await until(() => account('b')?.lastPollError?.kind === 'Unavailable', 20_000, 'b: a failed poll');
    expect(account('b')?.lastPollError?.message).toMatch(/answered 200 with a body that is not a usage response \(five_hour\.utilization: must be a percentage ≥ 0/);
    expect(account('b')?.usage?.fiveHour).toMatchObject({ utilization: 30, source: 'usage-api' });
    p.usage.setUsage(p.token('b'), { five_hour: 'lots', seven_day: { utilization: 20 } });
    await until(() => quota('b')?.status === 'Unknown', 30_000, 'b: QuotaAvailable=Unknown after failed polls');
    expect(quota('b')).toMatchObject({ reason: 'UsagePollsFailing' });
    expect(quota('b')?.message).toMatch(/^the usage endpoint failed \d+ times? in a row \(last: .*not a usage response.*\) and no session reported usage since; the last figures are \S+ old: usage is unknown, not exhausted; last known: 5h 30% \(usage-api, \S+ ago\), 7d 20% \(usage-api, \S+ ago\)$/);
    expect(account('b')?.usage?.fiveHour?.utilization).toBe(30);
    expect(ready('b')?.message).not.toMatch(/headroom/);
    expect(ready('b')?.message).toMatch(/usage unknown/);
    const unknownB = p.events().filter((e) => e.reason === 'QuotaUnknown' && e.key === 'Account/b');
    expect(unknownB).toHaveLength(1);
    expect(unknownB[0]).toMatchObject({ type: 'Warning', data: { reason: 'UsagePollsFailing' } });
    await until(() => notified('QuotaUnknown', 'Account/b').length === 1, 15_000, 'QuotaUnknown notification for b');
    // A Warning event is a warn line in the log.
    expect(d.lines.find((l) => l.reason === 'QuotaUnknown')).toMatchObject({ level: 40, key: 'Account/b' });
    expect(quota('a')?.status).toBe('True'); // the other account is not affected

    // 2. Valid again: QuotaRecovered (event and notification), True again.
    p.usage.setWindows(p.token('b'), { fiveHour: 35, sevenDay: 21 });
    await until(() => quota('b')?.status === 'True', 20_000, 'b known again');
    expect(account('b')?.usage?.fiveHour?.utilization).toBe(35);
    expect(p.events().filter((e) => e.reason === 'QuotaRecovered' && e.key === 'Account/b')).toHaveLength(1);
    await until(() => notified('QuotaRecovered', 'Account/b').length === 1, 15_000, 'QuotaRecovered notification for b');

    // 3. An outage of the endpoint (500 for every request): both Unknown; polls back off; probes
    //    carry no token; no failover and nothing "exhausted".
    const outageFrom = p.usage.requests.length;
    p.usage.failFor('*', { status: 500 });
    await until(() => quota('a')?.status === 'Unknown' && quota('b')?.status === 'Unknown', 30_000, 'both Unknown during the outage').catch((err: Error) => {
      throw new Error(`${err.message}: a ${JSON.stringify(quota('a'))}, b ${JSON.stringify(quota('b'))}; requests ${JSON.stringify(p.usage.requests.slice(outageFrom))}; log ${JSON.stringify(d.lines.filter((l) => Number(l.level) >= 40).slice(-20))}`);
    });
    await until(() => notified('QuotaUnknown', 'Account/a').length === 1, 15_000, 'QuotaUnknown notification for a');
    expect(p.active()).toBe('a');
    expect(p.events().filter((e) => e.reason === 'FailoverStarted' || e.reason === 'AllAccountsExhausted')).toEqual([]);
    await until(() => p.usage.requests.slice(outageFrom).some((r) => r.token === undefined), 20_000, 'a probe without a token');
    await until(() => (account('a') as { lastProbe?: { reachable: boolean } } | undefined)?.lastProbe?.reachable === false, 20_000, 'a failed probe in the status');
    const pollsOf = (token: string) => p.usage.requests.slice(outageFrom).filter((r) => r.token === token).map((r) => r.at);
    for (const t of [pollsOf(p.token('a')), pollsOf(p.token('b'))]) {
      // Never more than one poll per interval (1 s) with the token.
      for (let i = 1; i < t.length; i++) expect((t[i] as number) - (t[i - 1] as number)).toBeGreaterThanOrEqual(990);
    }

    // 4. The endpoint recovers: a probe finds it, the poll follows at once, both are known again.
    const recoveryFrom = p.usage.requests.length;
    p.usage.clearFailures();
    await until(() => quota('a')?.status === 'True' && quota('b')?.status === 'True', 30_000, 'both known after the outage');
    expect(p.events().filter((e) => e.reason === 'QuotaRecovered' && e.key === 'Account/a')).toHaveLength(1);
    expect(p.events().filter((e) => e.reason === 'QuotaUnknown')).toHaveLength(3);
    expect(p.usage.requests.slice(recoveryFrom).some((r) => r.status === 200)).toBe(true);
    expect(await d.stop()).toBe(0);
  }, 180_000);
});
