/** How a session is launched: argv, environment, the per-session settings file. Pure. */
import { posix } from 'node:path';
import type { DesiredState, ManifestObject } from '../api/objects.js';
import type { StatusMap } from '../core/controller.js';
import { claudeJsonPath, userSettingsPath } from '../core/claude-paths.js';
import type { Effect } from '../core/effects.js';
import { shellQuote } from '../core/shell-quote.js';
import { generationOf } from '../api/generation.js';
import { activeAccount } from './accounts-view.js';

/**
 * Variables that break transcripts or failover: never passed to a launched session, even when its
 * `env` declares them. (Nothing else is inherited either: a pane's environment is explicit, see
 * src/adapters/agent-env.ts. tmux's own TMUX and TMUX_PANE are kept, so an agent knows it runs in tmux.)
 */
export const UNSET_ENV = ['CLAUDE_CODE_CHILD_SESSION', 'CLAUDE_CODE_RETRY_WATCHDOG', 'CLAUDECODE'];
/** Hook events the controller registers (activity comes from these). */
export const OBSERVED_HOOK_EVENTS = ['SessionStart', 'UserPromptSubmit', 'Stop', 'StopFailure', 'Notification', 'SessionEnd'] as const;

export interface LaunchContext {
  /** argv that runs this controller's CLI: [node, /abs/dist/cli/main.js]. */
  selfCommand: string[];
  stateDir: string;
  /**
   * Absolute path of the shell observer (hooks/claude-failover-observe), the fast path for the
   * status line and the hooks in FAST_HOOK_EVENTS. Without it every hook runs the CLI.
   */
  observeCommand?: string;
}

/**
 * Hooks whose whole input may be stored as it is: they go through the shell observer (a few ms)
 * instead of a node start-up (~70 ms of CPU). A failover runs SessionEnd, SessionStart and the
 * status line of every agent at once. UserPromptSubmit (its input holds the prompt, of which only
 * the task id is kept) and Stop (newer Claude Code versions add the last assistant message) go
 * through `claude-failover hook event`, which keeps only what the controller needs.
 */
export const FAST_HOOK_EVENTS: ReadonlySet<string> = new Set(['SessionStart', 'StopFailure', 'Notification', 'SessionEnd']);

export interface LaunchSpec {
  cwd: string;
  /** Command without the conversation flags (`--session-id`/`--resume`). */
  baseArgv: string[];
  env: Record<string, string>;
  account: string | undefined;
  configDir: string | undefined;
  settingsPath: string;
  projectPath: string | undefined;
  /** The session's git worktree, when it runs in one (`cwd` is in it). */
  worktree?: { path: string; branch: string };
}

/** Where a session runs when it has a worktree: the directory in it, and the worktree itself. */
export interface WorktreeLaunch {
  cwd: string;
  path: string;
  branch: string;
}

export function sessionStateDir(ctx: LaunchContext, name: string): string {
  return posix.join(ctx.stateDir, 'sessions', name);
}

/** The account a session runs under: its pin, else the pool's active account. */
export function accountFor(session: ManifestObject<'Session'>, desired: DesiredState, prior: StatusMap): ManifestObject<'Account'> | undefined {
  if (session.spec.account) return desired.accounts.find((a) => a.metadata.name === session.spec.account);
  return activeAccount(desired, prior);
}

/** The working directory of a session without a worktree: `workdir`, else the project path. */
export function plainCwd(session: ManifestObject<'Session'>, project: ManifestObject<'Project'> | undefined): string {
  return session.spec.workdir ?? project?.spec.path ?? '/';
}

export function launchSpec(session: ManifestObject<'Session'>, desired: DesiredState, prior: StatusMap, ctx: LaunchContext, resolvedCommand?: string, worktree?: WorktreeLaunch): LaunchSpec {
  const project = desired.projects.find((p) => p.metadata.name === session.spec.project);
  const account = accountFor(session, desired, prior);
  const name = session.metadata.name;
  const settingsPath = posix.join(sessionStateDir(ctx, name), 'settings.json');
  const [cmd, ...rest] = session.spec.command;
  const baseArgv = [resolvedCommand ?? (cmd as string), ...rest, '--settings', settingsPath];
  if (session.spec.model) baseArgv.push('--model', session.spec.model);
  const env: Record<string, string> = { ...session.spec.env };
  if (account) env.CLAUDE_CONFIG_DIR = account.spec.configDir;
  return {
    cwd: worktree?.cwd ?? plainCwd(session, project),
    baseArgv,
    env,
    account: account?.metadata.name,
    configDir: account?.spec.configDir,
    settingsPath,
    projectPath: project?.spec.path,
    ...(worktree ? { worktree: { path: worktree.path, branch: worktree.branch } } : {}),
  };
}

/** What, when changed, requires a relaunch. The conversation flags are not part of it. */
export function launchGeneration(l: LaunchSpec): string {
  return generationOf({ cwd: l.cwd, argv: l.baseArgv, env: l.env });
}

/** The launch as shown in plans and kept in `status.launch`. */
export function launchView(l: LaunchSpec, conversation?: { mode: 'new' | 'resume'; id: string }): Record<string, unknown> {
  return {
    cwd: l.cwd,
    command: l.baseArgv.join(' '),
    account: l.account ?? null,
    env: l.env,
    ...(l.worktree ? { worktree: `${l.worktree.path} (branch ${l.worktree.branch})` } : {}),
    ...(conversation ? { conversation: `${conversation.mode === 'resume' ? '--resume' : '--session-id'} ${conversation.id}` } : {}),
  };
}

export function conversationArgs(mode: 'new' | 'resume', id: string): string[] {
  return mode === 'resume' ? ['--resume', id] : ['--session-id', id];
}

function hookCommand(ctx: LaunchContext, sub: string, name: string, extra: string[] = []): string {
  return [...ctx.selfCommand, 'hook', sub, '--session', name, '--state-dir', ctx.stateDir, ...extra].map(shellQuote).join(' ');
}

/**
 * The `--settings` file of a session: the observer hooks, the status line and (when the guard
 * is deployed) the PreToolUse guard. Settings merge with the user's own; this file only adds.
 */
export function sessionSettings(ctx: LaunchContext, name: string, account: string | undefined, guardHook?: Record<string, unknown>): Record<string, unknown> {
  const hooks: Record<string, unknown[]> = {};
  const dir = sessionStateDir(ctx, name);
  // The account goes into every report: a process being stopped may report after the failover.
  const observe = (...args: string[]) => [ctx.observeCommand as string, ...args].map(shellQuote).join(' ');
  for (const event of OBSERVED_HOOK_EVENTS) {
    const command = ctx.observeCommand && FAST_HOOK_EVENTS.has(event) ? observe('hook', dir, '', account ?? '') : hookCommand(ctx, 'event', name);
    hooks[event] = [{ hooks: [{ type: 'command', command, timeout: 10 }] }];
  }
  if (guardHook) hooks.PreToolUse = [guardHook];
  const label = [name, account].filter(Boolean).join(' · ');
  return {
    hooks,
    statusLine: { type: 'command', command: ctx.observeCommand ? observe('statusline', dir, label, account ?? '') : hookCommand(ctx, 'statusline', name, account ? ['--account', account] : []), padding: 0 },
  };
}

/**
 * Effects that prepare a launch: the settings file, and first-launch dialogs pre-answered in
 * the account's config dir (merged, never clobbering; credentials are never touched).
 */
export function prepareEffects(l: LaunchSpec, settings: Record<string, unknown>): Effect[] {
  const effects: Effect[] = [{ type: 'fs.writeJson', path: l.settingsPath, value: settings, mode: 0o600 }];
  if (l.configDir) {
    effects.push(
      { type: 'fs.mergeJson', path: claudeJsonPath(l.configDir), patch: { hasCompletedOnboarding: true, projects: { [l.cwd]: { hasTrustDialogAccepted: true } } } },
      { type: 'fs.mergeJson', path: userSettingsPath(l.configDir), patch: { skipDangerousModePermissionPrompt: true } },
    );
  }
  return effects;
}
