/**
 * Account controller: one reconcile over all accounts (the key `Account/*`) observes credentials,
 * usage (endpoint polls, the sessions' status line feed, hard limit evidence) and the shared-state
 * links, and decides which account is active. Failover is not a special path: the Session
 * controller sees sessions on the wrong account and converges them.
 */
import { posix } from 'node:path';
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { durationMs } from '../api/duration.js';
import { setCondition, type Condition, type ConditionInput } from '../core/conditions.js';
import { emptyPlanPart, type AppliedPlan, type Controller, type Watch, type Inventory, type ObjectStatus, type ObserveContext, type PlanInput, type PlannedEvent, type PlanPart, type StatusMap } from '../core/controller.js';
import type { Effect } from '../core/effects.js';
import { parseStopFailureLimit } from '../core/limit-messages.js';
import type { Change, Note } from '../core/plan.js';
import { initialPollState, mayPoll, mayProbe, nextPollAt, nextRequestAt, pollFreshness, pollOutcomeOf, recordPollOutcome, recordProbe, type PollConfig, type PollState } from '../core/poll-schedule.js';
import type { CredentialsCheck, FsReadPort, PathInfo, QuotaPort, UsageFetch, UsageProbe } from '../core/ports.js';
import { evidenceFromLimit, formatAge, formatPercent, mergeUsage, parseStatusLineUsage, type MergedUsage, type UsageInput, type UsageSnapshot, type UsageWindow } from '../core/quota.js';
import { DEFAULT_UNKNOWN_AFTER_FAILURES, defaultMaxUsageAgeMs, QUOTA_UNKNOWN_REASONS, quotaHealth, type QuotaHealth, type QuotaHealthConfig, type QuotaHealthReason } from '../core/quota-health.js';
import { servePending, type RequestsPort } from '../core/requests.js';
import { linkState, type LinkState } from '../core/shared-state.js';
import { accountStatus, asStatusOf, POOL_KEY, poolStatus, sessionView, sessionViews, type AccountStatus, type PoolStatus } from '../core/status.js';
import { decideActive, type AccountDecisionInput, type AccountVerdict, type ActiveDecision } from './account-decision.js';

export type { AccountStatus, PoolStatus };

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

/**
 * An account whose freshest usage figure (poll, status line) is older than this warns
 * (`UsageDataFresh=False`, event `UsageDataStale`): at least an hour, or three poll intervals.
 */
export function staleUsageAfterMs(pollIntervalMs: number): number {
  return Math.max(60 * 60_000, 3 * pollIntervalMs);
}

/**
 * The account a failover without `--to` moves to: the preferred account other than the active one
 * that the last decision found eligible (else the preferred one by priority); undefined when there
 * is no other account.
 */
export function defaultFailoverTarget(desired: DesiredState, prior: StatusMap): string | undefined {
  const current = poolStatus(prior)?.activeAccount ?? null;
  const eligible = (name: string) => {
    const tier = accountStatus(prior, name)?.tier;
    return tier === undefined || tier === 'good' || tier === 'unknown';
  };
  const candidates = [...desired.accounts].filter((a) => a.metadata.name !== current && !a.spec.suspended).sort((a, b) => a.spec.priority - b.spec.priority || a.metadata.name.localeCompare(b.metadata.name));
  return (candidates.find((a) => eligible(a.metadata.name)) ?? candidates[0])?.metadata.name;
}

/**
 * What the pool's plans read of a Session's status: its quota signals (rate limits, a limit
 * error), its account and activity, and Ready (FailoverCompleted waits for every session to be
 * Ready on the new account).
 */
export function sessionSignatureForPool(st: ObjectStatus | undefined): unknown {
  const session = asStatusOf('Session', st);
  return [session?.rateLimits, session?.lastError, session?.account, session?.activity, session?.conditions?.find((c) => c.type === 'Ready')?.status];
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
      const outcome = poolStatus(applied.part.status)?.forced;
      if (outcome?.id === id) await requests.complete(id, { accepted: outcome.accepted, message: outcome.message, at: outcome.at });
    }
    for (const old of observed.superseded ?? []) await requests.complete(old, { accepted: false, message: `superseded by the newer request ${id ?? ''}`.trim(), at });
  }

  async #observeAccount(a: ManifestObject<'Account'>, ctx: ObserveContext, now: number): Promise<AccountObservation> {
    const name = a.metadata.name;
    const credentials = await this.#o.quota.readCredentials(a.spec.configDir, now);
    const committed = this.#polls.get(name);
    let poll = committed ?? seedPoll(accountStatus(ctx.prior, name));
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
        poll = recordPollOutcome(poll, pollOutcomeOf(polled, now), cfg, this.#o.random ?? Math.random, polled.ok ? polled.snapshot : undefined);
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

function seedPoll(prior: AccountStatus | undefined): PollState<UsageSnapshot> {
  const initial = initialPollState<UsageSnapshot>();
  // A status written by an older version may lack fields of the poll state.
  const recorded: Partial<PollState<UsageSnapshot>> | undefined = prior?.poll;
  if (!recorded) return initial;
  return {
    ...initial,
    ...(recorded.lastGood ? { lastGood: recorded.lastGood } : {}),
    ...(recorded.lastAttemptAt ? { lastAttemptAt: recorded.lastAttemptAt } : {}),
    ...(recorded.lastOutcome ? { lastOutcome: recorded.lastOutcome } : {}),
    ...(recorded.nextAllowedAt ? { nextAllowedAt: recorded.nextAllowedAt } : {}),
    ...(recorded.lastProbeAt ? { lastProbeAt: recorded.lastProbeAt } : {}),
    consecutiveFailures: recorded.consecutiveFailures ?? 0,
  };
}

/** The usage poll schedule of an account (src/core/poll-schedule.ts). */
export function pollConfigOf(account: ManifestObject<'Account'>): PollConfig {
  return { pollIntervalMs: durationMs(account.spec.quota.pollInterval) };
}

/**
 * When an account's usage counts as Unknown (src/core/quota-health.ts). Both fields are optional in
 * the manifest, defaults applied here, so the canonical spec (and generation) of existing Accounts
 * does not change.
 */
export function quotaHealthConfigOf(account: ManifestObject<'Account'>): QuotaHealthConfig {
  const interval = durationMs(account.spec.quota.pollInterval);
  return {
    unknownAfterFailures: account.spec.quota.unknownAfterFailures ?? DEFAULT_UNKNOWN_AFTER_FAILURES,
    maxUsageAgeMs: account.spec.quota.maxUsageAge !== undefined ? durationMs(account.spec.quota.maxUsageAge) : defaultMaxUsageAgeMs(interval),
  };
}

/** What the account's sessions report: status line usage and hard limit evidence. Pure. */
export function sessionInputs(account: string, prior: StatusMap): UsageInput[] {
  const inputs: UsageInput[] = [];
  for (const session of sessionViews(prior)) {
    const launched = session.launchedAt ? Date.parse(session.launchedAt) : 0;
    // A report names the account its process ran under; during a failover the process being
    // stopped may still report after the session's status names the new account. Reports that
    // name no account (older hooks) count for the session's account, from its launch on.
    const reportedBy = (report: { account?: string; at: string }) => (report.account !== undefined ? report.account === account : session.account === account && Date.parse(report.at) >= launched);
    const rateLimits = session.rateLimits;
    if (rateLimits && reportedBy({ at: rateLimits.observedAt, ...(rateLimits.account !== undefined ? { account: rateLimits.account } : {}) })) {
      const { account: _reporter, ...figures } = rateLimits;
      const snapshot = parseStatusLineUsage({ rate_limits: figures }, rateLimits.observedAt);
      if (snapshot) inputs.push({ type: 'snapshot', snapshot });
    }
    const stopFailure = session.lastError;
    if (stopFailure?.error === 'rate_limit' && reportedBy(stopFailure)) {
      const match = parseStopFailureLimit({ error: 'rate_limit', error_message: stopFailure.message ?? '' }, { now: new Date(stopFailure.at) });
      const evidence = match ? evidenceFromLimit(match, 'stop-failure', stopFailure.at) : undefined;
      if (evidence) inputs.push({ type: 'evidence', evidence });
    }
    if (session.account !== account) continue;
    const paneLimit = session.paneLimit;
    if (paneLimit?.confirmed && Date.parse(paneLimit.at) >= launched) {
      inputs.push({ type: 'evidence', evidence: { kind: 'generic', source: 'pane', observedAt: paneLimit.at, confirmed: true, text: paneLimit.text, ...(paneLimit.resetsAt ? { resetsAt: paneLimit.resetsAt } : {}) } });
    }
  }
  return inputs;
}

/**
 * One reconcile of the pool, in phases: assess each account (usage, health, links) and link its
 * shared state; decide the active account; each account's conditions, events and status; the
 * active link; the pool's switch, alerts and status.
 */
export function planAccounts(input: PlanInput<AccountObserved>, minDwellMs: number): PlanPart {
  const out = emptyPlanPart();
  const { now, prior } = input;
  const pool = poolStatus(prior);
  const assessments: AccountAssessment[] = [];
  for (const account of input.desired.accounts) {
    const observation = input.observed.accounts[account.metadata.name];
    if (!observation) continue;
    const assessment = assessAccount(account, observation, prior, now);
    assessments.push(assessment);
    const linking = sharedStateLinkChange(account, assessment.links);
    if (linking) out.changes.push(linking);
  }

  const decision = decidePool(assessments, pool, input.observed.forced, minDwellMs, now);

  for (const assessment of assessments) {
    const name = assessment.account.metadata.name;
    const planned = planAccountStatus(assessment, decision, accountStatus(prior, name), now);
    out.events.push(...planned.events);
    out.status[`Account/${name}`] = planned.status;
    out.notes.push(...planned.notes);
  }

  planActiveLink(input.desired, input.observed, decision, out);
  const usageByAccount = new Map(assessments.map((x) => [x.account.metadata.name, x.usage]));
  const figures = Object.fromEntries(decision.perAccount.map((v) => [v.name, { tier: v.tier, why: v.why, usage: usageFigures(usageByAccount.get(v.name)) }]));
  const switchedFailover = planPoolSwitch(decision, pool, figures, input.options.dryRun, now, out);
  const noEligible = planNoEligibleAccount(decision, pool, now, out);
  const forced = planForcedOutcome(input.observed.forced, decision, pool, input.options.dryRun, now, out);
  if (decision.reason === 'AllExhausted' && !pool?.allExhausted) {
    out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'AllAccountsExhausted', message: `every account is over its threshold or out; staying on ${decision.active ?? 'none'}, dispatch paused${decision.requeueAt ? ` until ${decision.requeueAt}` : ''}`, data: { figures } });
  }
  const failover = planFailoverCompletion(input.desired, prior, switchedFailover, isSwitch(decision), now, out);
  out.status[POOL_KEY] = poolStatusOf(decision, pool, { failover, noEligibleAccount: noEligible, forced }, now);
  const nextWake = Math.min(...assessments.map((x) => x.wakeAt), decision.requeueAt ? Date.parse(decision.requeueAt) : Infinity);
  if (Number.isFinite(nextWake)) out.requeueAfterMs[POOL_KEY] = Math.max(1000, nextWake - now.getTime());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Phase 1: each account on its own

/** What the first phase learns of one account, before the pool decision. */
export interface AccountAssessment {
  account: ManifestObject<'Account'>;
  observation: AccountObservation;
  /** Its polls' last good figures merged with what its sessions reported. */
  usage: MergedUsage;
  health: QuotaHealth;
  links: LinkState;
  decisionInput: AccountDecisionInput;
  /** When the account next needs a reconcile (a poll or probe falls due, its figures turn stale); Infinity: never. */
  wakeAt: number;
}

/** An account's usage (polls merged with its sessions' reports), quota health, links and decision input. Pure. */
export function assessAccount(account: ManifestObject<'Account'>, observation: AccountObservation, prior: StatusMap, now: Date): AccountAssessment {
  const name = account.metadata.name;
  const nowMs = now.getTime();
  const inputs: UsageInput[] = [];
  const lastGood = observation.poll.lastGood;
  if (lastGood) inputs.push({ type: 'snapshot', snapshot: lastGood.value });
  inputs.push(...sessionInputs(name, prior));
  const usage = mergeUsage(inputs, now);
  const pollError = lastError(observation, accountStatus(prior, name));
  const health = quotaHealth({ usage, poll: observation.poll, ...(pollError ? { lastError: pollError } : {}) }, nowMs, quotaHealthConfigOf(account));
  const links = linkState(name, account.spec.configDir, account.spec.sharedStateDir, account.spec.sharedDirs, observation.links);
  let wakeAt = Infinity;
  const nextRequest = nextRequestAt(observation.poll, nowMs, pollConfigOf(account));
  if (observation.credentials.ok && !observation.credentials.accessTokenExpired && Number.isFinite(nextRequest)) wakeAt = nextRequest;
  // Wake when the figures turn stale, so QuotaUnknown comes on time even when nothing is polled.
  if (health.known && health.staleAt !== undefined) wakeAt = Math.min(wakeAt, health.staleAt + 1);
  return { account, observation, usage, health, links, decisionInput: decisionInputOf(account, observation, usage, health, links), wakeAt };
}

function decisionInputOf(account: ManifestObject<'Account'>, observation: AccountObservation, usage: MergedUsage, health: QuotaHealth, links: LinkState): AccountDecisionInput {
  const credentials = observation.credentials;
  const rejected = credentialsRejection(observation);
  const usageUnknown = QUOTA_UNKNOWN_REASONS.has(health.reason) ? health.reason : undefined;
  const hasData = !!(usage.fiveHour || usage.sevenDay || usage.evidence.length > 0);
  const quota = account.spec.quota;
  const evidence = usage.evidence[0];
  return {
    name: account.metadata.name,
    priority: account.spec.priority,
    suspended: account.spec.suspended,
    credentialsValid: credentials.ok && !rejected,
    ...(!credentials.ok ? { credentialsProblem: credentials.message } : rejected ? { credentialsProblem: rejected } : {}),
    ...(credentials.ok && credentials.accessTokenExpired ? { accessTokenExpired: true } : {}),
    sharedStateLinked: links.linked,
    ...(!links.linked ? { sharedStateProblem: links.diverged.join('; ') } : {}),
    thresholds: { fiveHourThreshold: quota.fiveHourThreshold, weeklyThreshold: quota.weeklyThreshold, ...(quota.failbackBelow !== undefined ? { failbackBelow: quota.failbackBelow } : {}) },
    usage: hasData ? usage : 'unknown',
    ...(usageUnknown ? { usageUnknown: usageUnknown === 'UsageStale' ? `stale: newest figure ${formatAge(health.ageMs ?? 0)} old` : `${health.failures} failed polls` } : {}),
    ...(usage.exhaustedUntil ? { exhaustedUntil: usage.exhaustedUntil } : {}),
    ...(evidence ? { exhaustedReason: `${evidence.source}: ${evidence.text ?? evidence.kind}` } : {}),
  };
}

/** The links still missing in an account's config dir, created together once none diverged. Pure. */
export function sharedStateLinkChange(account: ManifestObject<'Account'>, links: LinkState): Change | undefined {
  const store = account.spec.sharedStateDir;
  // All of an account's links are checked before any is changed.
  if (!links.linked || links.missing.length === 0 || !store) return undefined;
  const name = account.metadata.name;
  const effects: Effect[] = [];
  for (const dir of links.missing) {
    effects.push({ type: 'fs.mkdir', path: posix.join(store, dir) });
    effects.push({ type: 'fs.symlink', path: posix.join(account.spec.configDir, dir), target: posix.join(store, dir), replaceLink: false });
  }
  return { key: `Account/${name}`, action: 'create', resource: `shared-state links of account "${name}"`, reason: `${links.missing.join(', ')} not yet linked to ${store}`, diff: links.missing.map((dir) => ({ path: `/${dir}`, op: 'add' as const, to: posix.join(store, dir) })), effects };
}

// ---------------------------------------------------------------------------------------------
// Phase 2: the pool decision

/** Which account the pool runs on (src/controllers/account-decision.ts), from the assessments and the pool's status. Pure. */
export function decidePool(assessments: readonly AccountAssessment[], pool: PoolStatus | undefined, forced: ForcedRequest | undefined, minDwellMs: number, now: Date): ActiveDecision {
  return decideActive({
    accounts: assessments.map((x) => x.decisionInput),
    current: pool?.activeAccount ?? null,
    ...(pool?.activeSince ? { currentSince: pool.activeSince } : {}),
    minDwellMs,
    now,
    ...(forced ? { forced } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Phase 3: each account's conditions, events and status

/** A condition to set, and the events its transition raises. */
export interface ConditionStep {
  condition: ConditionInput;
  events: PlannedEvent[];
}

/** CredentialsValid: the credentials file, then the last poll's verdict (a rejection stands until a poll succeeds). Pure. */
export function credentialsCondition(account: ManifestObject<'Account'>, observation: AccountObservation, prior: AccountStatus | undefined): ConditionStep {
  const name = account.metadata.name;
  const credentials = observation.credentials;
  const polled = observation.polled;
  const rejection = credentialsRejection(observation);
  const kept = prior?.conditions?.find((c) => c.type === 'CredentialsValid');
  const valid = (status: Condition['status'], reason: string, message: string): ConditionInput => ({ type: 'CredentialsValid', status, reason, message });
  let condition: ConditionInput;
  if (!credentials.ok) condition = valid('False', credentials.reason, credentials.message);
  else if (polled && !polled.ok && (polled.kind === 'CredentialsExpired' || polled.kind === 'Forbidden')) condition = valid('False', polled.kind, polled.message);
  else if (rejection && kept?.status === 'False') condition = valid('False', kept.reason, kept.message);
  else if (rejection) condition = valid('False', 'CredentialsExpired', rejection);
  else if (credentials.accessTokenExpired) condition = valid('True', 'AccessTokenExpired', `access token expired${credentials.expiresAt ? ` at ${new Date(credentials.expiresAt).toISOString()}` : ''}; a refresh token is present: claude refreshes it when a session starts on this account (its usage cannot be polled until then)`);
  else condition = valid('True', 'CredentialsPresent', credentials.expiresAt ? `expires ${new Date(credentials.expiresAt).toISOString()}` : 'credentials present');
  const events: PlannedEvent[] = [];
  if (condition.status === 'False' && kept?.status !== 'False') {
    events.push({ key: `Account/${name}`, type: 'Warning', reason: 'CredentialsExpired', message: `Account/${name}: ${condition.message}; the account leaves rotation (run \`claude /login\` with CLAUDE_CONFIG_DIR=${account.spec.configDir})` });
  }
  return { condition, events };
}

/** SharedStateLinked: whether the account can resume the others' conversations. Pure. */
export function sharedStateCondition(account: ManifestObject<'Account'>, links: LinkState, prior: AccountStatus | undefined): ConditionStep {
  const name = account.metadata.name;
  const linked = (status: Condition['status'], reason: string, message: string): ConditionInput => ({ type: 'SharedStateLinked', status, reason, message });
  if (!account.spec.sharedStateDir) return { condition: linked('Unknown', 'NotConfigured', 'spec.sharedStateDir is not set: conversations cannot be resumed under another account'), events: [] };
  if (!links.linked) {
    const wasDiverged = prior?.conditions?.find((c) => c.type === 'SharedStateLinked')?.reason === 'Diverged';
    const events: PlannedEvent[] = wasDiverged ? [] : [{ key: `Account/${name}`, type: 'Warning', reason: 'SharedStateDiverged', message: `Account/${name} is not a failover target: ${links.diverged.join('; ')}`, data: { diverged: links.diverged } }];
    return { condition: linked('False', 'Diverged', links.diverged.join('; ')), events };
  }
  if (links.missing.length > 0) return { condition: linked('False', 'Linking', `creating links for ${links.missing.join(', ')}`), events: [] };
  return { condition: linked('True', 'Linked', `${account.spec.sharedDirs.length} directories linked to ${account.spec.sharedStateDir}`), events: [] };
}

/** QuotaAvailable from the account's verdict and quota health (none without a verdict), and the QuotaUnknown/QuotaRecovered transitions. Pure. */
export function quotaCondition(assessment: AccountAssessment, verdict: AccountVerdict | undefined, prior: AccountStatus | undefined, nowMs: number): { condition?: ConditionInput; events: PlannedEvent[] } {
  const { health, usage } = assessment;
  const name = assessment.account.metadata.name;
  const key = `Account/${name}`;
  const available = (status: Condition['status'], reason: string, message: string): ConditionInput => ({ type: 'QuotaAvailable', status, reason, message });
  const wasUnknown = isQuotaUnknownReason(prior?.conditions?.find((c) => c.type === 'QuotaAvailable')?.reason);
  const unknownNow = QUOTA_UNKNOWN_REASONS.has(health.reason) && verdict?.tier !== 'exhausted' && verdict?.tier !== 'excluded';
  let condition: ConditionInput | undefined;
  if (verdict?.tier === 'exhausted') condition = available('False', 'Exhausted', verdict.why);
  else if (unknownNow) condition = available('Unknown', health.reason, `${health.message}; last known: ${lastKnown(usage, nowMs)}`);
  else if (verdict?.tier === 'over') condition = available('False', 'ThresholdCrossed', verdict.why);
  else if (verdict?.tier === 'unknown') condition = available('Unknown', 'NoUsageData', verdict.why);
  else if (verdict?.tier === 'good') condition = available('True', 'BelowThresholds', verdict.why);
  const events: PlannedEvent[] = [];
  if (unknownNow && !wasUnknown) {
    const pollError = lastError(assessment.observation, prior);
    events.push({ key, type: 'Warning', reason: 'QuotaUnknown', message: `Account/${name}: ${health.message}; last known: ${lastKnown(usage, nowMs)}`, data: { reason: health.reason, failures: health.failures, ...(health.ageMs !== undefined ? { ageMs: health.ageMs } : {}), ...(pollError !== undefined ? { lastError: pollError } : {}) } });
  } else if (!unknownNow && wasUnknown && health.known) {
    events.push({ key, type: 'Normal', reason: 'QuotaRecovered', message: `Account/${name}: usage figures again: ${lastKnown(usage, nowMs)}`, data: { failures: health.failures } });
  }
  return { ...(condition ? { condition } : {}), events };
}

/**
 * UsageDataFresh: an account nobody has seen figures for in a long time is a blind target (a
 * warning for a backup account). Also returns since when the controller has watched it. Pure.
 */
export function usageFreshnessCondition(assessment: AccountAssessment, active: boolean, prior: AccountStatus | undefined, now: Date): ConditionStep & { observingSince: string } {
  const { account, observation, usage } = assessment;
  const name = account.metadata.name;
  const nowMs = now.getTime();
  const fresh = (status: Condition['status'], reason: string, message: string): ConditionInput => ({ type: 'UsageDataFresh', status, reason, message });
  // A status written by an older version may lack the field.
  const observingSince = typeof prior?.observingSince === 'string' ? prior.observingSince : now.toISOString();
  const lastSeen = Math.max(observation.poll.lastGood?.at ?? -Infinity, ...[usage.fiveHour, usage.sevenDay].map((w) => (w ? Date.parse(w.observedAt) : -Infinity)).filter((t) => !Number.isNaN(t)));
  const seen = Number.isFinite(lastSeen);
  const staleAfter = staleUsageAfterMs(durationMs(account.spec.quota.pollInterval));
  const blindFor = nowMs - (seen ? lastSeen : Date.parse(observingSince));
  if (!(blindFor > staleAfter)) {
    const condition = seen ? fresh('True', 'Observed', `last figures ${new Date(lastSeen).toISOString()}`) : fresh('Unknown', 'NotYetObserved', 'no usage figures yet');
    return { condition, events: [], observingSince };
  }
  const credentials = observation.credentials;
  const why = credentials.ok && credentials.accessTokenExpired
    ? 'its access token has expired and the controller never refreshes tokens; a session started on it refreshes the token'
    : !credentials.ok || credentialsRejection(observation) ? 'its credentials are not usable'
      : observation.poll.consecutiveFailures > 0 ? `the usage endpoint keeps failing (${String(prior?.lastPollError?.kind ?? observation.poll.lastOutcome ?? 'error')})`
        : 'no poll or session has reported its usage';
  const message = `no fresh usage data for ${formatAge(blindFor)}${seen ? ` (last figures ${new Date(lastSeen).toISOString()})` : ' (never observed)'}: ${why}`;
  const wasFresh = prior?.conditions?.find((c) => c.type === 'UsageDataFresh')?.status !== 'False';
  const events: PlannedEvent[] = wasFresh && !active
    ? [{ key: `Account/${name}`, type: 'Warning', reason: 'UsageDataStale', message: `backup Account/${name}: ${message}; it stays a failover target, with usage unknown until observed`, data: { ageMs: blindFor, ...(seen ? { lastObservedAt: new Date(lastSeen).toISOString() } : {}) } }]
    : [];
  return { condition: fresh('False', 'NoFreshUsageData', message), events, observingSince };
}

/** An account's conditions in order, its events, its status and the notes about its last poll. Pure. */
export function planAccountStatus(assessment: AccountAssessment, decision: ActiveDecision, prior: AccountStatus | undefined, now: Date): { status: AccountStatus; events: PlannedEvent[]; notes: Note[] } {
  const { account, observation, usage, health } = assessment;
  const name = account.metadata.name;
  const key = `Account/${name}`;
  const nowMs = now.getTime();
  let conditions: Condition[] = prior?.conditions ?? [];
  const events: PlannedEvent[] = [];
  const apply = (step: { condition?: ConditionInput; events: PlannedEvent[] }) => {
    if (step.condition) conditions = setCondition(conditions, step.condition, now, account.generation);
    events.push(...step.events);
  };
  apply(credentialsCondition(account, observation, prior));
  apply(sharedStateCondition(account, assessment.links, prior));
  const verdict = decision.perAccount.find((v) => v.name === name);
  apply(quotaCondition(assessment, verdict, prior, nowMs));
  const active = decision.active === name;
  apply({ condition: { type: 'Active', status: active ? 'True' : 'False', reason: active ? 'ActiveAccount' : 'Standby', message: active ? decision.message : `active account is ${decision.active ?? 'none'}` }, events: [] });
  const freshness = usageFreshnessCondition(assessment, active, prior, now);
  apply(freshness);
  const problems = conditions.filter((c) => ['CredentialsValid', 'SharedStateLinked'].includes(c.type) && c.status === 'False');
  apply({ condition: problems.length > 0 ? { type: 'Ready', status: 'False', reason: problems[0]?.reason ?? 'NotReady', message: problems.map((c) => c.message).join('; ') } : { type: 'Ready', status: 'True', reason: active ? 'Active' : 'Standby', message: verdict?.why ?? '' }, events: [] });

  const polled = observation.polled;
  const fresh = pollFreshness(observation.poll, nowMs, { ...pollConfigOf(account), staleAfterMs: quotaHealthConfigOf(account).maxUsageAgeMs });
  const lastPollError = polled && !polled.ok ? { kind: polled.kind, message: polled.message, at: now.toISOString() } : prior?.lastPollError;
  const status: AccountStatus = {
    observedGeneration: account.generation,
    conditions,
    active,
    tier: verdict?.tier ?? 'unknown',
    usage: { ...(usage.fiveHour ? { fiveHour: usage.fiveHour } : {}), ...(usage.sevenDay ? { sevenDay: usage.sevenDay } : {}), scoped: usage.scoped, exhausted: usage.exhausted, ...(usage.exhaustedUntil ? { exhaustedUntil: usage.exhaustedUntil } : {}), evidence: usage.evidence },
    freshness: { state: fresh.state, ...(fresh.ageMs !== undefined ? { ageMs: fresh.ageMs } : {}) },
    quotaHealth: { known: health.known, reason: health.reason, failures: health.failures, ...(health.ageMs !== undefined ? { ageMs: health.ageMs } : {}) },
    poll: { ...observation.poll },
    observingSince: freshness.observingSince,
    ...(lastPollError ? { lastPollError } : {}),
    // The last tokenless probe while polls backed off: did the endpoint's server answer?
    ...(observation.probed ? { lastProbe: { at: now.toISOString(), ...observation.probed } } : prior?.lastProbe ? { lastProbe: prior.lastProbe } : {}),
  };
  const notes: Note[] = [];
  if (polled && !polled.ok && polled.kind === 'RateLimited') notes.push({ key, level: 'info', message: `usage endpoint throttled (429); next poll ${new Date(nextPollAt(observation.poll, nowMs)).toISOString()}; last good value ${fresh.ageMs !== undefined ? `${Math.round(fresh.ageMs / 1000)}s old` : 'none'}` });
  if (polled && !polled.ok && polled.kind === 'Unavailable') notes.push({ key, level: 'warning', message: `usage endpoint unavailable: ${polled.message}; quota is Unknown, not exhausted` });
  return { status, events, notes };
}

// ---------------------------------------------------------------------------------------------
// Phase 4: the pool

/** activeLink: one symlink for humans, pointing at the active account's config dir. Pure (appends to `out`). */
export function planActiveLink(desired: DesiredState, observed: AccountObserved, decision: ActiveDecision, out: PlanPart): void {
  const active = desired.accounts.find((a) => a.metadata.name === decision.active);
  const link = active?.spec.activeLink;
  if (!active || !link) return;
  const info = observed.accounts[active.metadata.name]?.activeLink ?? { kind: 'missing' as const };
  const target = active.spec.configDir;
  if (info.kind === 'missing' || (info.kind === 'symlink' && info.target !== target)) {
    out.changes.push({ key: POOL_KEY, action: info.kind === 'missing' ? 'create' : 'update', resource: `active link ${link}`, reason: `points humans running \`claude\` at account ${active.metadata.name}`, diff: [{ path: '/target', op: info.kind === 'missing' ? 'add' : 'replace', ...(info.kind === 'symlink' ? { from: info.target } : {}), to: target }], effects: [{ type: 'fs.symlink', path: link, target, replaceLink: true }] });
  } else if (info.kind !== 'symlink') {
    out.notes.push({ key: POOL_KEY, level: 'warning', message: `activeLink ${link} is a real ${info.kind}; not replacing it` });
  }
}

/** The decision moves the pool onto an account. */
function isSwitch(decision: ActiveDecision): boolean {
  return decision.switched && decision.active !== null;
}

/**
 * A switch of the active account: the change and its event (FailoverStarted, or
 * ActiveAccountSelected on the first choice); in a dry-run, why the pool stays. Returns the pool's
 * failover record (a new one when it moves from one account to another). Pure (appends to `out`).
 */
export function planPoolSwitch(decision: ActiveDecision, pool: PoolStatus | undefined, figures: Record<string, unknown>, dryRun: boolean, now: Date, out: PlanPart): PoolStatus['failover'] {
  const current = pool?.activeAccount ?? null;
  const to = decision.active;
  if (isSwitch(decision) && to !== null) {
    if (current) {
      out.changes.push({ key: POOL_KEY, action: 'update', resource: 'active account', reason: decision.message, diff: [{ path: '/activeAccount', op: 'replace', from: current, to }], effects: [] });
      out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'FailoverStarted', message: `moving the pool from ${current} to ${to}: ${decision.message}`, data: { from: current, to, reason: decision.reason, figures } });
      return { from: current, to, reason: decision.reason, startedAt: now.toISOString() };
    }
    out.changes.push({ key: POOL_KEY, action: 'create', resource: 'active account', reason: decision.message, diff: [{ path: '/activeAccount', op: 'add', to }], effects: [] });
    out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'ActiveAccountSelected', message: `active account: ${to} (${decision.message})`, data: { to, reason: decision.reason, figures } });
  } else if (dryRun && excludedAllOf(decision)) {
    out.notes.push({ key: POOL_KEY, level: 'warning', message: `no account can take the pool, so no session is launched: ${decision.perAccount.map((v) => `${v.name}: ${v.why}`).join('; ')}` });
  } else if (dryRun && decision.reason !== 'StaySticky' && decision.reason !== 'Initial') {
    out.notes.push({ key: POOL_KEY, level: 'info', message: `active account stays ${decision.active ?? 'none'}: ${decision.reason}: ${decision.message}` });
  }
  return pool?.failover;
}

/** No account can take the pool: sessions are not launched (the Session controller reads this). Pure (appends to `out`). */
export function planNoEligibleAccount(decision: ActiveDecision, pool: PoolStatus | undefined, now: Date, out: PlanPart): PoolStatus['noEligibleAccount'] {
  if (excludedAllOf(decision)) {
    const accounts = decision.perAccount.map((v) => ({ name: v.name, why: v.why }));
    const message = `no account can take the pool; sessions are not launched until one can: ${accounts.map((x) => `${x.name}: ${x.why}`).join('; ')}`;
    if (!pool?.noEligibleAccount) out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'NoEligibleAccount', message, data: { accounts } });
    return { since: pool?.noEligibleAccount?.since ?? now.toISOString(), message, accounts };
  }
  if (pool?.noEligibleAccount) {
    out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'EligibleAccountAvailable', message: `an account can take the pool again: ${decision.active ?? 'none'} (${decision.message})` });
  }
  return undefined;
}

/** The outcome of an operator's forced request, recorded by its id (not in a dry-run). Pure (appends to `out`). */
export function planForcedOutcome(request: ForcedRequest | undefined, decision: ActiveDecision, pool: PoolStatus | undefined, dryRun: boolean, now: Date, out: PlanPart): PoolStatus['forced'] {
  if (!request || dryRun) return pool?.forced;
  const accepted = decision.forcedRejected === undefined;
  const forced = { ...(request.id ? { id: request.id } : {}), to: request.to, accepted, message: accepted ? decision.message : `forced failover to ${request.to} rejected: ${decision.forcedRejected}`, at: now.toISOString() };
  if (!accepted) out.events.push({ key: POOL_KEY, type: 'Warning', reason: 'FailoverRejected', message: `${forced.message}; the pool stays on ${decision.active ?? 'none'}`, data: { to: request.to, ...(request.reason ? { reason: request.reason } : {}), rejected: decision.forcedRejected } });
  return forced;
}

/** A failover in progress completes once every unpinned session runs Ready on its target. Pure (appends to `out`). */
export function planFailoverCompletion(desired: DesiredState, prior: StatusMap, failover: PoolStatus['failover'], switched: boolean, now: Date, out: PlanPart): PoolStatus['failover'] {
  if (!failover || failover.completedAt || switched || !failoverComplete(desired, prior, failover.to)) return failover;
  const completed = { ...failover, completedAt: now.toISOString() };
  out.events.push({ key: POOL_KEY, type: 'Normal', reason: 'FailoverCompleted', message: `every session now runs on ${completed.to} (from ${completed.from ?? 'none'}, ${Math.round((now.getTime() - Date.parse(completed.startedAt)) / 100) / 10}s)`, data: { ...completed } });
  return completed;
}

/** The pool's status: the decision, its Ready condition, and the records the phases above kept. Pure. */
export function poolStatusOf(decision: ActiveDecision, pool: PoolStatus | undefined, records: Pick<PoolStatus, 'failover' | 'noEligibleAccount' | 'forced'>, now: Date): PoolStatus {
  const { failover, noEligibleAccount, forced } = records;
  const allExhausted = decision.reason === 'AllExhausted';
  const ready: ConditionInput = noEligibleAccount ? { type: 'Ready', status: 'False', reason: 'NoEligibleAccount', message: noEligibleAccount.message }
    : allExhausted ? { type: 'Ready', status: 'False', reason: 'AllAccountsExhausted', message: decision.message }
      : decision.active ? { type: 'Ready', status: 'True', reason: decision.reason, message: decision.message }
        : { type: 'Ready', status: 'False', reason: decision.reason, message: decision.message };
  return {
    observedGeneration: 'pool',
    conditions: setCondition(pool?.conditions, ready, now, 'pool'),
    activeAccount: decision.active,
    ...(isSwitch(decision) ? { activeSince: now.toISOString() } : pool?.activeSince ? { activeSince: pool.activeSince } : decision.active ? { activeSince: now.toISOString() } : {}),
    lastDecision: { reason: decision.reason, message: decision.message, at: now.toISOString() },
    allExhausted,
    exhausted: decision.perAccount.filter((v) => v.tier === 'exhausted' || v.tier === 'over').map((v) => v.name),
    ...(decision.requeueAt ? { requeueAt: decision.requeueAt } : {}),
    ...(failover ? { failover } : {}),
    ...(noEligibleAccount ? { noEligibleAccount } : {}),
    ...(forced ? { forced } : {}),
  };
}

function isQuotaUnknownReason(reason: string | undefined): boolean {
  return reason !== undefined && QUOTA_UNKNOWN_REASONS.has(reason as QuotaHealthReason);
}

function lastError(observation: AccountObservation, prior: AccountStatus | undefined): string | undefined {
  if (observation.polled && !observation.polled.ok) return observation.polled.message;
  return prior?.lastPollError?.message;
}

/** `5h 40% (usage-api, 22m ago), 7d 20% (usage-api, 22m ago)` — the figures kept while usage is unknown. */
function lastKnown(usage: MergedUsage, nowMs: number): string {
  const windowText = (label: string, figure: UsageWindow | undefined) => (figure ? `${label} ${formatPercent(figure.utilization)} (${figure.source}, ${formatAge(nowMs - Date.parse(figure.observedAt))} ago)` : `${label} n/a`);
  return usage.fiveHour || usage.sevenDay ? `${windowText('5h', usage.fiveHour)}, ${windowText('7d', usage.sevenDay)}` : 'none';
}

/** Every account is excluded (suspended, credentials unusable, shared state diverged): none can take the pool. */
function excludedAllOf(decision: ActiveDecision): boolean {
  return decision.perAccount.length > 0 && decision.perAccount.every((v) => v.tier === 'excluded');
}

/** Why the account's last poll was rejected (401/403), until a poll succeeds; undefined otherwise. */
function credentialsRejection(observation: AccountObservation): string | undefined {
  const polled = observation.polled;
  if (polled && !polled.ok && (polled.kind === 'CredentialsExpired' || polled.kind === 'Forbidden')) return polled.message;
  if (!polled && observation.poll.lastOutcome === 'rejected') return 'the usage endpoint rejected the access token (401/403) at the last poll';
  return undefined;
}

function usageFigures(usage: MergedUsage | undefined): Record<string, unknown> {
  if (!usage) return {};
  const windowText = (figure: { utilization: number; source: string; resetsAt?: string } | undefined) => (figure ? `${formatPercent(figure.utilization)} (${figure.source}${figure.resetsAt ? `, resets ${figure.resetsAt}` : ''})` : 'unknown');
  return { fiveHour: windowText(usage.fiveHour), sevenDay: windowText(usage.sevenDay), ...(usage.exhaustedUntil ? { exhaustedUntil: usage.exhaustedUntil } : {}) };
}

/** Every unpinned, running session reports the target account and is Ready. */
function failoverComplete(desired: DesiredState, prior: StatusMap, to: string): boolean {
  const sessions = desired.sessions.filter((s) => !s.spec.account && !s.spec.suspended);
  if (sessions.length === 0) return true;
  return sessions.every((s) => {
    const view = sessionView(prior, s.metadata.name);
    return view?.account === to && view.ready;
  });
}
