/**
 * Shared conversation state between accounts: each account's CLAUDE_CONFIG_DIR links its
 * `sharedDirs` (conversations in `projects/`, …) to the Account's `sharedStateDir`, so a
 * conversation started under one account resumes under another (docs/operations.md, "Diverged
 * shared state"). Here: which per-account directories may be adopted into the shared store, and the
 * pure link check.
 */
import { posix } from 'node:path';
import type { PathInfo } from './ports.js';

/**
 * Directories whose files have unique names (a session or snapshot id in every name): the files
 * of several accounts can be moved into one shared directory without colliding. `claude-failover
 * account link NAME --adopt` moves them (never overwriting) and then links the directory.
 */
export const ADOPTABLE_DIRS: readonly string[] = ['todos', 'shell-snapshots', 'plans', 'tasks'];

/**
 * Directories never merged automatically: conversations (`projects/`), their file history and
 * session environments are keyed by path and content that an automatic merge could mix up.
 */
export const NEVER_MERGED_DIRS: readonly string[] = ['projects', 'file-history', 'session-env'];

export interface LinkState {
  /** Every shared directory is a link to the store, or missing (to be linked). */
  linked: boolean;
  /** Human descriptions of the directories that are not links to the store. */
  diverged: string[];
  /** Directory names (of `dirs`) that are real directories or links elsewhere. */
  divergedDirs: string[];
  /** Directory names not present yet (the controller creates their links). */
  missing: string[];
}

/** The state of an account's shared-directory links, from what `inspect` saw of each. Pure. */
export function linkState(account: string, configDir: string, sharedStateDir: string | undefined, dirs: readonly string[], seen: Record<string, PathInfo>): LinkState {
  const diverged: string[] = [];
  const divergedDirs: string[] = [];
  const missing: string[] = [];
  if (!sharedStateDir) return { linked: true, diverged, divergedDirs, missing };
  for (const dir of dirs) {
    const info = seen[dir] ?? { kind: 'missing' };
    const path = posix.join(configDir, dir);
    const target = posix.join(sharedStateDir, dir);
    if (info.kind === 'missing') {
      missing.push(dir);
      continue;
    }
    if (info.kind === 'symlink' && posix.resolve(posix.dirname(path), info.target ?? '') === target) continue;
    divergedDirs.push(dir);
    if (info.kind === 'symlink') diverged.push(`${path} links to ${info.target}, not ${target}`);
    else if (info.kind === 'directory' && ADOPTABLE_DIRS.includes(dir)) diverged.push(`${path} is a real directory (expected a link to ${target}); its files have unique names: \`claude-failover account link ${account} --adopt\` moves them into ${target} and links it`);
    else diverged.push(`${path} is a real ${info.kind} (expected a link to ${target}); move its contents into ${target} and remove it`);
  }
  return { linked: diverged.length === 0, diverged, divergedDirs, missing };
}
