/**
 * The Account controller's observation against the usage endpoint stand-in on 127.0.0.1 (real
 * credentials files, the real quota port): accounts are observed concurrently, so an endpoint that
 * hangs costs one request timeout per pass, not one per account.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeFsRead } from '../../src/adapters/fs-effects.js';
import { loadManifests, toDesired } from '../../src/adapters/manifest-files.js';
import { UsageQuotaPort } from '../../src/adapters/quota/quota-port.js';
import { AccountController } from '../../src/controllers/account.js';
import { startFakeUsageServer, type FakeUsageServer } from '../../src/demo/fake-usage-server.js';
import { until } from '../support/daemon.js';
import { tempDir } from '../support/manifests.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(accounts: string[]): Promise<{ usage: FakeUsageServer; root: string; token: (a: string) => string }> {
  const usage = await startFakeUsageServer();
  const root = tempDir('acct-observe');
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  cleanups.push(() => usage.close());
  const token = (a: string) => `sk-ant-oat01-test-${a}`;
  const docs = accounts.map((a, i) => {
    const dir = join(root, 'accounts', a);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: token(a), refreshToken: 'r', expiresAt: Date.now() + 86_400_000, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
    usage.setWindows(token(a), { fiveHour: 10 * (i + 1), sevenDay: 5 });
    return `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: ${a}\nspec:\n  configDir: ${dir}\n  priority: ${(i + 1) * 10}\n  quota:\n    usageEndpoint: ${usage.endpoint}\n`;
  });
  mkdirSync(join(root, 'manifests'));
  writeFileSync(join(root, 'manifests', 'accounts.yaml'), docs.join('---\n'));
  return { usage, root, token };
}

describe('Account controller observation', () => {
  it('polls every account at once: a hanging endpoint holds all their requests together, and each gets its own result', async () => {
    // Six accounts: more than a small connection pool per origin would let through at once.
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { usage, root, token } = await setup(names);
    const loaded = await loadManifests([join(root, 'manifests')]);
    expect(loaded.diagnostics).toEqual([]);
    const desired = toDesired(loaded);
    const controller = new AccountController({ quota: new UsageQuotaPort(), fs: new NodeFsRead(), minDwellMs: 0 });

    usage.failFor('*', { status: 0, hang: true });
    let done = false;
    const observing = controller.observe(['Account/*'], { desired, prior: {} }).finally(() => {
      done = true;
    });
    // One after the other, a request would be sent only once the previous one gave up (its
    // connection closed): six held at the same moment means they were sent together.
    await until(() => usage.heldCount() === names.length, 30_000, 'every usage request held at once');
    expect(done).toBe(false);
    expect(new Set(usage.requests.map((r) => r.token))).toEqual(new Set(names.map(token)));
    usage.clearFailures(); // the held requests are answered 503
    const observed = await observing;
    expect(Object.keys(observed.accounts)).toEqual(names);
    for (const a of names) expect(observed.accounts[a]?.polled).toMatchObject({ ok: false, kind: 'Unavailable' });
  }, 60_000);

  it('attributes each answer to its own account when they are polled together', async () => {
    const { root } = await setup(['a', 'b', 'c']);
    const desired = toDesired(await loadManifests([join(root, 'manifests')]));
    const controller = new AccountController({ quota: new UsageQuotaPort(), fs: new NodeFsRead(), minDwellMs: 0 });
    const observed = await controller.observe(['Account/*'], { desired, prior: {} });
    const five = (a: string) => {
      const p = observed.accounts[a]?.polled;
      return p?.ok ? p.snapshot.fiveHour?.utilization : undefined;
    };
    expect([five('a'), five('b'), five('c')]).toEqual([10, 20, 30]);
  }, 60_000);
});
