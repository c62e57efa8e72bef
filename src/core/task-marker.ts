/**
 * The task marker `[cf-task:<marker>]`: the Project controller writes it at the start of every task
 * prompt (src/controllers/project-prompt.ts); the UserPromptSubmit hook's record reads it back
 * (src/core/activity.ts) as the session's current task, the Stop hook's as its last completed
 * task, which is how the controller sees a task finish; `send` refuses text that carries one.
 * Format and parsing live here together. Pure.
 */
import { createHash } from 'node:crypto';

/** What a marker may hold: the ids the hook's pattern accepts. */
const MARKER_SAFE = /^[A-Za-z0-9._-]{1,200}$/;

/** `[cf-task:<marker>]` anywhere in a text; group 1 is the marker. */
export const TASK_MARKER = /\[cf-task:([A-Za-z0-9._-]{1,200})\]/;

/**
 * The marker of a task id. Task ids may hold any UTF-8 except control characters
 * (docs/queue-protocol.md); the marker only takes `[A-Za-z0-9._-]`, at most 200. Ids outside it
 * get a stable stand-in, `id-<first 24 hex of sha256(id)>`, which the controller compares with.
 */
export function taskMarkerId(id: string): string {
  if (MARKER_SAFE.test(id)) return id;
  return `id-${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 24)}`;
}

/** The marker text for a task id: `[cf-task:<taskMarkerId(id)>]`. */
export function formatTaskMarker(id: string): string {
  return `[cf-task:${taskMarkerId(id)}]`;
}

/** The marker in a prompt (compare it with {@link taskMarkerId} of a task id), or undefined. */
export function taskIdFromPrompt(prompt: string): string | undefined {
  return TASK_MARKER.exec(prompt)?.[1];
}
