/**
 * Metrics: every series from a real store (statuses in the shape the controllers write them),
 * the runtime hooks, the guard audit log, and the naming rules. Also checks docs/operations.md
 * lists every series.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadManifests, toDesired } from '../../src/adapters/manifest-files.js';
import { appendAudit, type AuditRecord } from '../../src/guard/audit.js';
import { Store } from '../../src/runtime/store.js';
import { Metrics, METRIC_PREFIX, seriesNames } from '../../src/server/metrics.js';
import { REPO } from '../support/cli.js';
import { tempDir, writePool } from '../support/manifests.js';
import { AUTH, harness, type Harness } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Parses Prometheus text into `name{labels}` -> value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function fixture(opts: { guard?: () => { rules: Record<string, number> } | undefined } = {}) {
  const root = tempDir('metrics');
  cleanups.push(() => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));
  const manifests = writePool(root, { accounts: ['a', 'b'], projects: ['p', 'q'], sessions: [{ name: 's1' }, { name: 's2' }, { name: 's3' }] });
  const store = new Store({ desired: toDesired(await loadManifests([manifests], { gitRevision: false })) });
  const m = new Metrics({ defaultMetrics: false, version: '9.9.9' });
  let ready = false;
  m.bind({
    state: () => store.state,
    ready: () => ready,
    queues: async () => ({ p: { inbox: 3, dispatched: 1, delegated: 0, done: 7, failed: 1, archive: 0 } }),
    subscribe: (l) => store.subscribe(l),
    ...(opts.guard ? { guard: opts.guard } : {}),
  });
  cleanups.push(() => m.unbind());
  return { store, m, root, setReady: (r: boolean) => (ready = r), scrape: async () => parse(await m.text()) };
}

const cond = (status: 'True' | 'False') => [{ type: 'Ready', status, reason: 'X', message: '', lastTransitionTime: '2026-01-01T00:00:00.000Z', observedGeneration: 'g' }];

describe('metrics from controller status', () => {
  it('reports quota, active account, sessions by activity, restarts, readiness, tasks and delegation', async () => {
    const f = await fixture();
    f.store.update((d) => {
      d.status['Account/a'] = { observedGeneration: 'g', conditions: cond('True'), usage: { fiveHour: { utilization: 42.5, resetsAt: '2026-11-22T05:00:00.000Z', source: 'usage-api', observedAt: 'x' }, sevenDay: { utilization: 90, source: 'usage-api', observedAt: 'x' }, scoped: [] } };
      d.status['Account/b'] = { observedGeneration: 'g', conditions: cond('False') };
      d.status['Account/*'] = { observedGeneration: 'pool', conditions: [], activeAccount: 'b' };
      d.status['Session/s1'] = { observedGeneration: 'g', conditions: cond('True'), activity: 'idle', restarts: 2 };
      d.status['Session/s2'] = { observedGeneration: 'g', conditions: cond('True'), activity: 'working', restarts: 0 };
      d.status['DelegationPolicy/gpu'] = { observedGeneration: 'g', conditions: [], activeJobs: [{ id: 'j1' }, { id: 'j2' }], counters: { submitted: 5, succeeded: 2, failed: 1 }, costToday: 1.25 };
    });
    f.setReady(true);
    const s = await f.scrape();
    const expected: [string, number | undefined][] = [
      ['claude_failover_account_utilization_ratio{account="a",window="five_hour"}', 0.425],
      ['claude_failover_account_utilization_ratio{account="a",window="seven_day"}', 0.9],
      ['claude_failover_account_utilization_ratio{account="b",window="five_hour"}', undefined],
      ['claude_failover_account_reset_timestamp_seconds{account="a",window="five_hour"}', Date.parse('2026-11-22T05:00:00.000Z') / 1000],
      ['claude_failover_account_reset_timestamp_seconds{account="a",window="seven_day"}', undefined],
      ['claude_failover_account_active{account="a"}', 0],
      ['claude_failover_account_active{account="b"}', 1],
      ['claude_failover_sessions{activity="idle"}', 1],
      ['claude_failover_sessions{activity="working"}', 1],
      ['claude_failover_sessions{activity="unknown"}', 1],
      ['claude_failover_sessions{activity="rateLimited"}', 0],
      ['claude_failover_session_restarts_total{session="s1"}', 2],
      ['claude_failover_session_restarts_total{session="s2"}', 0],
      ['claude_failover_object_ready{kind="Account",name="a"}', 1],
      ['claude_failover_object_ready{kind="Account",name="b"}', 0],
      ['claude_failover_controller_ready', 1],
      ['claude_failover_tasks{project="p",state="inbox"}', 3],
      ['claude_failover_tasks{project="p",state="done"}', 7],
      ['claude_failover_delegation_active_jobs{policy="gpu"}', 2],
      ['claude_failover_delegation_jobs_total{policy="gpu",outcome="submitted"}', 5],
      ['claude_failover_delegation_jobs_total{policy="gpu",outcome="failed"}', 1],
      ['claude_failover_delegation_cost_today_dollars{policy="gpu"}', 1.25],
      ['claude_failover_build_info{version="9.9.9",node="' + process.version + '"}', 1],
    ];
    for (const [series, value] of expected) expect(s.get(series), series).toBe(value);
  });

  it('counts a failover when the recorded active account changes, by decision reason; not the first choice', async () => {
    const f = await fixture();
    const pool = (active: string, extra: Record<string, unknown> = {}) =>
      f.store.update((d) => {
        d.status['Account/*'] = { observedGeneration: 'pool', conditions: [], activeAccount: active, ...extra };
      });
    pool('a', { lastDecision: { reason: 'Initial', message: '', at: 'x' } });
    pool('a', { lastDecision: { reason: 'StaySticky', message: '', at: 'y' } });
    pool('b', { failover: { from: 'a', to: 'b', reason: 'ThresholdCrossed', startedAt: 'z' } });
    pool('a', { lastDecision: { reason: 'Failback', message: '', at: 'w' } });
    pool('b', { failover: { from: 'a', to: 'b', reason: 'ThresholdCrossed', startedAt: 'v' } });
    const s = await f.scrape();
    expect(s.get('claude_failover_failovers_total{reason="ThresholdCrossed"}')).toBe(2);
    expect(s.get('claude_failover_failovers_total{reason="Failback"}')).toBe(1);
    expect(s.get('claude_failover_failovers_total{reason="Initial"}')).toBeUndefined();
  });

  it('counts usage-endpoint requests and errors from the Account status poll records', async () => {
    const f = await fixture();
    const poll = (account: string, lastAttemptAt: number, consecutiveFailures: number) =>
      f.store.update((d) => {
        d.status[`Account/${account}`] = { observedGeneration: 'g', conditions: [], poll: { lastAttemptAt, consecutiveFailures } };
      });
    poll('a', 1000, 0);
    poll('a', 1000, 0); // same attempt seen again: not a new request
    poll('a', 2000, 1);
    poll('a', 3000, 2);
    poll('a', 4000, 0);
    poll('b', 1500, 0);
    f.m.recordUsageApiRequest('b', false);
    const s = await f.scrape();
    expect(s.get('claude_failover_usage_api_requests_total{account="a"}')).toBe(4);
    expect(s.get('claude_failover_usage_api_errors_total{account="a"}')).toBe(2);
    expect(s.get('claude_failover_usage_api_requests_total{account="b"}')).toBe(2);
    expect(s.get('claude_failover_usage_api_errors_total{account="b"}')).toBe(1);
  });
});

describe('metrics hooks', () => {
  it('observes reconciles (not dry runs), dispatch latency and HTTP requests', async () => {
    const f = await fixture();
    f.m.onReconcile({ kind: 'Session', key: 'Session/s1', durationMs: 12, dryRun: false });
    f.m.onReconcile({ kind: 'Session', durationMs: 3000, error: 'boom', dryRun: false });
    f.m.onReconcile({ kind: 'Account', durationMs: 5, dryRun: true });
    f.m.observeDispatchLatency(40);
    f.m.observeDispatchLatency(-1);
    f.m.recordHttp('GET', '/api/v1/sessions', 200, 0.002);
    const s = await f.scrape();
    expect(s.get('claude_failover_reconcile_duration_seconds_count{kind="Session"}')).toBe(2);
    expect(s.get('claude_failover_reconcile_duration_seconds_sum{kind="Session"}')).toBeCloseTo(3.012);
    expect(s.get('claude_failover_reconcile_duration_seconds_bucket{le="0.025",kind="Session"}')).toBe(1);
    expect(s.get('claude_failover_reconcile_errors_total{kind="Session"}')).toBe(1);
    expect(s.get('claude_failover_reconcile_duration_seconds_count{kind="Account"}')).toBeUndefined();
    expect(s.get('claude_failover_dispatch_latency_seconds_count')).toBe(1);
    expect(s.get('claude_failover_dispatch_latency_seconds_bucket{le="0.05"}')).toBe(1);
    expect(s.get('claude_failover_dispatch_latency_seconds_bucket{le="0.025"}')).toBe(0);
    expect(s.get('claude_failover_http_request_duration_seconds_count{method="GET",route="/api/v1/sessions",status_code="200"}')).toBe(1);
  });

  it('counts guard decisions per decision and rule from the audit log in the state dir', async () => {
    let h: Harness | undefined = await harness({ sessions: [] });
    cleanups.push(() => h?.cleanup());
    const rec = (decision: AuditRecord['decision'], rule: string): AuditRecord => ({ time: new Date().toISOString(), session: 's1', cwd: '/tmp', tool: 'Bash', command: 'x', decision, rule, mode: 'enforce', enforced: decision === 'deny', ms: 1 });
    appendAudit(h.stateDir, rec('deny', 'recursive-delete'));
    appendAudit(h.stateDir, rec('deny', 'recursive-delete'));
    appendAudit(h.stateDir, rec('allow', 'none'));
    let s = parse((await h.app.inject({ url: '/metrics', headers: AUTH })).body);
    expect(s.get('claude_failover_guard_decisions_total{decision="deny",rule="recursive-delete"}')).toBe(2);
    expect(s.get('claude_failover_guard_decisions_total{decision="allow",rule="none"}')).toBe(1);
    appendAudit(h.stateDir, rec('warn', 'kubectl-delete'));
    s = parse((await h.app.inject({ url: '/metrics', headers: AUTH })).body);
    expect(s.get('claude_failover_guard_decisions_total{decision="warn",rule="kubectl-delete"}')).toBe(1);
    expect(s.get('claude_failover_guard_decisions_total{decision="deny",rule="recursive-delete"}')).toBe(2);
    // Default process metrics are on the server's own registry.
    expect([...s.keys()].some((k) => k.startsWith('process_cpu_user_seconds_total'))).toBe(true);
    h = undefined;
  });

  it('keeps one registry per instance', async () => {
    const a = new Metrics({ defaultMetrics: false });
    const b = new Metrics({ defaultMetrics: false });
    a.observeDispatchLatency(10);
    expect(parse(await b.text()).get('claude_failover_dispatch_latency_seconds_count')).toBe(0);
    expect(parse(await a.text()).get('claude_failover_dispatch_latency_seconds_count')).toBe(1);
  });
});

describe('naming', () => {
  it('follows Prometheus conventions and every series is documented in docs/operations.md', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const metrics = (await m.registry.getMetricsAsJSON()) as unknown as { name: string; type: string; help: string }[];
    const docs = readFileSync(join(REPO, 'docs', 'operations.md'), 'utf8');
    expect(seriesNames(m).length).toBeGreaterThanOrEqual(20);
    for (const json of metrics) {
      expect(json.name.startsWith(METRIC_PREFIX), json.name).toBe(true);
      expect(json.name).toMatch(/^[a-z_]+$/);
      expect(json.help.length, json.name).toBeGreaterThan(10);
      if (json.type === 'counter') expect(json.name, json.name).toMatch(/_total$/);
      else expect(json.name, json.name).not.toMatch(/_total$/);
      if (json.type === 'histogram') expect(json.name).toMatch(/_seconds$/);
      expect(docs, `docs/operations.md lists ${json.name}`).toContain(`\`${json.name}\``);
    }
  });
});
