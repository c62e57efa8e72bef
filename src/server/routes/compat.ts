/**
 * Compatibility routes for scripts written against the earlier watchdog:
 * `GET /watchdog/status` (sessions, queues, delegation counters) and `GET /api/delegated/status`.
 * Shapes are documented in docs/api.md and kept stable.
 */
import type { FastifyInstance } from 'fastify';
import type { ObjectStatus } from '../../core/controller.js';
import { delegationPolicyStatus, sessionStatus } from '../../core/status.js';
import type { ServerContext } from '../context.js';
import { poolView } from '../objects.js';
import { emptyQuery, parseInput } from '../validate.js';

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function readyOf(st: ObjectStatus | undefined): string {
  return st?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

interface DelegationTotals {
  activeJobs: number;
  submitted: number;
  succeeded: number;
  failed: number;
  costToday: number;
}

function delegationOf(ctx: ServerContext): { totals: DelegationTotals; policies: Record<string, unknown>; active: unknown[] } {
  const { desired, status } = ctx.manager.store.state;
  const totals: DelegationTotals = { activeJobs: 0, submitted: 0, succeeded: 0, failed: 0, costToday: 0 };
  const policies: Record<string, unknown> = {};
  const active: unknown[] = [];
  for (const p of desired.delegationPolicies) {
    const st = delegationPolicyStatus(status, p.metadata.name);
    // A status persisted by an older version may hold other shapes: every field is checked.
    const jobs: unknown[] = Array.isArray(st?.activeJobs) ? st.activeJobs : [];
    const activeJobs = Array.isArray(st?.activeJobs) ? jobs.length : num(st?.activeJobs);
    const counters = st?.counters;
    const entry = { activeJobs, submitted: num(counters?.submitted), succeeded: num(counters?.succeeded), failed: num(counters?.failed), costToday: num(st?.costToday), ready: readyOf(st) };
    policies[p.metadata.name] = entry;
    for (const j of jobs) active.push(j && typeof j === 'object' ? { policy: p.metadata.name, ...j } : { policy: p.metadata.name, job: j });
    totals.activeJobs += entry.activeJobs;
    totals.submitted += entry.submitted;
    totals.succeeded += entry.succeeded;
    totals.failed += entry.failed;
    totals.costToday += entry.costToday;
  }
  return { totals, policies, active };
}

export function compatRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // `compatRead`: readable without a token from loopback when `anonymous-compat-read` is on (auth.ts).
  app.get('/watchdog/status', { config: { compatRead: true } }, async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    const state = ctx.manager.store.state;
    const { desired, status } = state;
    const sessions: Record<string, unknown> = {};
    for (const s of desired.sessions) {
      const st = sessionStatus(status, s.metadata.name);
      sessions[s.metadata.name] = {
        state: typeof st?.activity === 'string' ? st.activity : 'unknown',
        project: s.spec.project,
        account: st?.account ?? null,
        task: st?.currentTask ?? null,
        since: st?.since ?? null,
        restarts: num(st?.restarts),
        ready: readyOf(st),
      };
    }
    const queues = await ctx.queues.counts(desired);
    const allReady = desired.sessions.every((s) => readyOf(status[`Session/${s.metadata.name}`]) === 'True');
    return {
      status: ctx.manager.ready && allReady ? 'ok' : 'degraded',
      time: new Date().toISOString(),
      ready: ctx.manager.ready,
      activeAccount: poolView(desired, status).activeAccount,
      sessions,
      queues,
      delegation: delegationOf(ctx).totals,
    };
  });

  app.get('/api/delegated/status', { config: { compatRead: true } }, async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    const { desired } = ctx.manager.store.state;
    const d = delegationOf(ctx);
    const queues = await ctx.queues.counts(desired);
    const delegatedTasks = Object.fromEntries(Object.entries(queues).map(([p, c]) => [p, c.delegated]));
    return { time: new Date().toISOString(), ...d.totals, policies: d.policies, jobs: d.active, delegatedTasks };
  });
}
