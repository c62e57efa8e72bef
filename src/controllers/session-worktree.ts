/**
 * The git worktree of a session (`Session.spec.worktree`): what the Session controller observes
 * of it, and the pure decisions: where the agent runs, whether the worktree must be created
 * first, and whether a removed Session's worktree can go. Effects: `git.addWorktree`,
 * `git.removeWorktree` (src/adapters/git.ts).
 */
import { posix } from 'node:path';
import type { WorktreeTarget } from '../api/worktree.js';
import type { OwnedResource } from '../core/controller.js';
import type { GitAddWorktreeEffect, GitRemoveWorktreeEffect } from '../core/effects.js';
import type { GitRepoInfo, WorktreeState } from '../core/ports.js';
import type { WorktreeStatus } from '../core/status.js';

/** What observe() found for a declared session with a worktree. */
export interface WorktreeObserved {
  target: WorktreeTarget;
  /** The project path's repository; undefined when the project path is not in a git checkout. */
  repo?: GitRepoInfo;
  /** What is at `target.path` (undefined when it could not be looked at). */
  at?: WorktreeState;
  /** git could not be run or read (not installed, a broken repository). */
  problem?: string;
}

/** A worktree the controller created for a Session that is no longer declared. */
export interface OrphanWorktreeObserved {
  path: string;
  repo: string;
  at?: WorktreeState;
  /** Uncommitted changes (`git status --porcelain` lines), when it is a worktree. */
  changes: string[];
  problem?: string;
}

/** The worktree as shown in the Session's status (src/core/status.ts). */
export type { WorktreeStatus };

export type WorktreeDecision =
  /** The agent runs in `cwd`; `create` must run before the launch. */
  | { kind: 'ready'; cwd: string; status: WorktreeStatus; create?: GitAddWorktreeEffect }
  /** The worktree cannot be used: the session is not launched. */
  | { kind: 'blocked'; reason: 'WorktreeUnavailable' | 'WorktreeConflict'; message: string };

/** Where the agent of a session with a worktree runs, and what must happen first. Pure. */
export function decideWorktree(o: WorktreeObserved, projectPath: string, prune: boolean): WorktreeDecision {
  const { target } = o;
  if (o.problem !== undefined) return { kind: 'blocked', reason: 'WorktreeUnavailable', message: `cannot use the worktree ${target.path}: ${o.problem}` };
  if (!o.repo) {
    return { kind: 'blocked', reason: 'WorktreeUnavailable', message: `spec.worktree needs a git repository, and the project path ${projectPath} is not inside one (git init it, or remove spec.worktree)` };
  }
  const at = o.at ?? { state: 'missing' as const };
  if (at.state === 'other') {
    return { kind: 'blocked', reason: 'WorktreeConflict', message: `${target.path} exists and is ${at.what}, not a worktree of ${o.repo.topLevel}; it is left alone (move it away, or choose another spec.worktree.path)` };
  }
  if (at.state === 'worktree' && at.commonDir !== o.repo.commonDir) {
    return { kind: 'blocked', reason: 'WorktreeConflict', message: `${target.path} is a checkout of another repository (${at.commonDir}); it is left alone (choose another spec.worktree.path)` };
  }
  if (at.state === 'worktree' && at.topLevel === o.repo.topLevel) {
    return { kind: 'blocked', reason: 'WorktreeConflict', message: `${target.path} is the project's own checkout, not a worktree of its own` };
  }
  const status: WorktreeStatus = {
    path: target.path,
    branch: at.state === 'worktree' ? (at.branch ?? `(detached at ${at.head?.slice(0, 12) ?? 'unknown'})`) : target.branch,
    repo: projectPath,
    ...(at.state === 'worktree' && at.head ? { head: at.head } : {}),
    ...(prune ? { prune: true } : {}),
  };
  const cwd = o.repo.prefix ? posix.join(target.path, o.repo.prefix).replace(/\/+$/, '') : target.path;
  if (at.state === 'worktree') return { kind: 'ready', cwd, status };
  return {
    kind: 'ready', cwd, status,
    create: { type: 'git.addWorktree', repo: projectPath, path: target.path, branch: target.branch, ...(target.base !== undefined ? { base: target.base } : {}) },
  };
}

/** The git worktrees an object owns, from the inventory. */
export function ownedWorktrees(owned: readonly OwnedResource[] | undefined): { path: string; repo: string }[] {
  return (owned ?? []).filter((r) => r.type === 'git-worktree' && r.repo !== undefined).map((r) => ({ path: r.name, repo: r.repo as string }));
}

export type OrphanWorktreeVerdict =
  | { action: 'remove'; effect: GitRemoveWorktreeEffect }
  /** Gone already (removed by hand): only the inventory entry goes. */
  | { action: 'forget'; effect: GitRemoveWorktreeEffect }
  /** Kept: uncommitted changes, not a worktree any more, or unreadable. */
  | { action: 'keep'; reason: 'WorktreeDirty' | 'WorktreeConflict' | 'WorktreeUnavailable'; message: string };

/** What happens to the worktree of a Session removed with --prune (or its annotation). Pure. */
export function judgeOrphanWorktree(w: OrphanWorktreeObserved): OrphanWorktreeVerdict {
  const effect: GitRemoveWorktreeEffect = { type: 'git.removeWorktree', repo: w.repo, path: w.path };
  if (w.problem !== undefined) return { action: 'keep', reason: 'WorktreeUnavailable', message: `the worktree ${w.path} cannot be checked (${w.problem}); it is kept` };
  const at = w.at ?? { state: 'missing' as const };
  if (at.state === 'missing') return { action: 'forget', effect };
  if (at.state === 'other') return { action: 'keep', reason: 'WorktreeConflict', message: `${w.path} is no longer a git worktree (${at.what}); it is left alone` };
  if (w.changes.length > 0) {
    const shown = w.changes.slice(0, 5).map((l) => l.trim()).join(', ');
    return {
      action: 'keep', reason: 'WorktreeDirty',
      message: `the worktree ${w.path} has uncommitted changes (${w.changes.length >= 20 ? '20 or more' : w.changes.length}: ${shown}${w.changes.length > 5 ? ', …' : ''}); it is kept. Commit or discard them (the branch is always kept), and it is removed on a later pass`,
    };
  }
  return { action: 'remove', effect };
}
