/**
 * A Go-era installation, as the Go system left it on a host at the cut-over (for `migrate --from-go`):
 * - two account homes (`~/.claude-accounts/main`, `backup`) with credentials and the real
 *   `todos/`, `shell-snapshots/` (and, on main, `projects/`) directories its agents wrote into;
 * - a project `web` whose `.agent-queue/` has only the directories the Go system used, tasks queued
 *   and in flight, and the Go system's markers:
 *     inbox/fix-login.md + inbox/fix-login.md.delegated   JSON sidecar naming its job
 *     inbox/summarize.md.delegated                         the task renamed (job known only by task id)
 *     inbox/lost.md.delegated                              the task renamed, no job anywhere
 *     dispatched/add-tests.md + add-tests.md.dispatched    "key: value" sidecar naming session ccl-0
 *     dispatched/refactor.md + refactor.dispatched         a bare session name the manifests do not declare
 *     dispatched/mystery.md.dispatched                     the task renamed (session unknown)
 *     old.md.delegated (queue root) + done/old.md          a stale marker of a finished task
 *     inbox/plain.md                                       a plain queued task (no marker)
 *   and its old status.json;
 * - the Go system's own hook in the project's `.claude/hooks/`, registered in `.claude/settings.json`;
 * - manifests for the new system (accounts, the project, sessions ccl-0 and ccl-1; no DelegationPolicy:
 *   the Go system delegated because SECUTOOLS_API_KEY was set).
 * Jobs are created at a fake job API by the caller, the way the Go system submitted them.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface GoEraOptions {
  /** Job ids the Go system got for fix-login (named in its marker). */
  fixLoginJob: string;
  /** Extra spec lines for each Account (e.g. the usage endpoint of a test). */
  accountExtra?: string;
  /** argv of the sessions (the simulator in tests). */
  command: string[];
  /** Environment of the sessions. */
  sessionEnv?: Record<string, string>;
}

export interface GoEra {
  root: string;
  home: string;
  manifests: string;
  project: string;
  queue: string;
  accounts: { main: string; backup: string };
  shared: string;
}

/** A file tree: path → content (a string), written under `base`, with the mtime `ageMs` ago. */
export function writeTree(base: string, tree: Record<string, string>, ageMs = 60 * 60_000): void {
  const t = (Date.now() - ageMs) / 1000;
  for (const [rel, content] of Object.entries(tree)) {
    const p = join(base, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content, { mode: rel.endsWith('.credentials.json') ? 0o600 : 0o644 });
    utimesSync(p, t, t);
  }
}

const creds = (token: string) => JSON.stringify({ claudeAiOauth: { accessToken: token, refreshToken: 'r', expiresAt: Date.now() + 7 * 86_400_000, scopes: ['user:inference'], subscriptionType: 'max' } });

export function buildGoEra(root: string, o: GoEraOptions): GoEra {
  const home = join(root, 'home');
  const accounts = { main: join(home, '.claude-accounts', 'main'), backup: join(home, '.claude-accounts', 'backup') };
  const shared = join(home, '.claude-accounts', 'shared');
  const project = join(home, 'src', 'web');
  const queue = join(project, '.agent-queue');
  const submitted = new Date(Date.now() - 30 * 60_000).toISOString();
  writeTree(home, {
    '.claude-accounts/main/.credentials.json': creds('sk-ant-oat01-test-main'),
    '.claude-accounts/main/.claude.json': JSON.stringify({ hasCompletedOnboarding: true }),
    '.claude-accounts/main/todos/7d0c6c1e-agent-7d0c6c1e.json': '[{"content":"write tests","status":"in_progress"}]',
    '.claude-accounts/main/shell-snapshots/snapshot-bash-1718000000000-abc123.sh': 'export PATH=/usr/bin\n',
    '.claude-accounts/main/projects/-home-op-src-web/7d0c6c1e-0000-4000-8000-000000000001.jsonl': '{"type":"user"}\n',
    '.claude-accounts/backup/.credentials.json': creds('sk-ant-oat01-test-backup'),
    '.claude-accounts/backup/todos/9a1b2c3d-agent-9a1b2c3d.json': '[]',
    '.claude-accounts/backup/shell-snapshots/snapshot-bash-1718000000001-def456.sh': 'export PATH=/usr/bin\n',
  });
  writeTree(project, {
    'README.md': '# web\n',
    '.claude/hooks/secutools-notify.sh': '#!/bin/sh\n# Go system: tell secutools a tool ran\nexit 0\n',
    '.claude/settings.json': JSON.stringify({ hooks: { PostToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: '.claude/hooks/secutools-notify.sh' }] }] } }, null, 2),
    '.agent-queue/status.json': JSON.stringify({ sessions: { 'ccl-0': { state: 'working', task: 'add-tests' }, 'ccl-1': { state: 'delegated_to_secutools', task: 'fix-login' } } }),
    '.agent-queue/inbox/plain.md': '# Update the changelog\n\nAdd the last release to CHANGELOG.md.\n',
    '.agent-queue/inbox/fix-login.md': '---\nallow-delegation: true\npreferred_ai: gemini\n---\n# Fix the login test\n\nThe login test fails on CI; find out why.\n',
    '.agent-queue/inbox/fix-login.md.delegated': JSON.stringify({ job_id: o.fixLoginJob, provider: 'gemini', submitted_at: submitted }),
    '.agent-queue/inbox/summarize.md.delegated': '---\nallow_delegation: true\n---\n# Summarize the auth module\n\nFive bullet points.\n',
    '.agent-queue/inbox/lost.md.delegated': '# A task whose job is gone\n\nNobody knows its job.\n',
    '.agent-queue/dispatched/add-tests.md': '# Add tests for the parser\n\nCover the error paths.\n',
    '.agent-queue/dispatched/add-tests.md.dispatched': `session: ccl-0\naccount: main\ndispatched_at: ${submitted}\n`,
    '.agent-queue/dispatched/refactor.md': '# Refactor the router\n\nSplit it in two.\n',
    '.agent-queue/dispatched/refactor.dispatched': 'ccl-9\n',
    '.agent-queue/dispatched/mystery.md.dispatched': '# Rename the config keys\n\nUse snake_case everywhere.\n',
    '.agent-queue/old.md.delegated': 'job-0\n',
    '.agent-queue/done/old.md': '# An old task\n\nDone long ago.\n',
  });
  const manifests = join(root, 'manifests');
  const env = Object.entries(o.sessionEnv ?? {}).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n');
  const session = (name: string) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${name}\nspec:\n  project: web\n  command: ${JSON.stringify(o.command)}\n${env ? `  env:\n${env}\n` : ''}`;
  const account = (name: string, priority: number) => `apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: ${name}\nspec:\n  configDir: ${accounts[name as 'main' | 'backup']}\n  priority: ${priority}\n  sharedStateDir: ${shared}\n${o.accountExtra ?? ''}`;
  writeTree(manifests, {
    'accounts.yaml': [account('main', 10), account('backup', 20)].join('---\n'),
    'projects.yaml': `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: web\nspec:\n  path: ${project}\n`,
    'sessions.yaml': [session('ccl-0'), session('ccl-1')].join('---\n'),
  }, 0);
  return { root, home, manifests, project, queue, accounts, shared };
}
