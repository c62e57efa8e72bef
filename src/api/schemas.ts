/**
 * The manifest API: apiVersion `claudefailover.io/v1alpha1`, one zod schema per kind.
 * Objects are strict: unknown fields are errors. Every field carries a description; the JSON
 * Schemas (`claude-failover schema`) and docs/manifests.md are generated from these.
 */
import { z } from 'zod';
import { durationMs, isDuration } from './duration.js';
import { DEFAULT_QUEUE_DIR } from './queue-root.js';

export const API_GROUP = 'claudefailover.io';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const KINDS = ['Account', 'Project', 'DelegationPolicy', 'Session', 'Notifier'] as const;
export type Kind = (typeof KINDS)[number];

/** The order `runOnce()` reconciles kinds in: what a kind depends on comes first. */
export const KIND_ORDER: readonly Kind[] = ['Account', 'Project', 'DelegationPolicy', 'Session', 'Notifier'];

export const DEFAULT_USAGE_ENDPOINT = 'https://api.anthropic.com/api/oauth/usage';
export const DEFAULT_SHARED_DIRS = ['projects', 'file-history', 'session-env', 'todos', 'shell-snapshots', 'plans', 'tasks'] as const;
export const DEFAULT_COMMAND = ['claude', '--dangerously-skip-permissions'] as const;

export const NOTIFIER_EVENTS = [
  'FailoverStarted',
  'FailoverCompleted',
  'AllAccountsExhausted',
  'CredentialsExpired',
  'SessionCrashLoop',
  'TaskFailed',
  'DelegationBudgetReached',
  'GuardDenied',
  'ManifestsInvalid',
  'ManifestsRejected',
  'DeletionHeld',
  'SessionExited',
  'SessionWaitingForInput',
  'TaskStuck',
  'QuotaUnknown',
  'QuotaRecovered',
  'NoEligibleAccount',
  'SharedStateDiverged',
  'UsageDataStale',
] as const;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const duration = (def: string, what: string) =>
  z
    .string()
    .refine(isDuration, { message: 'invalid duration: use a number and a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 7d, 1h30m' })
    .default(def)
    .describe(`${what} Duration (\`90s\`, \`5m\`, \`2h\`, \`7d\`). Default \`${def}\`.`);

const path = (what: string) =>
  z
    .string()
    .min(1)
    .describe(`${what} Absolute, \`~/\`-relative, or relative to the manifest file's directory.`);

const percent = (def: number, what: string) => z.number().min(0).max(1000).default(def).describe(`${what} Default ${def}.`);
const optionalPercent = (what: string) => z.number().min(0).max(1000).optional().describe(what);

export const secretRefSchema = z
  .union([
    z.strictObject({ env: z.string().min(1).describe('Name of an environment variable of the controller that holds the secret.') }),
    z.strictObject({ file: path('File that holds the secret (trailing newline ignored).') }),
  ])
  .describe('A secret reference: exactly one of `env` or `file`. Secrets are never written inline.');
export type SecretRef = z.infer<typeof secretRefSchema>;

const nameSchema = z
  .string()
  .max(63)
  .regex(DNS1123_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit')
  .describe('Object name, unique per kind (DNS-1123 label, at most 63 characters).');

export const metadataSchema = z
  .strictObject({
    name: nameSchema,
    labels: z.record(z.string(), z.string()).optional().describe('Free-form key/value labels.'),
    annotations: z
      .record(z.string(), z.string())
      .optional()
      .describe('Free-form key/value annotations. `claudefailover.io/prune: "true"` on a Session lets the controller stop it once removed.'),
  })
  .describe('Object metadata.');
export type ObjectMeta = z.infer<typeof metadataSchema>;

export const accountSpecSchema = z
  .strictObject({
    configDir: path("The account's CLAUDE_CONFIG_DIR (holds its credentials and settings)."),
    priority: z.number().int().default(100).describe('Lower is preferred when choosing the active account. Default 100.'),
    suspended: z.boolean().default(false).describe('Take the account out of rotation. Default false.'),
    quota: z
      .strictObject({
        fiveHourThreshold: percent(90, 'Fail over when 5-hour utilization reaches this percentage.'),
        weeklyThreshold: percent(95, 'Fail over when weekly utilization reaches this percentage.'),
        failbackBelow: optionalPercent('When set, move the pool back to this (higher-priority) account once its usage has reset below this percentage.'),
        pollInterval: duration('5m', 'How often to poll the usage endpoint (at most once per interval).'),
        usageEndpoint: z.url().default(DEFAULT_USAGE_ENDPOINT).describe(`Usage endpoint URL; override for proxies and tests. Default \`${DEFAULT_USAGE_ENDPOINT}\`.`),
        unknownAfterFailures: z
          .number()
          .int()
          .min(1)
          .max(100)
          .optional()
          .describe('After this many failed polls in a row (5xx, 429, timeout, a body of the wrong shape) with no session reporting usage meanwhile, the usage is Unknown (`QuotaAvailable=Unknown`, a `QuotaUnknown` event and notification). Default 3.'),
        maxUsageAge: z
          .string()
          .refine(isDuration, { message: 'invalid duration: use a number and a unit (ms, s, m, h, d), e.g. 90s, 5m, 2h, 7d, 1h30m' })
          .optional()
          .describe('When the newest usage figure (any source) is older than this, the usage is Unknown (`QuotaAvailable=Unknown`, a `QuotaUnknown` event and notification). Must be longer than `pollInterval`; default 3 × `pollInterval`, at least 1m. Duration (`90s`, `5m`, `2h`, `7d`).'),
      })
      .superRefine((q, ctx) => {
        if (q.maxUsageAge === undefined || !isDuration(q.maxUsageAge) || !isDuration(q.pollInterval)) return;
        if (durationMs(q.maxUsageAge) <= durationMs(q.pollInterval)) ctx.addIssue({ code: 'custom', path: ['maxUsageAge'], message: `must be longer than pollInterval (${q.pollInterval}): figures would be stale between two polls` });
      })
      .prefault({})
      .describe('Quota thresholds and polling.'),
    maxSessions: z.number().int().min(0).optional().describe('Optional cap on sessions running under this account at once.'),
    sharedStateDir: path('Canonical store of shared conversation state; each of `sharedDirs` is symlinked here so `--resume` works under any account.').optional(),
    sharedDirs: z
      .array(z.string().min(1).regex(/^[^/]+$/, 'a directory name inside the config dir, without "/"'))
      .default([...DEFAULT_SHARED_DIRS])
      .describe(`Directories of the config dir shared through \`sharedStateDir\`. Default \`${DEFAULT_SHARED_DIRS.join(', ')}\`.`),
    activeLink: path('Optional symlink (e.g. `~/.claude`) re-pointed to the active account\'s config dir, so a human running `claude` lands on the same account. All accounts that set it must set the same path.').optional(),
  })
  .describe('A Claude subscription account (a CLAUDE_CONFIG_DIR).');

/** A git branch name the controller may create or check out (what `git check-ref-format --branch` accepts, a little stricter). */
// eslint-disable-next-line no-control-regex -- control characters are what the branch rule excludes
const BRANCH = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)(?!.*\.lock(?:\/|$))(?!.*\/\.)(?!\.)[^\s~^:?*[\\\x00-\x1f\x7f]+(?<![./])$/;

export const worktreeSchema = z
  .union([
    z.boolean(),
    z.strictObject({
      branch: z
        .string()
        .min(1)
        .max(200)
        .regex(BRANCH, 'not a usable git branch name (no spaces, `..`, `~^:?*[\\`, leading `-` or `.`, trailing `/`, `.` or `.lock`)')
        .optional()
        .describe('Branch checked out in the worktree: created from `base` when it does not exist, checked out as it is when it does. Default: the session\'s name.'),
      path: path('Where the worktree goes. Default: `<project path>-worktrees/<session name>`, beside the project.').optional(),
      base: z.string().min(1).optional().describe('Commit, branch or tag a new branch starts from. Default: the project checkout\'s `HEAD`. Ignored when the branch exists.'),
    }),
  ])
  .describe(
    'Run the session in its own git worktree of the project (`true`, or an object to choose the branch, path or base). The controller creates the worktree before the first launch (`git worktree add`), keeps it across relaunches and failovers (the same directory, so `--resume` finds the conversation), and removes it only when the Session is removed with `--prune` (or the prune annotation), never while it has uncommitted changes: the branch is always kept. Tasks of the project still go to any of its sessions. Needs the project path to be inside a git repository. Default: no worktree (the session runs in `workdir`).',
  );

export const sessionSpecSchema = z
  .strictObject({
    project: nameSchema.describe('The Project this session works for (reference by name).'),
    mode: z.enum(['pool', 'dedicated']).default('pool').describe('`pool`: takes any task of its project. `dedicated`: only tasks pinned to it. Default `pool`.'),
    account: nameSchema.optional().describe('Pin to this Account. Default: follow the active account (failover moves the session).'),
    command: z
      .array(z.string())
      .min(1)
      .default([...DEFAULT_COMMAND])
      .describe(`argv of Claude Code, or of a wrapper that runs it. The controller appends \`--settings\`, \`--model\` and \`--session-id\`/\`--resume\` after these arguments, so a wrapper must pass its arguments on to claude, e.g. \`["bash", "-lc", "exec claude \\"$@\\"", "claude", "--dangerously-skip-permissions"]\` or \`["node", "/opt/agent.js"]\`. Default \`${DEFAULT_COMMAND.join(' ')}\`.`),
    model: z.string().min(1).optional().describe('Passed as `--model`.'),
    env: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name: letters, digits and `_`, not starting with a digit')
          .refine((k) => k !== 'TMUX' && k !== 'TMUX_PANE', 'TMUX and TMUX_PANE are set by tmux itself'),
        z.string(),
      )
      .default({})
      .describe('Environment variables of the session, on top of the few the controller passes (PATH, HOME, locale, proxy settings: see docs/security.md, *What agents inherit*) and `CLAUDE_CONFIG_DIR`. Nothing else of the controller\'s environment reaches an agent.'),
    workdir: path('Working directory. Default: the project path.').optional(),
    resume: z.boolean().default(true).describe('Resume the conversation (`--resume <id>`) on relaunch. Default true.'),
    suspended: z.boolean().default(false).describe('Stop the session gracefully and keep it stopped. Default false.'),
    worktree: worktreeSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.worktree !== undefined && spec.worktree !== false && spec.workdir !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workdir'], message: '`workdir` and `worktree` exclude each other: a session with a worktree runs in it (choose where with `worktree.path`)' });
    }
  })
  .describe('A Claude Code agent running in its own tmux session.');

export const projectSpecSchema = z
  .strictObject({
    path: path('The project directory (the agents work here).'),
    queueDir: z.string().min(1).default(DEFAULT_QUEUE_DIR).describe('Task queue directory, relative to `path`; an absolute path is used as it is (outside the project). `~` is not expanded here. Default `.agent-queue`.'),
    delegationPolicy: nameSchema.optional().describe('DelegationPolicy that may route tasks of this project to the external job API.'),
    safety: z
      .strictObject({
        mode: z.enum(['enforce', 'warn', 'off']).default('enforce').describe('`enforce` blocks destructive commands, `warn` only logs them, `off` disables the guard. Default `enforce`.'),
      })
      .prefault({})
      .describe('The PreToolUse safety guard.'),
    janitor: z
      .strictObject({
        archiveDoneAfter: duration('7d', 'Move done tasks to archive/YYYY-MM/ after this long.'),
        staleDispatchAfter: duration('2h', 'Requeue a dispatched task without activity after this long.'),
        pruneCheckpointsAfter: duration('7d', 'Delete session checkpoints older than this.'),
      })
      .prefault({})
      .describe('Housekeeping of the queue.'),
    maxAttempts: z.number().int().min(1).default(3).describe('Deliveries of a task before it goes to failed/. Default 3.'),
    alerts: z
      .strictObject({
        stuckTaskAfter: duration('20m', 'Report a dispatched task whose session has shown no activity (no hook event, no status line) for this long: one `TaskStuck` event and notification per stuck spell. Well below `janitor.staleDispatchAfter`, which requeues the task.'),
      })
      .prefault({})
      .describe('When the project calls for a person.'),
  })
  .describe('A project directory with a task queue.');

export const delegationPolicySpecSchema = z
  .strictObject({
    endpoint: z.url().describe('Base URL of the AI job API.'),
    apiKey: secretRefSchema.describe('API key of the job API (`env` or `file`).'),
    providers: z.array(z.string().min(1)).min(1).describe('Providers tasks may be delegated to (`preferred_ai` values).'),
    defaultProvider: z.string().min(1).optional().describe('Provider used when a task allows delegation without naming one. Must be one of `providers`.'),
    maxConcurrentJobs: z.number().int().min(1).default(4).describe('Jobs in flight at once. Default 4.'),
    retry: z
      .strictObject({
        maxAttempts: z.number().int().min(1).default(5).describe('Attempts per request on retryable errors. Default 5.'),
        baseDelay: duration('1s', 'First backoff delay.'),
        maxDelay: duration('60s', 'Backoff cap.'),
      })
      .prefault({})
      .describe('Retries of job API requests (network errors, 408, 429, 5xx).'),
    pollInterval: duration('10s', 'How often to poll a running job.'),
    jobTimeout: duration('1h', 'A job running longer than this is failed (or returned to a local session with `fallbackToLocal`).'),
    budget: z
      .strictObject({
        maxCostPerDay: z.number().min(0).describe('Once the day\'s delegated cost reaches this, new tasks run locally.'),
      })
      .optional()
      .describe('Optional spending cap.'),
    fallbackToLocal: z.boolean().default(false).describe('Send tasks whose job timed out (`jobTimeout`) back to local sessions instead of failed/. Default false. (Once `budget.maxCostPerDay` is reached, new tasks always run locally.)'),
  })
  .describe('Rules for delegating tasks to an external AI job API.');

export const notifierSpecSchema = z
  .strictObject({
    type: z.enum(['telegram', 'webhook']).describe('Channel type.'),
    events: z.array(z.enum(NOTIFIER_EVENTS)).optional().describe(`Events to send. Default: all (${NOTIFIER_EVENTS.join(', ')}).`),
    for: z
      .array(z.string().regex(/^(Account|Session|Project|DelegationPolicy)\/[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a reference `Kind/name`, e.g. `Account/main`'))
      .optional()
      .describe('Only events about these objects (`Kind/name`). Default: all objects.'),
    telegram: z
      .strictObject({
        botToken: secretRefSchema.describe('Bot token (`env` or `file`).'),
        chatId: z.union([z.string().min(1), z.number().int()]).describe('Chat to post to.'),
        apiBase: z.url().default('https://api.telegram.org').describe('Bot API base URL. Default `https://api.telegram.org`.'),
      })
      .optional()
      .describe('Telegram settings (required when `type: telegram`).'),
    webhook: z
      .strictObject({
        url: z.url().describe('URL that receives a JSON POST per event.'),
        headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers.'),
        secret: secretRefSchema.optional().describe('When set, requests carry `X-Signature-256: sha256=<HMAC-SHA256 of the body>`.'),
      })
      .optional()
      .describe('Webhook settings (required when `type: webhook`).'),
  })
  .superRefine((spec, ctx) => {
    if (spec.type === 'telegram' && !spec.telegram) ctx.addIssue({ code: 'custom', path: ['telegram'], message: 'type telegram needs a `telegram` block' });
    if (spec.type === 'webhook' && !spec.webhook) ctx.addIssue({ code: 'custom', path: ['webhook'], message: 'type webhook needs a `webhook` block' });
  })
  .describe('A notification channel.');

export const specSchemas = {
  Account: accountSpecSchema,
  Project: projectSpecSchema,
  DelegationPolicy: delegationPolicySpecSchema,
  Session: sessionSpecSchema,
  Notifier: notifierSpecSchema,
} as const;

export type AccountSpec = z.infer<typeof accountSpecSchema>;
export type SessionSpec = z.infer<typeof sessionSpecSchema>;
export type ProjectSpec = z.infer<typeof projectSpecSchema>;
export type DelegationPolicySpec = z.infer<typeof delegationPolicySpecSchema>;
export type NotifierSpec = z.infer<typeof notifierSpecSchema>;

export interface SpecByKind {
  Account: AccountSpec;
  Project: ProjectSpec;
  DelegationPolicy: DelegationPolicySpec;
  Session: SessionSpec;
  Notifier: NotifierSpec;
}

function buildObjectSchema<K extends Kind>(kind: K) {
  return z
    .strictObject({
      apiVersion: z.literal(API_VERSION).describe(`Always \`${API_VERSION}\`.`),
      kind: z.literal(kind),
      metadata: metadataSchema,
      spec: specSchemas[kind],
      status: z.unknown().optional().describe('Ignored in files: status is written by the controller.'),
    })
    .describe(specSchemas[kind].description ?? kind);
}

const objectSchemas = new Map<Kind, ReturnType<typeof buildObjectSchema>>();

/** A whole manifest document of one kind (built once per kind: zod schemas are costly to build). */
export function objectSchema<K extends Kind>(kind: K): ReturnType<typeof buildObjectSchema<K>> {
  let s = objectSchemas.get(kind);
  if (!s) {
    s = buildObjectSchema(kind);
    objectSchemas.set(kind, s);
  }
  return s as ReturnType<typeof buildObjectSchema<K>>;
}

export function isKind(value: unknown): value is Kind {
  return typeof value === 'string' && (KINDS as readonly string[]).includes(value);
}
