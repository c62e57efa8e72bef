/**
 * `claude-failover account add|login|check`: onboarding accounts without hand-made config dirs.
 *
 * - `add NAME` creates the account's CLAUDE_CONFIG_DIR (mode 0700), links its shared dirs to the
 *   pool's shared store, pre-seeds onboarding and folder trust (as the Session controller does at
 *   launch) and appends the Account manifest; `--dry-run` prints all of it and writes nothing.
 * - `login NAME` (account-login.ts) runs the real CLI's login in a tmux window under that config dir
 *   and waits until the CLI has written the credentials.
 * - `link NAME [--adopt]` (account-link.ts) links the shared dirs, adopting Go-era per-session dirs.
 * - `check` reports each account's credentials (state, expiry; never the tokens), last recorded
 *   usage, shared-state links, and whether it can take the pool.
 *
 * Nothing here writes or reads out a token: `.credentials.json` is written by the CLI's own login.
 */
import { chmod, lstat, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { AnyObject, ManifestObject } from '../../api/objects.js';
import { formatDiagnostic } from '../../api/objects.js';
import { API_VERSION, DEFAULT_SHARED_DIRS } from '../../api/schemas.js';
import { closest } from '../../api/suggest.js';
import { loadManifests } from '../../adapters/manifest-files.js';
import { ensureSymlink, inspectPath, mergeJsonFile } from '../../adapters/fs-effects.js';
import { writeFileAtomic } from '../../adapters/atomic-fs.js';
import { readCredentials, CREDENTIALS_FILE } from '../../adapters/quota/credentials.js';
import { UsageQuotaPort } from '../../adapters/quota/quota-port.js';
import { FileStateStore } from '../../adapters/state-store.js';
import { claudeJsonPath, userSettingsPath } from '../../core/claude-paths.js';
import type { StatusMap } from '../../core/controller.js';
import type { PathInfo } from '../../core/ports.js';
import { ADOPTABLE_DIRS, linkState } from '../../core/shared-state.js';
import { accountStatus, type AccountStatus } from '../../core/status.js';
import { CfError, UsageError } from '../../core/errors.js';
import { STATUS_RECORD } from '../../runtime/manager.js';
import { age, renderTable, until } from '../../render/table.js';
import { COMMON, oneOf, parse, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover account add NAME [--priority N] [--config-dir DIR] [--shared-state-dir DIR] -f PATH [--dry-run]
       claude-failover account login NAME -f PATH [--tmux-socket NAME] [--timeout 15m] [--no-attach]
       claude-failover account check [-f PATH] [--state-dir DIR] [-o table|json]
       claude-failover account link (NAME... | --all) [--adopt] [--dry-run] -f PATH

Onboards Claude subscription accounts:
  add     creates the account's config dir (CLAUDE_CONFIG_DIR, mode 0700) with its shared dirs
          linked to the pool's shared store and onboarding/folder trust pre-seeded, and appends
          the Account manifest to your manifests (--dry-run: prints all of it, writes nothing)
  login   opens the real CLI's login in a tmux window under that config dir and waits until the
          CLI has stored the credentials (claude-failover never writes or prints tokens)
  check   each account's credentials (state, expiry), last recorded usage, shared-state links,
          and whether it can take the pool
  link    links an account's shared dirs to the shared store; --adopt first moves the files of
          real todos/, shell-snapshots/, plans/, tasks/ directories (e.g. Go-era homes) into it

Run \`claude-failover account <subcommand> --help\` for the options.

Examples:
  claude-failover account add backup2 --priority 40 -f manifests/ --dry-run
  claude-failover account add backup2 --priority 40 -f manifests/
  claude-failover account login backup2 -f manifests/
  claude-failover account check -f manifests/
  claude-failover account link --all --adopt -f manifests/
`;

const SUBCOMMANDS = ['add', 'login', 'check', 'link'] as const;

export async function accountCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(HELP);
    return sub === undefined ? 1 : 0;
  }
  switch (sub) {
    case 'add':
      return accountAdd(rest, io);
    case 'login':
      return (await import('./account-login.js')).accountLogin(rest, io);
    case 'check':
      return accountCheck(rest, io);
    case 'link':
      return (await import('./account-link.js')).accountLinkCommand(rest, io);
    default: {
      const hint = closest(sub, SUBCOMMANDS);
      throw new UsageError(`unknown subcommand "${sub}"${hint ? ` (did you mean "${hint}"?)` : ''}; use ${SUBCOMMANDS.join(', ')}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A path as a person writes it in a manifest: `~/…` under the home directory, else absolute. */
export function displayPath(p: string, home: string): string {
  if (p === home) return '~';
  const rel = relative(home, p);
  return rel !== '' && !rel.startsWith('..') && !rel.startsWith('/') ? `~/${rel}` : p;
}

/** `~`, `~/x`, relative (to `cwd`) or absolute → absolute. */
export function expandPath(p: string, cwd: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return resolve(cwd, p);
}

export interface LoadedSet {
  files: string[];
  objects: AnyObject[];
  accounts: ManifestObject<'Account'>[];
}

/** Loads the manifest set; invalid manifests are an error (their diagnostics are printed). */
export async function loadSet(files: string[], io: CliIO): Promise<LoadedSet> {
  const r = await loadManifests(files, { displayBase: io.cwd, gitRevision: false });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) io.stderr.write(`${formatDiagnostic(d)}\n`);
    throw new CfError('CF_ERR_MANIFEST_INVALID', `${errors.length} problem(s) in the manifests (${files.join(', ')}); fix them first (claude-failover validate -f ...)`);
  }
  const accounts = r.objects.filter((o): o is ManifestObject<'Account'> => o.kind === 'Account');
  return { files: r.files, objects: r.objects, accounts };
}

function manifestFiles(values: { filename?: string[] }, io: CliIO): string[] {
  if (values.filename && values.filename.length > 0) return values.filename;
  return io.env.CLAUDE_FAILOVER_MANIFESTS ? io.env.CLAUDE_FAILOVER_MANIFESTS.split(':').filter(Boolean) : [];
}

/** The account named `name` in the set, or a usage error that names the ones there are. */
export function findAccount(set: LoadedSet, name: string): ManifestObject<'Account'> {
  const a = set.accounts.find((x) => x.metadata.name === name);
  if (a) return a;
  const hint = closest(name, set.accounts.map((x) => x.metadata.name));
  throw new UsageError(`no Account "${name}" in the manifests${hint ? ` (did you mean "${hint}"?)` : ''}; accounts: ${set.accounts.map((x) => x.metadata.name).join(', ') || 'none'} (add one with \`claude-failover account add ${name} -f ...\`)`);
}

function modeOf(m: number): string {
  return `0${(m & 0o777).toString(8)}`;
}

// ---------------------------------------------------------------------------------------------
// account add

const ADD_HELP = `Usage: claude-failover account add NAME [--priority N] [--config-dir DIR] [--shared-state-dir DIR] -f PATH [--dry-run]

Adds an account to the pool:
  1. creates its config dir (the account's CLAUDE_CONFIG_DIR), mode 0700; an existing one is
     kept (its mode tightened to 0700), with any credentials in it;
  2. links its shared dirs (${DEFAULT_SHARED_DIRS.join(', ')}) to the shared store, so
     conversations resume under any account; an existing real directory is never replaced (it
     is reported: move its contents into the store, see docs/migrating.md);
  3. pre-seeds .claude.json (onboarding done, trust for every project folder of the manifests)
     and settings.json (skipDangerousModePermissionPrompt), files mode 0600, merged, never clobbered;
  4. appends the Account manifest to the manifests: to the file that declares the other
     accounts, else to account-NAME.yaml in the -f directory; the set is validated after.
It never creates or touches .credentials.json: log the account in with \`account login NAME\`.

Options:
  -f, --filename PATH         The manifests to add the account to (file or directory; or
                              CLAUDE_FAILOVER_MANIFESTS). Optional with --dry-run.
      --priority N            Lower is preferred (default: 10 above the last account's)
      --config-dir DIR        Default: beside the other accounts' config dirs, else
                              ~/.claude-accounts/NAME
      --shared-state-dir DIR  Default: the other accounts' store, else <config dir>/../shared
      --dry-run               Print what would be done and the manifest; write nothing

Exit codes: 0 done (or planned), 1 error (bad name, name or config dir taken, invalid manifests).

Examples:
  claude-failover account add backup2 -f manifests/ --dry-run
  claude-failover account add backup2 --priority 40 -f manifests/
`;

export interface AccountDefaultsInput {
  name: string;
  home: string;
  cwd: string;
  priority?: string;
  configDir?: string;
  sharedStateDir?: string;
  existing: { name: string; configDir: string; priority: number; sharedStateDir?: string }[];
}

export interface AccountDefaults {
  configDir: string;
  sharedStateDir: string;
  priority: number;
}

/** The new account's config dir, shared store and priority from flags and the other accounts. Pure. */
export function accountDefaults(i: AccountDefaultsInput): AccountDefaults {
  if (!DNS1123_LABEL.test(i.name) || i.name.length > 63) throw new UsageError(`account name "${i.name}" must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters`);
  if (i.existing.some((a) => a.name === i.name)) throw new UsageError(`an Account "${i.name}" is already declared; pick another name (or log it in: claude-failover account login ${i.name})`);
  let priority: number;
  if (i.priority !== undefined) {
    priority = Number(i.priority);
    if (!Number.isInteger(priority)) throw new UsageError(`--priority must be a whole number (got ${JSON.stringify(i.priority)})`);
  } else {
    priority = (i.existing.length > 0 ? Math.max(...i.existing.map((a) => a.priority)) : 0) + 10;
  }
  const parents = [...new Set(i.existing.map((a) => dirname(a.configDir)))];
  const configDir = i.configDir !== undefined ? expandPath(i.configDir, i.cwd, i.home) : parents.length === 1 ? join(parents[0] as string, i.name) : join(i.home, '.claude-accounts', i.name);
  const taken = i.existing.find((a) => a.configDir === configDir);
  if (taken) throw new UsageError(`${configDir} is already the config dir of Account "${taken.name}"; each account needs its own (--config-dir)`);
  const stores = [...new Set(i.existing.flatMap((a) => (a.sharedStateDir ? [a.sharedStateDir] : [])))];
  const sharedStateDir = i.sharedStateDir !== undefined ? expandPath(i.sharedStateDir, i.cwd, i.home) : stores.length === 1 ? (stores[0] as string) : join(dirname(configDir), 'shared');
  if (sharedStateDir === configDir || sharedStateDir.startsWith(`${configDir}/`)) throw new UsageError(`the shared store ${sharedStateDir} must be outside the account's config dir ${configDir}`);
  return { configDir, sharedStateDir, priority };
}

/** The Account manifest document (YAML, with a leading comment). Pure. */
export function accountManifest(name: string, d: AccountDefaults, home: string, now: Date): string {
  const doc = {
    apiVersion: API_VERSION,
    kind: 'Account',
    metadata: { name },
    spec: { configDir: displayPath(d.configDir, home), priority: d.priority, sharedStateDir: displayPath(d.sharedStateDir, home) },
  };
  return `# Added by \`claude-failover account add\` on ${now.toISOString().slice(0, 10)}; log it in with \`claude-failover account login ${name}\`.\n${stringify(doc)}`;
}

/** One thing `account add` does (or would do); `apply` is absent for notes and problems. */
export interface AddStep {
  /** `+` create, `~` change, `=` already so, `!` left alone (needs a person). */
  op: '+' | '~' | '=' | '!';
  text: string;
  apply?: () => Promise<void>;
}

/** Where the manifest goes: the file declaring the other accounts, else account-NAME.yaml in the -f directory (or the -f file). */
export async function manifestTarget(files: string[], set: LoadedSet | undefined, name: string, cwd: string): Promise<string> {
  const last = set?.accounts[set.accounts.length - 1];
  if (last) return resolve(cwd, last.source.file);
  const first = resolve(cwd, files[0] as string);
  const st = await stat(first).catch(() => undefined);
  if (st?.isDirectory()) return join(first, `account-${name}.yaml`);
  return first;
}

async function planConfigDir(dir: string): Promise<AddStep[]> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return [{ op: '+', text: `directory ${dir} (mode 0700)`, apply: async () => { await mkdir(dir, { recursive: true, mode: 0o700 }); await chmod(dir, 0o700); } }];
  if (!info.isDirectory()) throw new CfError('CF_ERR_ACCOUNT_DIR', `${dir} exists and is not a directory; pick another --config-dir`);
  const steps: AddStep[] = [];
  if ((info.mode & 0o077) !== 0) steps.push({ op: '~', text: `mode of ${dir}: ${modeOf(info.mode)} -> 0700`, apply: () => chmod(dir, 0o700) });
  else steps.push({ op: '=', text: `directory ${dir} exists (mode ${modeOf(info.mode)})` });
  const creds = await lstat(join(dir, CREDENTIALS_FILE)).catch(() => undefined);
  if (creds) steps.push({ op: '=', text: `${join(dir, CREDENTIALS_FILE)} exists: the account is logged in already (kept as it is)` });
  return steps;
}

async function planLinks(name: string, configDir: string, store: string): Promise<AddStep[]> {
  const steps: AddStep[] = [];
  for (const d of DEFAULT_SHARED_DIRS) {
    const target = join(store, d);
    const link = join(configDir, d);
    const t = await inspectPath(target);
    if (t.kind === 'missing') steps.push({ op: '+', text: `directory ${target} (mode 0700)`, apply: async () => { await mkdir(target, { recursive: true, mode: 0o700 }); } });
    else if (t.kind !== 'directory' && t.kind !== 'symlink') {
      steps.push({ op: '!', text: `${target} is a ${t.kind}, not a directory: the link ${link} is not made; fix the shared store` });
      continue;
    }
    const l = await inspectPath(link);
    if (l.kind === 'missing') steps.push({ op: '+', text: `link ${link} -> ${target}`, apply: () => ensureSymlink(link, target, false) });
    else if (l.kind === 'symlink' && resolve(dirname(link), l.target ?? '') === target) steps.push({ op: '=', text: `link ${link} -> ${target}` });
    else if (l.kind === 'symlink') steps.push({ op: '!', text: `${link} links to ${l.target}, not ${target}: left alone (the account stays SharedStateLinked=False until it points at the store)` });
    else steps.push({ op: '!', text: `${link} is a real ${l.kind}: left alone; ${l.kind === 'directory' && ADOPTABLE_DIRS.includes(d) ? `adopt it (moves its files into ${target}, never overwriting, then links): claude-failover account link ${name} --adopt` : `move its contents into ${target} by hand and remove it (docs/migrating.md): it is never merged automatically`}` });
  }
  return steps;
}

/** The folders agents of this set work in (projects and session workdirs): trusted up front. */
export function trustedFolders(objects: readonly AnyObject[]): string[] {
  const out = new Set<string>();
  for (const o of objects) {
    if (o.kind === 'Project') out.add(o.spec.path);
    if (o.kind === 'Session' && o.spec.workdir) out.add(o.spec.workdir);
  }
  return [...out].sort();
}

export async function accountAdd(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; priority?: string; 'config-dir'?: string; 'shared-state-dir'?: string; 'dry-run'?: boolean }>(args, {
    filename: COMMON.filename,
    priority: { type: 'string' },
    'config-dir': { type: 'string' },
    'shared-state-dir': { type: 'string' },
    'dry-run': { type: 'boolean' },
  }, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(ADD_HELP);
    return 0;
  }
  const [name, ...extra] = positionals;
  if (!name) throw new UsageError('account add needs the account NAME');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const dryRun = values['dry-run'] ?? false;
  const files = manifestFiles(values, io);
  if (files.length === 0 && !dryRun) throw new UsageError('pass -f with the manifests to add the account to (or --dry-run to see what would be done)');
  const home = io.env.HOME || homedir();
  const set = files.length > 0 ? await loadSet(files, io) : undefined;
  const d = accountDefaults({
    name, home, cwd: io.cwd,
    ...(values.priority !== undefined ? { priority: values.priority } : {}),
    ...(values['config-dir'] !== undefined ? { configDir: values['config-dir'] } : {}),
    ...(values['shared-state-dir'] !== undefined ? { sharedStateDir: values['shared-state-dir'] } : {}),
    existing: (set?.accounts ?? []).map((a) => ({ name: a.metadata.name, configDir: a.spec.configDir, priority: a.spec.priority, ...(a.spec.sharedStateDir ? { sharedStateDir: a.spec.sharedStateDir } : {}) })),
  });
  const manifest = accountManifest(name, d, home, new Date());
  const folders = trustedFolders(set?.objects ?? []);
  const steps: AddStep[] = [...(await planConfigDir(d.configDir)), ...(await planLinks(name, d.configDir, d.sharedStateDir))];
  const patch: Record<string, unknown> = { hasCompletedOnboarding: true, ...(folders.length > 0 ? { projects: Object.fromEntries(folders.map((f) => [f, { hasTrustDialogAccepted: true }])) } : {}) };
  steps.push({ op: '~', text: `${claudeJsonPath(d.configDir)}: onboarding done${folders.length > 0 ? `, trust ${folders.length} project folder(s): ${folders.join(', ')}` : ''} (merged, mode 0600)`, apply: () => mergeJsonFile(claudeJsonPath(d.configDir), patch, 0o600) });
  steps.push({ op: '~', text: `${userSettingsPath(d.configDir)}: skipDangerousModePermissionPrompt (merged, mode 0600)`, apply: () => mergeJsonFile(userSettingsPath(d.configDir), { skipDangerousModePermissionPrompt: true }, 0o600) });
  const target = files.length > 0 ? await manifestTarget(files, set, name, io.cwd) : undefined;
  if (target) steps.push({ op: '+', text: `Account/${name} in ${target}`, apply: () => appendManifest(target, manifest, files, io) });

  io.stdout.write(`account add ${name}${dryRun ? ' (dry-run: nothing is written)' : ''}:\n`);
  for (const s of steps) io.stdout.write(`  ${s.op} ${s.text}\n`);
  io.stdout.write(`\nThe manifest${target ? '' : ' (no -f given: add it to your manifests yourself)'}:\n\n${manifest}\n`);
  if (!dryRun) {
    for (const s of steps) await s.apply?.();
  }
  const problems = steps.filter((s) => s.op === '!').length;
  const fileArgs = files.map((f) => `-f ${f}`).join(' ') || '-f <manifests>';
  io.stdout.write(`${dryRun ? 'Nothing was written. Without --dry-run, then' : 'Done. Next'}: log the account in (the CLI's own login, in a tmux window):\n  claude-failover account login ${name} ${fileArgs}\n`);
  if (problems > 0) io.stdout.write(`${problems} item(s) marked "!" need you: until then the account is not a failover target (claude-failover account check ${fileArgs}).\n`);
  return 0;
}

/** Appends the document, then validates the whole set; an invalid result puts the file back. */
async function appendManifest(file: string, manifest: string, files: string[], io: CliIO): Promise<void> {
  const before = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  const mode = before === undefined ? 0o644 : (await stat(file)).mode & 0o777;
  const text = before === undefined || before.trim() === '' ? manifest : `${before}${before.endsWith('\n') ? '' : '\n'}---\n${manifest}`;
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, text, { mode });
  const r = await loadManifests(files, { displayBase: io.cwd, gitRevision: false });
  const errors = r.diagnostics.filter((x) => x.severity === 'error');
  if (errors.length > 0) {
    if (before === undefined) await writeFileAtomic(file, '', { mode });
    else await writeFileAtomic(file, before, { mode });
    throw new CfError('CF_ERR_MANIFEST_INVALID', `the manifests would be invalid with the new account (${errors.map(formatDiagnostic).join('; ')}); ${file} was left as it was`);
  }
}

// ---------------------------------------------------------------------------------------------
// account check

const CHECK_HELP = `Usage: claude-failover account check [-f PATH...] [--state-dir DIR] [-o table|json]

For each Account of the manifests: its credentials (missing, ok, expired, malformed; expiry,
subscription, whether a refresh token is there — never a token itself), the last usage the
controller recorded (state dir), its shared-state links, and whether it can take the pool now,
with the reason when not. Reads only; works while the controller runs.

Columns: NAME, PRIORITY, CREDENTIALS, EXPIRES, 5H%, 7D%, USAGE AGE, LINKS, CAN TAKE POOL.

Options:
  -f, --filename PATH   Manifests (or CLAUDE_FAILOVER_MANIFESTS)
      --state-dir DIR   The controller's state dir, for the last usage (default as for run)
  -o, --output FORMAT   table (default) or json

Exit codes: 0 every account can take the pool, 2 some cannot (see the reasons), 1 error.

Examples:
  claude-failover account check -f manifests/
  claude-failover account check -f manifests/ -o json
`;

export type CredentialState = 'ok' | 'missing' | 'expired' | 'malformed' | 'unreadable';

export interface UsageWindowView {
  utilization?: number;
  resetsAt?: string;
  observedAt?: string;
}

export interface AccountCheckInput {
  name: string;
  priority: number;
  suspended: boolean;
  thresholds: { fiveHour: number; weekly: number };
  /** What the controller's own credential check says (the eligibility rule it applies). */
  usable: boolean;
  credentials: { state: CredentialState; message: string; expiresAt?: number; subscriptionType?: string; refreshToken?: boolean; fileMode?: number };
  usage: { fiveHour?: UsageWindowView; sevenDay?: UsageWindowView };
  links: { state: 'linked' | 'unlinked' | 'diverged' | 'not-configured'; detail: string[] };
}

export interface AccountCheckResult {
  name: string;
  priority: number;
  credentials: AccountCheckInput['credentials'] & { expiresAtIso?: string; warnings: string[] };
  usage: AccountCheckInput['usage'];
  links: AccountCheckInput['links'];
  canTakePool: boolean;
  reasons: string[];
}

function windowOver(w: UsageWindowView | undefined, threshold: number, now: number): boolean {
  if (w?.utilization === undefined) return false;
  if (w.resetsAt && Date.parse(w.resetsAt) <= now) return false;
  return w.utilization >= threshold;
}

/** Whether the account can take the pool now, and why (not). Pure. */
export function judgeAccount(i: AccountCheckInput, now: number): AccountCheckResult {
  const reasons: string[] = [];
  const warnings: string[] = [];
  if (i.credentials.fileMode !== undefined && (i.credentials.fileMode & 0o077) !== 0) warnings.push(`${CREDENTIALS_FILE} has mode ${modeOf(i.credentials.fileMode)}; it should be 0600 (chmod 600)`);
  if (i.credentials.state === 'ok' && i.credentials.expiresAt !== undefined && i.credentials.expiresAt <= now) warnings.push('access token expired; a refresh token is there, so claude refreshes it at launch: the account stays a failover target (usage unknown until then)');
  if (i.suspended) reasons.push('suspended in its manifest');
  if (!i.usable) {
    reasons.push(i.credentials.state === 'missing'
      ? `not logged in: claude-failover account login ${i.name}`
      : i.credentials.state === 'expired'
        ? `access token expired; log in again: claude-failover account login ${i.name}`
        : `credentials ${i.credentials.state}: ${i.credentials.message}`);
  }
  if (i.links.state === 'diverged') reasons.push(`shared state diverged: ${i.links.detail.join('; ')}`);
  if (windowOver(i.usage.fiveHour, i.thresholds.fiveHour, now)) reasons.push(`5-hour usage ${i.usage.fiveHour?.utilization}% >= its threshold ${i.thresholds.fiveHour}%${i.usage.fiveHour?.resetsAt ? ` until ${i.usage.fiveHour.resetsAt}` : ''}`);
  if (windowOver(i.usage.sevenDay, i.thresholds.weekly, now)) reasons.push(`weekly usage ${i.usage.sevenDay?.utilization}% >= its threshold ${i.thresholds.weekly}%${i.usage.sevenDay?.resetsAt ? ` until ${i.usage.sevenDay.resetsAt}` : ''}`);
  return {
    name: i.name,
    priority: i.priority,
    credentials: { ...i.credentials, ...(i.credentials.expiresAt !== undefined ? { expiresAtIso: new Date(i.credentials.expiresAt).toISOString() } : {}), warnings },
    usage: i.usage,
    links: i.links,
    canTakePool: reasons.length === 0,
    reasons,
  };
}

async function observeAccount(a: ManifestObject<'Account'>, status: StatusMap, now: number): Promise<AccountCheckInput> {
  const dir = a.spec.configDir;
  const raw = await readCredentials(dir, { now });
  const usable = (await new UsageQuotaPort().readCredentials(dir, now)).ok;
  let credentials: AccountCheckInput['credentials'];
  if (raw.ok) {
    // An expired access token with a refresh token is a usable login: claude refreshes it at launch.
    const message = raw.credentials.accessTokenExpired ? 'access token expired; claude refreshes it at launch with the refresh token (usage unknown until then)' : 'present';
    credentials = { state: 'ok', message, refreshToken: raw.credentials.refreshable, ...(raw.credentials.expiresAt !== undefined ? { expiresAt: raw.credentials.expiresAt } : {}), ...(raw.credentials.subscriptionType ? { subscriptionType: raw.credentials.subscriptionType } : {}) };
  } else {
    const p = raw.problem;
    const state: CredentialState = p.reason === 'CredentialsMissing' ? 'missing' : p.reason === 'CredentialsExpired' ? 'expired' : p.reason === 'CredentialsMalformed' ? 'malformed' : 'unreadable';
    credentials = { state, message: p.message, ...(p.expiresAt !== undefined ? { expiresAt: p.expiresAt } : {}), ...(p.subscriptionType ? { subscriptionType: p.subscriptionType } : {}), ...(p.reason === 'CredentialsExpired' ? { refreshToken: false } : {}) };
  }
  const st = await lstat(join(dir, CREDENTIALS_FILE)).catch(() => undefined);
  if (st) credentials.fileMode = st.mode & 0o777;
  const recorded: Partial<AccountStatus['usage']> = accountStatus(status, a.metadata.name)?.usage ?? {};
  const usage: AccountCheckInput['usage'] = {};
  for (const k of ['fiveHour', 'sevenDay'] as const) {
    const w = recorded[k];
    if (w && typeof w === 'object') usage[k] = { ...(typeof w.utilization === 'number' ? { utilization: w.utilization } : {}), ...(typeof w.resetsAt === 'string' ? { resetsAt: w.resetsAt } : {}), ...(typeof w.observedAt === 'string' ? { observedAt: w.observedAt } : {}) };
  }
  let links: AccountCheckInput['links'];
  if (!a.spec.sharedStateDir) links = { state: 'not-configured', detail: ['spec.sharedStateDir is not set'] };
  else {
    // The same check as the Account controller's (core/shared-state.ts).
    const seen: Record<string, PathInfo> = {};
    for (const d of a.spec.sharedDirs) seen[d] = await inspectPath(join(dir, d));
    const ls = linkState(a.metadata.name, dir, a.spec.sharedStateDir, a.spec.sharedDirs, seen);
    const detail = [...ls.diverged, ...(ls.missing.length > 0 ? [`${ls.missing.length} link(s) not made yet (the controller makes them)`] : [])];
    links = { state: !ls.linked ? 'diverged' : ls.missing.length > 0 ? 'unlinked' : 'linked', detail };
  }
  return {
    name: a.metadata.name,
    priority: a.spec.priority,
    suspended: a.spec.suspended,
    thresholds: { fiveHour: a.spec.quota.fiveHourThreshold, weekly: a.spec.quota.weeklyThreshold },
    usable,
    credentials,
    usage,
    links,
  };
}

function pct(w: UsageWindowView | undefined): string {
  return w?.utilization === undefined ? '?' : `${Math.round(w.utilization * 10) / 10}`;
}

export async function accountCheck(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; filename?: string[]; 'state-dir'?: string; output?: string }>(args, {
    filename: COMMON.filename,
    'state-dir': COMMON['state-dir'],
    output: { type: 'string', short: 'o' },
  });
  if (values.help) {
    io.stdout.write(CHECK_HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['table', 'json'] as const, 'table');
  const files = manifestFiles(values, io);
  if (files.length === 0) throw new UsageError('no manifests given: pass -f PATH (or set CLAUDE_FAILOVER_MANIFESTS)');
  const set = await loadSet(files, io);
  if (set.accounts.length === 0) throw new UsageError(`no Account in ${files.join(', ')}; add one with \`claude-failover account add NAME -f ...\``);
  const stateDir = stateDirOf(values['state-dir'], io);
  const status = (await new FileStateStore(stateDir, { readOnly: true }).read<StatusMap>(STATUS_RECORD).catch(() => undefined)) ?? {};
  const now = Date.now();
  const results: AccountCheckResult[] = [];
  for (const a of [...set.accounts].sort((x, y) => x.spec.priority - y.spec.priority || x.metadata.name.localeCompare(y.metadata.name))) {
    results.push(judgeAccount(await observeAccount(a, status, now), now));
  }
  const code = results.every((r) => r.canTakePool) ? 0 : 2;
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify({ stateDir, accounts: results }, null, 2)}\n`);
    return code;
  }
  io.stdout.write(renderTable(['NAME', 'PRIORITY', 'CREDENTIALS', 'EXPIRES', '5H%', '7D%', 'USAGE AGE', 'LINKS', 'CAN TAKE POOL'], results.map((r) => {
    const observed = [r.usage.fiveHour?.observedAt, r.usage.sevenDay?.observedAt].filter((x): x is string => !!x).sort().at(-1);
    const cred = r.credentials.state === 'ok' || r.credentials.state === 'expired' ? `${r.credentials.state}${r.credentials.subscriptionType ? ` (${r.credentials.subscriptionType})` : ''}` : r.credentials.state;
    return [r.name, String(r.priority), cred, r.credentials.expiresAtIso ? until(r.credentials.expiresAtIso, now) : '-', pct(r.usage.fiveHour), pct(r.usage.sevenDay), observed ? age(observed, now) : '<none>', r.links.state, r.canTakePool ? 'yes' : 'no'];
  })));
  const notes = results.flatMap((r) => [...r.reasons.map((x) => `${r.name}: ${x}`), ...r.credentials.warnings.map((x) => `${r.name}: warning: ${x}`), ...(r.links.state === 'unlinked' ? r.links.detail.map((x) => `${r.name}: ${x}`) : [])]);
  if (notes.length > 0) io.stdout.write(`\n${notes.join('\n')}\n`);
  if (!Object.keys(status).some((k) => k.startsWith('Account/'))) io.stdout.write(`\n(no usage recorded in ${stateDir}: the controller has not run there yet; pass --state-dir if it uses another)\n`);
  return code;
}
