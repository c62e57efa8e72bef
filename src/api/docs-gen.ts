/**
 * Renders docs/manifests.md from the zod schemas (through their JSON Schemas, so the reference and
 * the editor schemas can never disagree). Pure: returns text; scripts/gen-docs.mjs writes the file
 * and test/docs/manifests-doc.test.ts fails when the committed file differs from this output.
 */
import { jsonSchemaFor, schemaFileName } from './json-schema.js';
import { API_VERSION, KINDS, type Kind } from './schemas.js';

/** One row of a field table. */
export interface FieldDoc {
  /** Dotted path from the document root, e.g. `spec.quota.pollInterval`. */
  path: string;
  /** Human type: `string`, `path`, `duration`, `integer`, `` `pool` \| `dedicated` ``, ... */
  type: string;
  required: boolean;
  /** Set for a required field inside an optional object: the object's path. */
  requiredWithin?: string;
  /** Allowed values, when the type is an enumeration too long for the type column. */
  values?: string[];
  /** The default as written in YAML, when the schema has one. */
  default?: string;
  description: string;
}

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
};

/** Sentences the schema helpers append; the doc explains them once, in their own sections. */
const PATH_NOTE = " Absolute, `~/`-relative, or relative to the manifest file's directory.";
const DURATION_NOTE = ' Duration (`90s`, `5m`, `2h`, `7d`).';
const SAFE_INT = 9007199254740991;
/** Enumerations longer than this are listed under the table instead of in the type column. */
const LONG_ENUM = 4;

const KIND_INTRO: Record<Kind, string> = {
  Account:
    'One Claude subscription, i.e. one `CLAUDE_CONFIG_DIR` holding its credentials. The Account controller checks its credentials, polls its usage, links its shared conversation state, and picks the **active** account of the pool: the eligible account with the lowest `priority` that is below both thresholds. Failover and failback are the Session controller converging sessions onto the new active account and resuming their conversations.',
  Project:
    'A directory the agents work in, with a file-based task queue (`<path>/<queueDir>/inbox, dispatched, delegated, done, failed, archive`). The Project controller routes, dispatches tasks to idle sessions of the project, completes and retries them, and keeps the queue tidy. See docs/queue-protocol.md for the producer contract.',
  DelegationPolicy:
    'Lets tasks of the projects that reference it run on an external AI job API instead of a local Claude Code session, per task, by the task\'s frontmatter (`preferred_ai`, `allow_delegation`, `needs_claude_code`). A task without those fields always runs locally.',
  Session:
    'One Claude Code agent in its own tmux session on the controller\'s tmux server. The Session controller launches it (with `--session-id` on the first launch and `--resume <id>` afterwards), tracks its activity from Claude Code hooks, heals crashes with crash-loop back-off, and moves it to the active account on failover.',
  Notifier:
    'A channel that receives selected controller events (Telegram or a signed webhook). Delivery never blocks reconciliation; identical events are deduplicated. See docs/notifications.md.',
};

/** Sections after a kind's field table. */
const KIND_NOTES: Partial<Record<Kind, string[]>> = {
  Session: [
    '### Worktrees',
    '',
    'Several sessions of one project edit the same checkout unless each gets its own git worktree:',
    '',
    '```yaml',
    'spec:',
    '  project: webapp',
    '  worktree: true                 # branch ccl-0, at <project path>-worktrees/ccl-0',
    '```',
    '',
    'or, to choose:',
    '',
    '```yaml',
    'spec:',
    '  project: webapp',
    '  worktree:',
    '    branch: feature/search       # default: the session\'s name',
    '    path: ~/src/webapp-search    # default: <project path>-worktrees/<session name>',
    '    base: origin/main            # where a new branch starts; default: the project\'s HEAD',
    '```',
    '',
    '- The controller runs `git worktree add` before the first launch: it checks the branch out (creating it',
    '  from `base` when it does not exist) and starts the agent there. A plan (`--dry-run`) shows it as',
    '  `creating its git worktree PATH (branch B)` and the agent\'s `cwd`. When the project path is a',
    '  subdirectory of its repository (a monorepo), the agent runs in the same subdirectory of the worktree.',
    '- The worktree stays across relaunches, crashes and failovers: the agent always starts in the same',
    '  directory, so its transcript (`projects/<encoded worktree path>/` in the shared conversation store)',
    '  is found and `--resume` continues the conversation. Folder trust is pre-seeded for the worktree path.',
    '- The agent may commit, switch branches, or reset inside its worktree: the controller only creates it',
    '  when it is missing. Something else at the path (a plain directory with files, another repository)',
    '  is never touched: the session is not launched and its `Ready` condition says why (`WorktreeConflict`,',
    '  or `WorktreeUnavailable` when the project is not in a git repository or git is not installed).',
    '- Tasks of the project still go to any of its sessions; the prompt names the task file in the',
    '  project\'s queue by absolute path.',
    '- Removing the Session from the manifests leaves the worktree alone. With `--prune` (or the annotation',
    '  `claudefailover.io/prune: "true"`) the agent is stopped and the worktree removed with `git worktree',
    '  remove`, never forced: while it has uncommitted changes (modified, staged or untracked files) it is',
    '  kept, the Session\'s condition is `WorktreeDirty` with the files, and a `WorktreeKept` event is',
    '  recorded. Commit or discard the changes and the next pass removes it. The branch is never deleted.',
    '- Adding, removing or moving `worktree` on a running session relaunches it in the new directory with',
    '  a new conversation (a conversation belongs to the directory it was started in). A worktree the',
    '  session no longer uses stays until the Session is pruned.',
  ],
};

/** A small, valid example per kind (test/docs checks that each one validates). */
export const KIND_EXAMPLES: Record<Kind, string> = {
  Account: `apiVersion: ${API_VERSION}
kind: Account
metadata:
  name: main
spec:
  configDir: ~/.claude-accounts/main
  priority: 10
  sharedStateDir: ~/.claude-shared
  quota:
    fiveHourThreshold: 90
    weeklyThreshold: 95
    failbackBelow: 30
`,
  Project: `apiVersion: ${API_VERSION}
kind: Project
metadata:
  name: webapp
spec:
  path: ~/src/webapp
  delegationPolicy: ai-jobs
  safety:
    mode: enforce
  janitor:
    archiveDoneAfter: 7d
`,
  DelegationPolicy: `apiVersion: ${API_VERSION}
kind: DelegationPolicy
metadata:
  name: ai-jobs
spec:
  endpoint: https://jobs.example.com/api/v1
  apiKey:
    env: CF_JOBS_API_KEY
  providers: [gemini, gpu]
  defaultProvider: gemini
  budget:
    maxCostPerDay: 20
`,
  Session: `apiVersion: ${API_VERSION}
kind: Session
metadata:
  name: ccl-0
spec:
  project: webapp
  mode: pool
`,
  Notifier: `apiVersion: ${API_VERSION}
kind: Notifier
metadata:
  name: ops-telegram
spec:
  type: telegram
  events: [FailoverCompleted, AllAccountsExhausted, CredentialsExpired, SessionCrashLoop]
  telegram:
    botToken:
      file: ~/.config/claude-failover/telegram-token
    chatId: -1001234567890
`,
};

function isSecretRef(s: JsonSchema): boolean {
  const keys = (s.anyOf ?? []).map((o) => Object.keys(o.properties ?? {}).join(','));
  return keys.length === 2 && keys.includes('env') && keys.includes('file');
}

function isRecord(s: JsonSchema): boolean {
  return s.type === 'object' && !s.properties && typeof s.additionalProperties === 'object';
}

function code(v: string): string {
  return `\`${v}\``;
}

function range(s: JsonSchema): string {
  const min = s.minimum !== undefined && s.minimum > -SAFE_INT ? s.minimum : undefined;
  const max = s.maximum !== undefined && s.maximum < SAFE_INT ? s.maximum : undefined;
  if (min !== undefined && max !== undefined) return ` (${min}–${max})`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return '';
}

/** The human type of a JSON Schema node. */
export function typeOf(s: JsonSchema): string {
  const d = s.description ?? '';
  if (isSecretRef(s)) return '[secret reference](#secret-references)';
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  if (s.const !== undefined) return code(String(s.const));
  if (s.enum) return s.enum.map((v) => code(String(v))).join(' \\| ');
  switch (s.type) {
    case 'string':
      if (d.includes(PATH_NOTE.trim())) return '[path](#paths)';
      if (d.includes(DURATION_NOTE.trim())) return '[duration](#durations)';
      if (s.format === 'uri') return 'URL';
      return 'string';
    case 'integer':
    case 'number':
      return `${s.type}${range(s)}`;
    case 'boolean':
      return 'boolean';
    case 'array': {
      if (s.items?.enum && s.items.enum.length > LONG_ENUM) return 'list of names (values below the table)';
      const item = s.items ? typeOf(s.items) : 'any';
      return item === 'string' ? 'list of strings' : `list of ${item}`;
    }
    case 'object':
      if (isRecord(s)) return 'map of string to string';
      return 'object';
    default:
      return 'any';
  }
}

function yamlInline(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(yamlInline).join(', ')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{${entries.map(([k, x]) => `${k}: ${yamlInline(x)}`).join(', ')}}`;
  }
  return String(v);
}

/** Strips the boilerplate the type column already says (path rules, duration syntax, the default). */
function describe(s: JsonSchema): string {
  let d = (s.description ?? '').replace(PATH_NOTE, '').replace(DURATION_NOTE, '');
  if (s.default !== undefined) d = d.replace(/ ?Default (?:`[^`]*`|[^ :.]+)\.$/, '');
  return d.trim();
}

/** Every field under `schema` (depth first, in declaration order), paths prefixed with `prefix`. */
export function fieldsOf(schema: JsonSchema, prefix: string, optionalParent?: string): FieldDoc[] {
  const out: FieldDoc[] = [];
  const required = new Set(schema.required ?? []);
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const row: FieldDoc = { path, type: typeOf(s), required: required.has(name), description: describe(s) };
    if (row.required && optionalParent) row.requiredWithin = optionalParent;
    if (s.default !== undefined) row.default = yamlInline(s.default);
    const longEnum = s.enum ?? s.items?.enum;
    if (longEnum && longEnum.length > LONG_ENUM) row.values = longEnum.map(String);
    out.push(row);
    if (s.type === 'object' && s.properties) out.push(...fieldsOf(s, path, row.required && !optionalParent ? undefined : (optionalParent ?? path)));
    // A union with an object form (`worktree: true | {branch, path}`): that object's fields too.
    for (const form of s.anyOf ?? []) {
      if (form.type === 'object' && form.properties && !isSecretRef(s)) out.push(...fieldsOf(form, path, row.required && !optionalParent ? undefined : (optionalParent ?? path)));
    }
  }
  return out;
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, ' ').replace(/(?<!\\)\|/g, '\\|');
}

function requiredCell(f: FieldDoc): string {
  if (f.requiredWithin) return `**required** when \`${f.requiredWithin}\` is set`;
  if (f.required) return '**required**';
  if (f.default === undefined) return 'optional';
  if (f.default === '{}') return f.type === 'object' ? 'optional (defaults inside)' : 'optional';
  return `default ${code(f.default)}`;
}

function table(rows: FieldDoc[]): string {
  const lines = ['| Field | Type | Required / default | Description |', '| --- | --- | --- | --- |'];
  for (const f of rows) lines.push(`| ${code(f.path)} | ${cell(f.type)} | ${cell(requiredCell(f))} | ${cell(f.description)} |`);
  for (const f of rows) {
    if (f.values) lines.push('', `Values of ${code(f.path)}:`, '', ...f.values.map((v) => `- ${code(v)}`));
  }
  return lines.join('\n');
}

function anchor(kind: Kind): string {
  return kind.toLowerCase();
}

/** The full text of docs/manifests.md. */
export function renderManifestsDoc(): string {
  const account = jsonSchemaFor('Account') as JsonSchema;
  const top = account.properties ?? {};
  const common: FieldDoc[] = [];
  const commonRequired = new Set(account.required ?? []);
  for (const name of ['apiVersion', 'kind', 'metadata', 'spec', 'status']) {
    const s = top[name] ?? {};
    const row: FieldDoc = { path: name, type: name === 'kind' ? KINDS.map(code).join(' \\| ') : name === 'spec' ? 'object' : typeOf(s), required: commonRequired.has(name), description: describe(s) };
    if (name === 'kind') row.description = 'The kind of object: one of the sections below.';
    if (name === 'spec') row.description = 'The desired state; its fields depend on the kind (below).';
    common.push(row);
    if (name === 'metadata') common.push(...fieldsOf(s, 'metadata'));
  }
  const secretForms = (jsonSchemaFor('DelegationPolicy') as JsonSchema).properties?.spec?.properties?.apiKey?.anyOf ?? [];
  const secretField = (name: string): JsonSchema => secretForms.find((f) => f.properties?.[name])?.properties?.[name] ?? {};
  const secretEnv = secretField('env');
  const secretFile = secretField('file');

  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  p(
    '# Manifest reference',
    '',
    '<!-- Generated from src/api/schemas.ts by `npm run docs` (src/api/docs-gen.ts). Do not edit by hand:',
    '     test/docs/manifests-doc.test.ts fails when this file differs from the schemas. -->',
    '',
    `Every object claude-failover manages is declared in a YAML manifest with \`apiVersion: ${API_VERSION}\`.`,
    `There are ${KINDS.length} kinds: ${KINDS.map((k) => `[${k}](#${anchor(k)})`).join(', ')}. A ready-to-edit set for a real pool is in`,
    '[`manifests/`](../manifests/); a simulated one in [`examples/demo/`](../examples/demo/).',
    '',
    'Check a set with `claude-failover validate -f DIR` and see what it would do with',
    '`claude-failover reconcile --once --dry-run -f DIR`.',
    '',
    '- [Common fields](#common-fields)',
    '- [Which files are manifests](#which-files-are-manifests)',
    '- [Editor support](#editor-support)',
    '- [Paths](#paths)',
    '- [Durations](#durations)',
    '- [Secret references](#secret-references)',
    '- [Validation](#validation)',
    ...KINDS.map((k) => `- [${k}](#${anchor(k)})`),
    '',
    '## Common fields',
    '',
    'Every document has the same envelope. Objects are strict: an unknown field is an error (with a',
    '"did you mean" hint when a known field is close), so a typo never silently falls back to a default.',
    '',
    table(common),
    '',
    '## Which files are manifests',
    '',
    '`-f PATH` (repeatable) takes files and directories. Directories are read recursively; only',
    '`*.yaml` and `*.yml` files are read, in name order, and entries whose name starts with `.` (such as',
    '`.git`) and `node_modules` are skipped. A file named explicitly with `-f` is read whatever its name.',
    'A file may hold several documents separated by `---`.',
    '',
    'A YAML document **looks like a manifest** when it is a mapping with at least one of `apiVersion`,',
    '`kind`, `metadata` or `spec` at the top level. A file in which no document looks like a manifest',
    '(a CI config, a kustomization, notes) is skipped silently. Any document that does is validated in',
    'full, so a manifest with a misspelt or missing `apiVersion` or `kind` is an error, never skipped.',
    'Empty documents (a trailing `---`) are ignored. A YAML syntax error is always an error.',
    '',
    '## Editor support',
    '',
    '`claude-failover schema -d schemas/` writes one JSON Schema per kind; the package ships them in',
    '`schemas/`. Editors using [yaml-language-server](https://github.com/redhat-developer/yaml-language-server)',
    '(VS Code\'s YAML extension, Neovim, Helix, ...) validate and complete a file that starts with a modeline',
    'naming its schema, relative to the file:',
    '',
    '```yaml',
    '# yaml-language-server: $schema=../schemas/session.schema.json',
    `apiVersion: ${API_VERSION}`,
    'kind: Session',
    '```',
    '',
    'A modeline names one schema, so keep one kind per file when you use it.',
    '',
    '| Kind | Schema file |',
    '| --- | --- |',
    ...KINDS.map((k) => `| ${k} | \`schemas/${schemaFileName(k)}\` |`),
    '',
    '## Paths',
    '',
    'Fields of type *path* are resolved when the manifests are loaded:',
    '',
    '- an absolute path is used as is;',
    '- `~` and `~/...` expand to the home directory of the user running the controller (`~user/` is not',
    '  supported);',
    '- anything else is **relative to the directory of the manifest file** that contains it, not to the',
    '  current directory, so a manifests repository can be checked out anywhere.',
    '',
    'The resolved fields are: `Account.spec.configDir`, `sharedStateDir`, `activeLink`;',
    '`Project.spec.path`; `Session.spec.workdir`, `worktree.path`; the `file` of every [secret reference](#secret-references);',
    'and `Session.spec.command[0]` when it starts with `./` or `../` (a bare command name such as `claude`',
    'is looked up in `PATH`). `Project.spec.queueDir` is relative to the project\'s `path`; an absolute',
    '`queueDir` is used as it is (the queue then lives outside the project; `~` is not expanded there).',
    'Validation never checks that a path exists: a missing directory is a condition on the object',
    '(see `claude-failover describe`), so the same manifests validate in CI and on a fresh machine.',
    '',
    '## Durations',
    '',
    'A duration is a string of one or more `<integer><unit>` parts with the units `ms`, `s`, `m`, `h`,',
    '`d`: `500ms`, `90s`, `5m`, `2h`, `7d`, `1h30m`. A bare number, a fraction (`1.5h`) or a space is an',
    'error (`CF_MANIFEST_DURATION`).',
    '',
    '## Secret references',
    '',
    'Secrets (API keys, bot tokens, webhook signing secrets) are never written in a manifest. A field of',
    'type *secret reference* holds exactly one of:',
    '',
    '| Form | Meaning |',
    '| --- | --- |',
    `| \`{env: NAME}\` | ${cell(describe(secretEnv))} |`,
    `| \`{file: PATH}\` | ${cell(describe(secretFile))} The path follows the [path rules](#paths). |`,
    '',
    '```yaml',
    'apiKey:',
    '  env: CF_JOBS_API_KEY            # set in the controller\'s environment (e.g. systemd EnvironmentFile=)',
    'botToken:',
    '  file: ~/.config/claude-failover/telegram-token   # chmod 600',
    '```',
    '',
    'A value written inline (`apiKey: sk-...`) is rejected. The secret is read when it is needed, so a',
    'rotated file or a changed environment is picked up without touching the manifests; a missing',
    'variable or file is a condition on the object, not a validation error. Secret values never appear',
    'in logs, plans or events.',
    '',
    '## Validation',
    '',
    '`claude-failover validate -f PATH...` checks the manifests alone and prints every problem as',
    '`FILE:LINE:COL: message` (`-o json` for data); exit code 0 when valid, 1 otherwise. Besides each',
    'object\'s schema (the tables below) it checks the set as a whole:',
    '',
    '- names are unique per kind (`CF_MANIFEST_DUPLICATE`);',
    '- references resolve: `Session.spec.project`, `Session.spec.account`, `Project.spec.delegationPolicy`,',
    '  `Notifier.spec.for` (`CF_MANIFEST_DANGLING_REF`);',
    '- no two Accounts share a `configDir` (`CF_MANIFEST_CONFIGDIR_CONFLICT`), and all Accounts that set',
    '  `activeLink` set the same one;',
    '- `DelegationPolicy.spec.defaultProvider` is one of its `providers`;',
    '- a Notifier of `type: telegram` has a `telegram` block, one of `type: webhook` a `webhook` block;',
    '- a Session sets `workdir` or `worktree`, not both; no two Sessions share a worktree path or (in one',
    '  Project) a worktree branch, and no worktree path is the project checkout itself',
    '  (`CF_MANIFEST_WORKTREE_CONFLICT`).',
    '',
    '`claude-failover run` applies a changed set only when all of it is valid; otherwise the last good set',
    'stays in force and the problems are logged and recorded as a `ManifestsRejected` event.',
  );

  for (const kind of KINDS) {
    const spec = (jsonSchemaFor(kind) as JsonSchema).properties?.spec ?? {};
    p('', `## ${kind}`, '', KIND_INTRO[kind], '', '```yaml', `# yaml-language-server: $schema=../schemas/${schemaFileName(kind)}`, KIND_EXAMPLES[kind].trimEnd(), '```', '');
    p(table(fieldsOf(spec, 'spec')));
    const notes = KIND_NOTES[kind];
    if (notes) p('', ...notes);
  }
  return `${out.join('\n')}\n`;
}
