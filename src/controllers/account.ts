/**
 * Account controller: one reconcile over all accounts (the key `Account/*`) observes credentials,
 * usage (endpoint polls, the sessions' status line feed, hard limit evidence) and the shared-state
 * links, and decides which account is active. Failover is not a special path: the Session
 * controller sees sessions on the wrong account and converges them.
 */
import { posix } from 'node:path';
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { durationMs } from '../api/duration.js';
import { setCondition, type Condition } from '../core/conditions.js';
import { emptyPlanPart, type AppliedPlan, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlanPart, type StatusMap } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import { parseStopFailureLimit } from '../core/limit-messages.js';
import { initialPollState, mayPoll, mayProbe, nextPollAt, nextRequestAt, pollFreshness, recordPollOutcome, recordProbe, type PollConfig, type PollOutcome, type PollState } from '../core/poll-schedule.js';
import type { CredentialsCheck, FsReadPort, PathInfo, QuotaPort, UsageFetch, UsageProbe } from '../core/ports.js';
import { evidenceFromLimit, formatAge, formatPercent, mergeUsage, parseStatusLineUsage, type MergedUsage, type UsageInput, type UsageSnapshot, type UsageWindow } from '../core/quota.js';
import { DEFAULT_UNKNOWN_AFTER_FAILURES, defaultMaxUsageAgeMs, QUOTA_UNKNOWN_REASONS, quotaHealth, type QuotaHealth, type QuotaHealthConfig, type QuotaHealthReason } from '../core/quota-health.js';
import { servePending, type RequestsPort } from '../core/requests.js';
import { linkState, type LinkState } from '../core/shared-state.js';
import { decideActive, type AccountDecisionInput, type ActiveDecision } from './account-decision.js';
import { POOL_KEY } from './accounts-view.js';

export interface AccountObservation {
  credentials: CredentialsCheck;
  /** The result of a poll made during this observation, if one was due. */
  polled?: UsageFetch;
  /** The result of a probe (no token) made during this observation while polls back off. */
  probed?: UsageProbe;
  /** The poll schedule after this observation (kept by `commit`). */
  poll: PollState<UsageSnapshot>;
  /** The credentials' `expiresAt` (null: none in the file; absent: unreadable), kept by `commit`. */
  expiry?: number | null;
  /** `<configDir>/<dir>` for each shared dir. */
  links: Record<string, PathInfo>;
  activeLink?: PathInfo;
}

/** An operator's `failover [--to]` request (src/core/requests.ts), served by the next reconcile; `id` names its record. */
export interface ForcedRequest {
  to: string;
  reason?: string;
  id?: string;
}

export interface AccountObserved {
  accounts: Record<string, AccountObservation>;
  forced?: ForcedRequest;
  /** Older pending failover requests the served one supersedes (closed by `commit`). */
  superseded?: string[];
}

export interface AccountControllerOptions {
  quota: QuotaPort;
  fs: FsReadPort;
  /** Minimum time on an account before a discretionary switch (failback). Never holds a threshold failover. */
  minDwellMs: number;
  /** Observation only: whether usage may be polled (false in tests that want no HTTP). */
  poll?: boolean;
  random?: () => number;
  clock?: () => number;
  /** Operator requests (forced failovers) in the state dir. */
  requests?: RequestsPort;
}

export interface PoolStatus extends ObjectStatus {
  activeAccount: string | null;
  activeSince?: string;
  lastDecision?: { reason: string; message: string; at: string };
  allExhausted: boolean;
  exhausted: string[];
  requeueAt?: string;
  failover?: { from: string | null; to: string; reason: string; startedAt: string; completedAt?: string };
  /** Set while no account can take the pool (every account excluded): sessions are not launched. */
  noEligibleAccount?: { since: string; message: string; accounts: { name: string; why: string }[] };
  /** The outcome of the last forced request (`failover --to`), by its id. */
  forced?: { id?: string; to: string; accepted: boolean; message: string; at: string };
}

/**
 * An account whose freshest usage figure (poll, status line) is older than this warns
 * (`UsageDataFresh=False`, event `UsageDataStale`): at least an hour, or three poll intervals.
 */
export function staleUsageAfterMs(pollIntervalMs: number): number {
  return Math.max(60 * 60_000, 3 * pollIntervalMs);
}

const SESSION_PREFIX = 'Session/';

/**
 * The account a failover without `--to` moves to: the preferred account other than the active one
 * that the last decision found eligible (else the preferred one by priority); undefined when there
 * is no other account.
 */
export function defaultFailoverTarget(desired: DesiredState, prior: StatusMap): string | undefined {
  const current = (prior[POOL_KEY] as PoolStatus | undefined)?.activeAccount ?? null;
  const eligible = (name: string) => ['good', 'unknown', undefined].includes(prior[`Account/${name}`]?.tier as string | undefined);
  const candidates = [...desired.accounts].filter((a) => a.metadata.name !== current && !a.spec.suspended).sort((a, b) => a.spec.priority - b.spec.priority || a.metadata.name.localeCompare(b.metadata.name));
  return (candidates.find((a) => eligible(a.metadata.name)) ?? candidates[0])?.metadata.name;
}

/**
 * What the pool's plans read of a Session's status: its quota signals (rate limits, a limit
 * error), its account and activity, and Ready (FailoverCompleted waits for every session to be
 * Ready on the new account).
 */
export function sessionSignatureForPool(st: ObjectStatus | undefined): unknown {
  const s = st as { rateLimits?: unknown; lastError?: unknown; account?: unknown; activity?: unknown } | undefined;
  return [s?.rateLimits, s?.lastError, s?.account, s?.activity, st?.conditions?.find((c) => c.type === 'Ready')?.status];
}

export class AccountController implements Controller<AccountObserved> {
  readonly kind = 'Account' as const;
  /** Sessions report quota signals and readiness: the pool re-plans on them. */
  readonly watches: readonly Watch[] = [{ kind: 'Session', signature: sessionSignatureForPool, map: () => ['*'] }];
  readonly #o: AccountControllerOptions;
  readonly #polls = new Map<string, PollState<UsageSnapshot>>();
  /** The credentials' `expiresAt` last seen per account (null: none in the file). */
  readonly #expiries = new Map<string, number | null>();

  constructor(o: AccountControllerOptions) {
    this.#o = o;
  }

  names(_desired: DesiredState, _inventory: Inventory): string[] {
    return ['*'];
  }

  async observe(_names: readonly string[], ctx: ObserveContext): Promise<AccountObserved> {
    const now = (this.#o.clock ?? Date.now)();
    const out: AccountObserved = { accounts: {} };
    // An operator's failover request (a dry-run shows it pending; `commit` records its outcome).
    const { serve, superseded } = servePending((await this.#o.requests?.pending('failover')) ?? []);
    if (serve) out.forced = { to: serve.target, id: serve.id, ...(serve.reason ? { reason: serve.reason } : {}) };
    if (superseded.length > 0) out.superseded = superseded.map((r) => r.id);
    // Accounts are observed concurrently: a usage endpoint that hangs costs one request timeout per
    // pass, not one per account.
    const observed = await Promise.all(ctx.desired.accounts.map((a) => this.#observeAccount(a, ctx, now)));
    ctx.desired.accounts.forEach((a, i) => {
      out.accounts[a.metadata.name] = observed[i] as AccountObservation;
    });
    return out;
  }

  /**
   * The plan made from `observed` was applied: keep each account's poll bookkeeping and credentials
   * expiry, and record the outcome of the failover request it served (and close the ones it superseded).
   */
  async commit(observed: AccountObserved, applied: AppliedPlan): Promise<void> {
    for (const [name, obs] of Object.entries(observed.accounts)) {
      this.#polls.set(name, obs.poll);
      if (obs.expiry !== undefined) this.#expiries.set(name, obs.expiry);
    }
    const requests = this.#o.requests;
    if (!requests) return;
    const at = new Date((this.#o.clock ?? Date.now)()).toISOString();
    const id = observed.forced?.id;
    if (id) {
      const outcome = (applied.part.status[POOL_KEY] as PoolStatus | undefined)?.forced;
      if (outcome?.id === id) await requests.complete(id, { accepted: outcome.accepted, message: outcome.message, at: outcome.at });
    }
    for (const old of observed.superseded ?? []) await requests.complete(old, { accepted: false, message: `superseded by the newer request ${id ?? ''}`.trim(), at });
  }

  async #observeAccount(a: ManifestObject<'Account'>, ctx: ObserveContext, now: number): Promise<AccountObservation> {
    const name = a.metadata.name;
    const credentials = await this.#o.quota.readCredentials(a.spec.configDir, now);
    const committed = this.#polls.get(name);
    let poll = committed ?? seedPoll(ctx.prior[`Account/${name}`]);
    const cfg = pollConfigOf(a);
    // New credentials (a login, or claude refreshed an expired token): the old token's rejection
    // or back-off no longer applies; poll now.
    const expiry = credentials.ok ? (credentials.expiresAt ?? null) : undefined;
    const seen = this.#expiries.get(name);
    if (seen !== undefined && expiry !== undefined && expiry !== seen) {
      const { nextAllowedAt: _next, lastOutcome: _last, ...rest } = poll;
      poll = { ...rest, consecutiveFailures: 0 };
    }
    let polled: UsageFetch | undefined;
    let probed: UsageProbe | undefined;
    // A plan preview on a running controller plans from its latest observation: no extra request
    // to the usage endpoint (which rate-limits polls), and the schedule is left as it is.
    const preview = ctx.dryRun === true && committed !== undefined;
    // An expired access token cannot be used (the controller never refreshes it): not polled.
    if (credentials.ok && !credentials.accessTokenExpired && this.#o.poll !== false && !preview) {
      // While polls back off after server errors, a tokenless probe finds a recovery within one interval.
      if (mayProbe(poll, now, cfg)) {
        probed = await this.#o.quota.probeUsage(a.spec.quota.usageEndpoint);
        poll = recordProbe(poll, { at: now, reachable: probed.reachable });
      }
      if (mayPoll(poll, now)) {
        polled = await this.#o.quota.fetchUsage(a.spec.configDir, a.spec.quota.usageEndpoint);
        poll = recordPollOutcome(poll, outcomeOf(polled, now), cfg, this.#o.random ?? Math.random, polled.ok ? polled.snapshot : undefined);
      }
    }
    const links: Record<string, PathInfo> = {};
    if (a.spec.sharedStateDir) {
      for (const dir of a.spec.sharedDirs) links[dir] = await this.#o.fs.inspect(posix.join(a.spec.configDir, dir));
    }
    const obs: AccountObservation = { credentials, poll, links, ...(expiry !== undefined ? { expiry } : {}) };
    if (polled) obs.polled = polled;
    if (probed) obs.probed = probed;
    if (a.spec.activeLink) obs.activeLink = await this.#o.fs.inspect(a.spec.activeLink);
    return obs;
  }

  plan(input: PlanInput<AccountObserved>, _names: readonly string[]): PlanPart {
    return planAccounts(input, this.#o.minDwellMs);
  }
}

function seedPoll(prior: ObjectStatus | undefined): PollState<UsageSnapshot> {
  const st = initialPollState<UsageSnapshot>();
  const p = prior?.poll as (Partial<PollState<UsageSnapshot>> & { consecutiveFailures?: number }) | undefined;
  if (!p) return st;
  return {
    ...st,
    ...(p.lastGood ? { lastGood: p.lastGood } : {}),
    ...(p.lastAttemptAt ? { lastAttemptAt: p.lastAttemptAt } : {}),
    ...(p.lastOutcome ? { lastOutcome: p.lastOutcome } : {}),
    ...(p.nextAllowedAt ? { nextAllowedAt: p.nextAllowedAt } : {}),
    ...(p.lastProbeAt ? { lastProbeAt: p.lastProbeAt } : {}),
    consecutiveFailures: p.consecutiveFailures ?? 0,
  };
}

/** The usage poll schedule of an account (src/core/poll-schedule.ts). */
export function pollConfigOf(a: ManifestObject<'Account'>): PollConfig {
  return { pollIntervalMs: durationMs(a.spec.quota.pollInterval) };
}

/**
 * When an account's usage counts as Unknown (src/core/quota-health.ts). Both fields are optional in
 * the manifest, defaults applied here, so the canonical spec (and generation) of existing Accounts
 * does not change.
 */
export function quotaHealthConfigOf(a: ManifestObject<'Account'>): QuotaHealthConfig {
  const interval = durationMs(a.spec.quota.pollInterval);
  return {
    unknownAfterFailures: a.spec.quota.unknownAfterFailures ?? DEFAULT_UNKNOWN_AFTER_FAILURES,
    maxUsageAgeMs: a.spec.quota.maxUsageAge !== undefined ? durationMs(a.spec.quota.maxUsageAge) : defaultMaxUsageAgeMs(interval),
  };
}

function outcomeOf(r: UsageFetch, at: number): PollOutcome {
  if (r.ok) return { kind: 'ok', at };
  if (r.kind === 'RateLimited') return { kind: 'rateLimited', at, ...(r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}) };
  if (r.kind === 'CredentialsExpired' || r.kind === 'Forbidden') return { kind: 'rejected', at };
  return { kind: 'unavailable', at };
}

interface SessionView {
  name: string;
  account?: string | null;
  launchedAt?: string;
  rateLimits?: { observedAt: string; account?: string } & Record<string, unknown>;
  lastError?: { error: string; message?: string; at: string; account?: string };
  paneLimit?: { text: string; resetsAt?: string; at: string; confirmed: boolean };
  activity?: string;
}

/** What the account's sessions report: status line usage and hard limit evidence. Pure. */
export function sessionInputs(account: string, prior: StatusMap): UsageInput[] {
  const inputs: UsageInput[] = [];
  for (const [key, st] of Object.entries(prior)) {
    if (!key.startsWith(SESSION_PREFIX)) continue;
    const s = st as unknown as SessionView;
    const launched = s.launchedAt ? Date.parse(s.launchedAt) : 0;
    // A report names the account its process ran under; during a failover the process being
    // stopped may still report after the session's status names the new account. Reports that
    // name no account (older hooks) count for the session's account, from its launch on.
    const reportedBy = (r: { account?: string; at: string }) => (r.account !== undefined ? r.account === account : s.account === account && Date.parse(r.at) >= launched);
    if (s.rateLimits && reportedBy({ at: s.rateLimits.observedAt, ...(s.rateLimits.account !== undefined ? { account: s.rateLimits.account } : {}) })) {
      const { account: _by, ...rateLimits } = s.rateLimits;
      const snap = parseStatusLineUsage({ rate_limits: rateLimits }, s.rateLimits.observedAt);
      if (snap) inputs.push({ type: 'snapshot', snapshot: snap });
    }
    if (s.lastError?.error === 'rate_limit' && reportedBy(s.lastError)) {
      const at = new Date(s.lastError.at);
      const match = parseStopFailureLimit({ error: 'rate_limit', error_message: s.lastError.message ?? '' }, { now: at });
      const ev = match ? evidenceFromLimit(match, 'stop-failure', s.lastError.at) : undefined;
      if (ev) inputs.push({ type: 'evidence', evidence: ev });
    }
    if (s.account !== account) continue;
    if (s.paneLimit?.confirmed && Date.parse(s.paneLimit.at) >= launched) {
      const ev: UsageInput = { type: 'evidence', evidence: { kind: 'generic', source: 'pane', observedAt: s.paneLimit.at, confirmed: true, text: s.paneLimit.text, ...(s.paneLimit.resetsAt ? { resetsAt: s.paneLimit.resetsAt } : {}) } };
      inputs.push(ev);
    }
  }
  return inputs;
}

export function planAccounts(input: PlanInput<AccountObserved>, minDwellMs: number): PlanPart {
  const out = emptyPlanPart();
  const now = input.now;
  const nowMs = now.getTime();
  const prior = input.prior;
  const pool = prior[POOL_KEY] as PoolStatus | undefined;
  const decisionInputs: AccountDecisionInput[] = [];
  const merged = new Map<string, MergedUsage>();
  const health = new Map<string, QuotaHealth>();
  const links = new Map<string, LinkState>();
  let nextWake = Infinity;

  for (const a of input.desired.accounts) {
    const name = a.metadata.name;
    const obs = input.observed.accounts[name];
    if (!obs) continue;
    const inputs: UsageInput[] = [];
    const good = obs.poll.lastGood;
    if (good) inputs.push({ type: 'snapshot', snapshot: good.value });
    inputs.push(...sessionInputs(name, prior));
    const m = mergeUsage(inputs, now);
    merged.set(name, m);
    const pollError = lastError(obs, prior[`Account/${name}`]);
    const h = quotaHealth({ usage: m, poll: obs.poll, ...(pollError ? { lastError: pollError } : {}) }, nowMs, quotaHealthConfigOf(a));
    health.set(name, h);
    const usageUnknown = QUOTA_UNKNOWN_REASONS.has(h.reason) ? h.reason : undefined;
    const l = linkState(name, a.spec.configDir, a.spec.sharedStateDir, a.spec.sharedDirs, obs.links);
    links.set(name, l);
    const rejected = credentialsRejection(obs);
    const credentialsValid = !obs.credentials.ok ? false : rejected ? false : true;
    const hasData = !!(m.fiveHour || m.sevenDay || m.evidence.length > 0);
    decisionInputs.push({
      name,
      priority: a.spec.priority,
      suspended: a.spec.suspended,
      credentialsValid,
      ...(!obs.credentials.ok ? { credentialsProblem: obs.credentials.message } : rejected ? { credentialsProblem: rejected } : {}),
      ...(obs.credentials.ok && obs.credentials.accessTokenExpired ? { accessTokenExpired: true } : {}),
      sharedStateLinked: l.linked,
      ...(!l.linked ? { sharedStateProblem: l.diverged.join('; ') } : {}),
      thresholds: { fiveHourThreshold: a.spec.quota.fiveHourThreshold, weeklyThreshold: a.spec.quota.weeklyThreshold, ...(a.spec.quota.failbackBelow !== undefined ? { failbackBelow: a.spec.quota.failbackBelow } : {}) },
      usage: hasData ? m : 'unknown',
      ...(usageUnknown ? { usageUnknown: usageUnknown === 'UsageStale' ? `stale: newest figure ${formatAge(h.ageMs ?? 0)} old` : `${h.failures} failed polls` } : {}),
      ...(m.exhaustedUntil ? { exhaustedUntil: m.exhaustedUntil } : {}),
      ...(m.evidence[0] ? { exhaustedReason: `${m.evidence[0].source}: ${m.evidence[0].text ?? m.evidence[0].kind}` } : {}),
    });
    const nextRequest = nextRequestAt(obs.poll, nowMs, pollConfigOf(a));
    if (obs.credentials.ok && !obs.credentials.accessTokenExpired && Number.isFinite(nextRequest)) nextWake = Math.min(nextWake, nextRequest);
    // Wake when the figures turn stale, so QuotaUnknown comes on time even when nothing is polled.
    if (h.known && h.staleAt !== undefined) nextWake = Math.min(nextWake, h.staleAt + 1);

    // Shared-state links: all of an account's links are checked before any is changed.
    if (l.linked && l.missing.length > 0 && a.spec.sharedStateDir) {
      const effects: Effect[] = [];
      for (const dir of l.missing) {
        effects.push({ type: 'fs.mkdir', path: posix.join(a.spec.sharedStateDir, dir) });
        effects.push({ type: 'fs.symlink', path: posix.join(a.spec.configDir, dir), target: posix.join(a.spec.sharedStateDir, dir), replaceLink: false });
      }
      out.changes.push({ key: `Account/${name}`, action: 'create', resource: `shared-state links of account "${name}"`, reason: `${l.missing.join(', ')} not yet linked to ${a.spec.sharedStateDir}`, diff: l.missing.map((d) => ({ path: `/${d}`, op: 'add' as const, to: posix.join(a.spec.sharedStateDir as string, d) })), effects });
    }
  }

  const current = pool?.activeAccount ?? null;
  const decision: ActiveDecision = decideActive({
    accounts: decisionInputs,
    current: current && input.desired.accounts.some((a) => a.metadata.name === current) ? current : current,
    ...(pool?.activeSince ? { currentSince: pool.activeSince } : {}),
    minDwellMs,
    now,
    ...(input.observed.forced ? { forced: input.observed.forced } : {}),
  });
  if (decision.requeueAt) nextWake = Math.min(nextWake, Date.parse(decision.requeueAt));

  // Per-account status.
  for (const a of input.desired.accounts) {
    const name = a.metadata.name;
    const obs = input.observed.accounts[name];
    const m = merged.get(name);
    const l = links.get(name);
    if (!obs || !m || !l) continue;
    const key = `Account/${name}`;
    const st = prior[key];
    let conds: Condition[] = st?.conditions ?? [];
    const set = (type: string, status: Condition['status'], reason: string, message: string) => {
      conds = setCondition(conds, { type, status, reason, message }, now, a.generation);
    };
    const polled = obs.polled;
    const rejection = credentialsRejection(obs);
    const kept = st?.conditions?.find((c) => c.type === 'CredentialsValid');
    if (!obs.credentials.ok) set('CredentialsValid', 'False', obs.credentials.reason, obs.credentials.message);
    else if (polled && !polled.ok && (polled.kind === 'CredentialsExpired' || polled.kind === 'Forbidden')) set('CredentialsValid', 'False', polled.kind, polled.message);
    else if (rejection && kept?.status === 'False') set('CredentialsValid', 'False', kept.reason, kept.message); // the last poll's rejection stands until a poll succeeds
    else if (rejection) set('CredentialsValid', 'False', 'CredentialsExpired', rejection);
    else if (obs.credentials.accessTokenExpired) set('CredentialsValid', 'True', 'AccessTokenExpired', `access token expired${obs.credentials.expiresAt ? ` at ${new Date(obs.credentials.expiresAt).toISOString()}` : ''}; a refresh token is present: claude refreshes it when a session starts on this account (its usage cannot be polled until then)`);
    else set('CredentialsValid', 'True', 'CredentialsPresent', obs.credentials.expiresAt ? `expires ${new Date(obs.credentials.expiresAt).toISOString()}` : 'credentials present');
    const credCond = conds.find((c) => c.type === 'CredentialsValid');
    const wasValid = st?.conditions?.find((c) => c.type === 'CredentialsValid')?.status !== 'False';
    if (credCond?.status === 'False' && wasValid) out.events.push({ key, type: 'Warning', reason: 'CredentialsExpired', message: `Account/${name}: ${credCond.message}; the account leaves rotation (run \`claude /login\` with CLAUDE_CONFIG_DIR=${a.spec.configDir})` });

    const wasDiverged = st?.conditions?.find((c) => c.type === 'SharedStateLinked')?.reason === 'Diverged';
    if (!a.spec.sharedStateDir) set('SharedStateLinked', 'Unknown', 'NotConfigured', 'spec.sharedStateDir is not set: conversations cannot be resumed under another account');
    else if (!l.linked) {
      set('SharedStateLinked', 'False', 'Diverged', l.diverged.join('; '));
      if (!wasDiverged) out.events.push({ key, type: 'Warning', reason: 'SharedStateDiverged', message: `Account/${name} is not a failover target: ${l.diverged.join('; ')}`, data: { diverged: l.diverged } });
    }
    else if (l.missing.length > 0) set('SharedStateLinked', 'False', 'Linking', `creating links for ${l.missing.join(', ')}`);
    else set('SharedStateLinked', 'True', 'Linked', `${a.spec.sharedDirs.length} directories linked to ${a.spec.sharedStateDir}`);

    const verdict = decision.perAccount.find((v) => v.name === name);
    const h = health.get(name);
    const fresh = pollFreshness(obs.poll, nowMs, { ...pollConfigOf(a), staleAfterMs: quotaHealthConfigOf(a).maxUsageAgeMs });
    const wasUnknown = isQuotaUnknownReason(st?.conditions?.find((c) => c.type === 'QuotaAvailable')?.reason);
    const unknownNow = h !== undefined && QUOTA_UNKNOWN_REASONS.has(h.reason) && verdict?.tier !== 'exhausted' && verdict?.tier !== 'excluded';
    if (verdict?.tier === 'exhausted') set('QuotaAvailable', 'False', 'Exhausted', verdict.why);
    else if (unknownNow && h) set('QuotaAvailable', 'Unknown', h.reason, `${h.message}; last known: ${lastKnown(m, nowMs)}`);
    else if (verdict?.tier === 'over') set('QuotaAvailable', 'False', 'ThresholdCrossed', verdict.why);
    else if (verdict?.tier === 'unknown') set('QuotaAvailable', 'Unknown', 'NoUsageData', verdict.why);
    else if (verdict?.tier === 'good') set('QuotaAvailable', 'True', 'BelowThresholds', verdict.why);
    if (unknownNow && !wasUnknown && h) {
      out.events.push({ key, type: 'Warning', reason: 'QuotaUnknown', message: `Account/${name}: ${h.message}; last known: ${lastKnown(m, nowMs)}`, data: { reason: h.reason, failures: h.failures, ...(h.ageMs !== undefined ? { ageMs: h.ageMs } : {}), ...(lastError(obs, st) !== undefined ? { lastError: lastError(obs, st) } : {}) } });
    } else if (!unknownNow && wasUnknown && h?.known) {
      out.events.push({ key, type: 'Normal', reason: 'QuotaRecovered', message: `Account/${name}: usage figures again: ${lastKnown(m, nowMs)}`, data: { failures: h.failures } });
    }
    const active = decision.active === name;
    set('Active', active ? 'True' : 'False', active ? 'ActiveAccount' : 'Standby', active ? decision.message : `active account is ${decision.active ?? 'none'}`);

    // Usage visibility: an account nobody has seen figures for in a long time is a blind target.
    const seenSince = typeof st?.observingSince === 'string' ? st.observingSince : now.toISOString();
    const lastSeen = Math.max(obs.poll.lastGood?.at ?? -Infinity, ...[m.fiveHour, m.sevenDay].map((w) => (w ? Date.parse(w.observedAt) : -Infinity)).filter((t) => !Number.isNaN(t)));
    const staleAfter = staleUsageAfterMs(durationMs(a.spec.quota.pollInterval));
    const blindFor = nowMs - (Number.isFinite(lastSeen) ? lastSeen : Date.parse(seenSince));
    if (blindFor > staleAfter) {
      const why = obs.credentials.ok && obs.credentials.accessTokenExpired
        ? 'its access token has expired and the controller never refreshes tokens; a session started on it refreshes the token'
        : !obs.credentials.ok || rejection ? 'its credentials are not usable'
          : obs.poll.consecutiveFailures > 0 ? `the usage endpoint keeps failing (${String((st?.lastPollError as { kind?: string } | undefined)?.kind ?? obs.poll.lastOutcome ?? 'error')})`
            : 'no poll or session has reported its usage';
      const msg = `no fresh usage data for ${formatAge(blindFor)}${Number.isFinite(lastSeen) ? ` (last figures ${new Date(lastSeen).toISOString()})` : ' (never observed)'}: ${why}`;
      const wasFresh = st?.conditions?.find((c) => c.type === 'UsageDataFresh')?.status !== 'False';
      set('UsageDataFresh', 'False', 'NoFreshUsageData', msg);
      if (wasFresh && !active) out.events.push({ key, type: 'Warning', reason: 'UsageDataStale', message: `backup Account/${name}: ${msg}; it stays a failover target, with usage unknown until observed`, data: { ageMs: blindFor, ...(Number.isFinite(lastSeen) ? { lastObservedAt: new Date(lastSeen).toISOString() } : {}) } });
    } else {
      set('UsageDataFresh', Number.isFinite(lastSeen) ? 'True' : 'Unknown', Number.isFinite(lastSeen) ? 'Observed' : 'NotYetObserved', Number.isFinite(lastSeen) ? `last figures ${new Date(lastSeen).toISOString()}` : 'no usage figures yet');
    }
    const problems = conds.filter((c) => ['CredentialsValid', 'SharedStateLinked'].includes(c.type) && c.status === 'False');
    if (problems.length > 0) set('Ready', 'False', problems[0]?.reason ?? 'NotReady', problems.map((c) => c.message).join('; '));
    else set('Ready', 'True', active ? 'Active' : 'Standby', verdict?.why ?? '');
    const lastPollError = polled && !polled.ok ? { kind: polled.kind, message: polled.message, at: now.toISOString() } : (st?.lastPollError as unknown);
    out.status[key] = {
      observedGeneration: a.generation,
      conditions: conds,
      active,
      tier: verdict?.tier ?? 'unknown',
      usage: { ...(m.fiveHour ? { fiveHour: m.fiveHour } : {}), ...(m.sevenDay ? { sevenDay: m.sevenDay } : {}), scoped: m.scoped, exhausted: m.exhausted, ...(m.exhaustedUntil ? { exhaustedUntil: m.exhaustedUntil } : {}), evidence: m.evidence },
      freshness: { state: fresh.state, ...(fresh.ageMs !== undefined ? { ageMs: fresh.ageMs } : {}) },
      ...(h ? { quotaHealth: { known: h.known, reason: h.reason, failures: h.failures, ...(h.ageMs !== undefined ? { ageMs: h.ageMs } : {}) } } : {}),
      poll: { ...obs.poll },
      observingSince: seenSince,
      ...(lastPollError ? { lastPollError } : {}),
      // The last tokenless probe while polls backed off: did the endpoint's server answer?
      ...(obs.probed ? { lastProbe: { at: now.toISOString(), ...obs.probed } } : st?.lastProbe ? { lastProbe: st.lastProbe } : {}),
    };
    if (polled && !polled.ok && polled.kind === 'RateLimited') out.notes.push({ key, level: 'info', message: `usage endpoint throttled (429); next poll ${new Date(nextPollAt(obs.poll, nowMs)).toISOString()}; last good value ${fresh.ageMs !== undefined ? `${Math.round(fresh.ageMs / 1000)}s old` : 'none'}` });
    if (polled && !polled.ok && polled.kind === 'Unavailable') out.notes.push({ key, level: 'warning', message: `usage endpoint unavailable: ${polled.message}; quota is Unknown, not exhausted` });
  }

  // activeLink: one symlink for humans, pointing at the active account's config dir.
  const activeObj = input.desired.accounts.find((a) => a.metadata.name === decision.active);
  if (activeObj?.spec.activeLink) {
    const obs = input.observed.accounts[activeObj.metadata.name];
    const info = obs?.activeLink ?? { kind: 'missing' as const };
    const target = activeObj.spec.configDir;
    if (info.kind === 'missing' || (info.kind === 'symlink' && info.target !== target)) {
      out.changes.push({ key: POOL_KEY, action: info.kind === 'missing' ? 'create' : 'update', resource: `active link ${activeObj.spec.activeLink}`, reason: `points humans running \`claude\` at account ${activeObj.metadata.name}`, diff: [{ path: '/target', op: info.kind === 'missing' ? 'add' : 'replace', ...(info.kind === 'symlink' ? { from: info.target } : {}), to: target }], effects: [{ type: 'fs.symlink', path: activeObj.spec.activeLink, target, replaceLink: true }] });
    } else if (info.kind !== 'symlink') {
      out.notes.push({ key: POOL_KEY, level: 'warning', message: `activeLink ${activeObj.spec.activeLink} is a real ${info.kind}; not replacing it` });
    }
  }

  // The pool decision.
  const exhausted = decision.perAccount.filter((v) => v.tier === 'exhausted' || v.tier === 'over').map((v) => v.name);
  const allExhausted = decision.reason === 'AllExhausted';
  const switched = decision.switched && decision.active !== null;
  const figures = Object.fromEntries(decision.perAccount.map((v) => [v.name, { tier: v.tier, why: v.why, usage: usageFigures(merged.get(v.name)) }]));
  let failover = pool?.failover;
  if (switched) {
    if (current) {
      out.changes.push({ key: POOL_KEY, action: 'update', resource: 'active account', reason: decision.message, diff: [{ path: '/activeAccount', op: 'replace', from: current, to: decision.active }], effects: [] });
      out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'FailoverStarted', message: `moving the pool from ${current} to ${decision.active}: ${decision.message}`, data: { from: current, to: decision.active, reason: decision.reason, figures } });
      failover = { from: current, to: decision.active as string, reason: decision.reason, startedAt: now.toISOString() };
    } else {
      out.changes.push({ key: POOL_KEY, action: 'create', resource: 'active account', reason: decision.message, diff: [{ path: '/activeAccount', op: 'add', to: decision.active }], effects: [] });
      out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'ActiveAccountSelected', message: `active account: ${decision.active} (${decision.message})`, data: { to: decision.active, reason: decision.reason, figures } });
    }
  } else if (input.options.dryRun && excludedAllOf(decision)) {
    out.notes.push({ key: POOL_KEY, level: 'warning', message: `no account can take the pool, so no session is launched: ${decision.perAccount.map((v) => `${v.name}: ${v.why}`).join('; ')}` });
  } else if (input.options.dryRun && decision.reason !== 'StaySticky' && decision.reason !== 'Initial') {
    out.notes.push({ key: POOL_KEY, level: 'info', message: `active account stays ${decision.active ?? 'none'}: ${decision.reason}: ${decision.message}` });
  }
  // No account can take the pool: sessions are not launched (the Session controller reads this).
  const excludedAll = excludedAllOf(decision);
  let noEligible: PoolStatus['noEligibleAccount'];
  if (excludedAll) {
    const accounts = decision.perAccount.map((v) => ({ name: v.name, why: v.why }));
    const message = `no account can take the pool; sessions are not launched until one can: ${accounts.map((x) => `${x.name}: ${x.why}`).join('; ')}`;
    noEligible = { since: pool?.noEligibleAccount?.since ?? now.toISOString(), message, accounts };
    if (!pool?.noEligibleAccount) out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'NoEligibleAccount', message, data: { accounts } });
  } else if (pool?.noEligibleAccount) {
    out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'EligibleAccountAvailable', message: `an account can take the pool again: ${decision.active ?? 'none'} (${decision.message})` });
  }
  let forced = pool?.forced;
  const request = input.observed.forced;
  if (request && !input.options.dryRun) {
    const accepted = decision.forcedRejected === undefined;
    forced = { ...(request.id ? { id: request.id } : {}), to: request.to, accepted, message: accepted ? decision.message : `forced failover to ${request.to} rejected: ${decision.forcedRejected}`, at: now.toISOString() };
    if (!accepted) out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'FailoverRejected', message: `${forced.message}; the pool stays on ${decision.active ?? 'none'}`, data: { to: request.to, ...(request.reason ? { reason: request.reason } : {}), rejected: decision.forcedRejected } });
  }
  if (allExhausted && !pool?.allExhausted) {
    out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'AllAccountsExhausted', message: `every account is over its threshold or out; staying on ${decision.active ?? 'none'}, dispatch paused${decision.requeueAt ? ` until ${decision.requeueAt}` : ''}`, data: { figures } });
  }
  if (failover && !failover.completedAt && !switched && failoverComplete(input.desired, prior, failover.to)) {
    failover = { ...failover, completedAt: now.toISOString() };
    out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'FailoverCompleted', message: `every session now runs on ${failover.to} (from ${failover.from ?? 'none'}, ${Math.round((nowMs - Date.parse(failover.startedAt)) / 100) / 10}s)`, data: { ...failover } });
  }
  const poolConds = setCondition(
    pool?.conditions,
    noEligible ? { type: 'Ready', status: 'False', reason: 'NoEligibleAccount', message: noEligible.message }
      : allExhausted ? { type: 'Ready', status: 'False', reason: 'AllAccountsExhausted', message: decision.message }
        : decision.active ? { type: 'Ready', status: 'True', reason: decision.reason, message: decision.message }
          : { type: 'Ready', status: 'False', reason: decision.reason, message: decision.message },
    now,
    'pool',
  );
  const poolStatus: PoolStatus = {
    observedGeneration: 'pool',
    conditions: poolConds,
    activeAccount: decision.active,
    ...(switched ? { activeSince: now.toISOString() } : pool?.activeSince ? { activeSince: pool.activeSince } : decision.active ? { activeSince: now.toISOString() } : {}),
    lastDecision: { reason: decision.reason, message: decision.message, at: now.toISOString() },
    allExhausted,
    exhausted,
    ...(decision.requeueAt ? { requeueAt: decision.requeueAt } : {}),
    ...(failover ? { failover } : {}),
    ...(noEligible ? { noEligibleAccount: noEligible } : {}),
    ...(forced ? { forced } : {}),
  };
  out.status[POOL_KEY] = poolStatus;
  if (Number.isFinite(nextWake)) out.requeueAfterMs[POOL_KEY] = Math.max(1000, nextWake - nowMs);
  return out;
}

function isQuotaUnknownReason(reason: string | undefined): boolean {
  return reason !== undefined && QUOTA_UNKNOWN_REASONS.has(reason as QuotaHealthReason);
}

function lastError(obs: AccountObservation, st: ObjectStatus | undefined): string | undefined {
  if (obs.polled && !obs.polled.ok) return obs.polled.message;
  return (st?.lastPollError as { message?: string } | undefined)?.message;
}

/** `5h 40% (usage-api, 22m ago), 7d 20% (usage-api, 22m ago)` — the figures kept while usage is unknown. */
function lastKnown(m: MergedUsage, nowMs: number): string {
  const w = (label: string, x: UsageWindow | undefined) => (x ? `${label} ${formatPercent(x.utilization)} (${x.source}, ${formatAge(nowMs - Date.parse(x.observedAt))} ago)` : `${label} n/a`);
  return m.fiveHour || m.sevenDay ? `${w('5h', m.fiveHour)}, ${w('7d', m.sevenDay)}` : 'none';
}

/** Every account is excluded (suspended, credentials unusable, shared state diverged): none can take the pool. */
function excludedAllOf(decision: ActiveDecision): boolean {
  return decision.perAccount.length > 0 && decision.perAccount.every((v) => v.tier === 'excluded');
}

/** Why the account's last poll was rejected (401/403), until a poll succeeds; undefined otherwise. */
function credentialsRejection(obs: AccountObservation): string | undefined {
  const p = obs.polled;
  if (p && !p.ok && (p.kind === 'CredentialsExpired' || p.kind === 'Forbidden')) return p.message;
  if (!p && obs.poll.lastOutcome === 'rejected') return 'the usage endpoint rejected the access token (401/403) at the last poll';
  return undefined;
}

function usageFigures(m: MergedUsage | undefined): Record<string, unknown> {
  if (!m) return {};
  const w = (x: { utilization: number; source: string; resetsAt?: string } | undefined) => (x ? `${formatPercent(x.utilization)} (${x.source}${x.resetsAt ? `, resets ${x.resetsAt}` : ''})` : 'unknown');
  return { fiveHour: w(m.fiveHour), sevenDay: w(m.sevenDay), ...(m.exhaustedUntil ? { exhaustedUntil: m.exhaustedUntil } : {}) };
}

/** Every unpinned, running session reports the target account and is Ready. */
function failoverComplete(desired: DesiredState, prior: StatusMap, to: string): boolean {
  const sessions = desired.sessions.filter((s) => !s.spec.account && !s.spec.suspended);
  if (sessions.length === 0) return true;
  return sessions.every((s) => {
    const st = prior[`Session/${s.metadata.name}`] as (ObjectStatus & { account?: string | null }) | undefined;
    return st?.account === to && st.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  });
}
