/**
 * `Session.spec.worktree` resolved against its Project: where the worktree goes and which branch
 * it holds. Pure (the manifests alone); shared by the set validation and the Session controller.
 */
import { posix } from 'node:path';
import type { ManifestObject } from './objects.js';

export interface WorktreeTarget {
  /** Absolute path of the worktree. */
  path: string;
  branch: string;
  /** Start point of a branch that does not exist yet; undefined: the project checkout's HEAD. */
  base?: string;
}

/** `<project path>-worktrees/<session>`: beside the project, never inside its checkout. */
export function defaultWorktreePath(projectPath: string, session: string): string {
  const p = projectPath.length > 1 ? projectPath.replace(/\/+$/, '') : projectPath;
  return posix.join(`${p}-worktrees`, session);
}

/** The worktree a session asks for; undefined when it asks for none (or its project is unknown). */
export function worktreeTarget(session: ManifestObject<'Session'>, project: ManifestObject<'Project'> | undefined): WorktreeTarget | undefined {
  const w = session.spec.worktree;
  if (w === undefined || w === false || !project) return undefined;
  const o = w === true ? {} : w;
  return {
    path: o.path ?? defaultWorktreePath(project.spec.path, session.metadata.name),
    branch: o.branch ?? session.metadata.name,
    ...(o.base !== undefined ? { base: o.base } : {}),
  };
}
