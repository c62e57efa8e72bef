/**
 * The Claude Code settings fragment that registers the guard, and a merge that adds it to existing
 * settings without clobbering other hooks or keys. Pure.
 */
import { GUARDED_TOOLS } from './policy/types.js';

/** The tools the hook runs for: Bash, the file-writing tools, and the file-reading tools (for the controller's secrets). */
export const GUARD_MATCHER = GUARDED_TOOLS.join('|');
export const GUARD_HOOK_TIMEOUT_S = 30;

export interface HookCommand {
  type: 'command';
  command: string;
  timeout: number;
}

export interface GuardSettingsFragment {
  hooks: { PreToolUse: { matcher: string; hooks: HookCommand[] }[] };
}

export function guardSettingsFragment(command: string): GuardSettingsFragment {
  return { hooks: { PreToolUse: [{ matcher: GUARD_MATCHER, hooks: [{ type: 'command', command, timeout: GUARD_HOOK_TIMEOUT_S }] }] } };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Returns `existing` with the guard registered: other keys, other events and other PreToolUse
 * entries are kept; an earlier registration of the same command is replaced (no duplicates).
 * Entries whose command ends with `isGuardCommand` (e.g. an older launcher path) are also replaced.
 */
export function mergeGuardSettings(existing: unknown, fragment: GuardSettingsFragment, isGuardCommand: (cmd: string) => boolean = () => false): Record<string, unknown> {
  const base: Record<string, unknown> = isRecord(existing) ? { ...existing } : {};
  const hooks: Record<string, unknown> = isRecord(base.hooks) ? { ...base.hooks } : {};
  const ours = new Set(fragment.hooks.PreToolUse.flatMap((e) => e.hooks.map((h) => h.command)));
  const pre = Array.isArray(hooks.PreToolUse) ? hooks.PreToolUse : [];
  const kept: unknown[] = [];
  for (const entry of pre) {
    if (!isRecord(entry) || !Array.isArray(entry.hooks)) {
      kept.push(entry);
      continue;
    }
    const rest = entry.hooks.filter((h) => !(isRecord(h) && typeof h.command === 'string' && (ours.has(h.command) || isGuardCommand(h.command))));
    if (rest.length > 0) kept.push({ ...entry, hooks: rest });
  }
  // Claude Code runs matching hooks in parallel; listing the guard first only makes it easy to find.
  hooks.PreToolUse = [...fragment.hooks.PreToolUse, ...kept];
  base.hooks = hooks;
  return base;
}
