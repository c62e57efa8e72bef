/**
 * The text a session receives for a task. Pure.
 *
 * The prompt starts with the task marker `[cf-task:<marker>]` (src/core/task-marker.ts): the
 * UserPromptSubmit hook records it as the session's current task and the Stop hook as its last
 * completed task, which is how the Project controller sees a task finish. It names the task id
 * and its file, says how to finish, and carries the task body verbatim.
 */
import { formatTaskMarker } from '../core/task-marker.js';

/** C0 controls other than TAB, LF and CR, and DEL: cannot travel through a terminal paste. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_CONTROLS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * Makes text safe to paste into a terminal: C0 control characters (except TAB, LF, CR) and DEL
 * become their Unicode "control pictures" (U+2400 + code, U+2421 for DEL). An ESC in a bracketed
 * paste could end the paste early (`ESC [201~`) and turn the rest into keystrokes; ^C/^D would be
 * keys. Everything else (any other UTF-8, quotes, `;`, `$(`, a leading `-`) passes unchanged.
 */
export function terminalSafe(text: string): { text: string; replaced: number } {
  let replaced = 0;
  const out = text.replace(UNSAFE_CONTROLS, (c) => {
    replaced += 1;
    const code = c.charCodeAt(0);
    return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
  });
  return { text: out, replaced };
}

/**
 * What Claude Code's input rewrites in a pasted prompt (measured on the real CLI 2.1.332, see
 * docs/simulator.md): a tab becomes four spaces; NEL, LINE and PARAGRAPH SEPARATOR become line
 * breaks; C1 controls and invisible format characters (zero-width spaces, bidi marks, BOM, soft
 * hyphen) are dropped; the text is NFC-normalised. The zero-width joiner and the emoji variation
 * selector are left out of this check: inside emoji the CLI keeps them. CR and CRLF are not
 * counted either: they become line breaks, which changes no meaning.
 */
const INPUT_REWRITES = /[\t\u0085\u2028\u2029\u0080-\u009f]|\u034f|(?!\u200d)\p{Cf}/u;

/** True when Claude Code will not hand the model this text exactly as it is in the task file. */
export function inputRewrites(text: string): boolean {
  return INPUT_REWRITES.test(text) || text.normalize('NFC') !== text;
}

export interface PromptTask {
  id: string;
  /** Task body (the prompt text after the frontmatter). */
  body: string;
  title?: string;
  /** 1-based delivery attempt (the lease's). */
  attempt?: number;
}

/** The line that closes a task prompt (so a body ending in `\` cannot turn Enter into a newline). */
export function promptEnd(id: string): string {
  return `[end of task ${id}]`;
}

/**
 * The prompt for a task. The body is carried verbatim (after `terminalSafe`, which changes only
 * control characters a terminal cannot carry) between a header and a closing line.
 */
export function taskPrompt(task: PromptTask, taskPath: string): string {
  const safe = terminalSafe(task.body);
  const lines = [
    `${formatTaskMarker(task.id)} Task ${task.id} from the claude-failover queue.`,
    `Task file: ${taskPath}`,
    'When you are done, end your turn: the controller marks the task done. Do not move, rename or edit the task file.',
  ];
  if (task.attempt !== undefined && task.attempt > 1) {
    lines.push(`This is delivery attempt ${task.attempt}: an earlier delivery did not finish. Check what was already done before repeating work.`);
  }
  if (safe.replaced > 0) {
    lines.push(`${safe.replaced} control character(s) in the task were replaced by visible symbols (U+2400 block); the task file holds the exact bytes.`);
  }
  if (inputRewrites(safe.text)) {
    lines.push('The task holds characters that the terminal input changes (tabs become spaces, invisible format characters are dropped); the task file holds the exact bytes.');
  }
  lines.push('', '--- task ---');
  return `${lines.join('\n')}\n${safe.text}\n${promptEnd(task.id)}`;
}

/**
 * The prompt that continues a task after an interruption (a usage limit, a failover relaunch
 * with `--resume`). It carries the same task marker, so finishing the turn completes the task.
 * `newConversation`: the relaunch could not resume the conversation (it had no transcript yet),
 * so the agent is told to start from the task file.
 */
export function continuationPrompt(task: { id: string; path: string; newConversation?: boolean }): string {
  const why = task.newConversation
    ? [
      'Your session was restarted in a new conversation while it worked on this task (account failover), so your earlier',
      'work on it is not in this conversation. Read the task file and do the task; check what was already done (files,',
      'commits) before repeating work. When you are done, end your turn: the controller marks the task done.',
    ]
    : [
      'Your previous turn on it was interrupted (usage limit or account failover). Pick up where you left off;',
      'read the task file again if you need it. When you are done, end your turn: the controller marks the task done.',
    ];
  return [
    `${formatTaskMarker(task.id)} Continue task ${task.id} from the claude-failover queue.`,
    `Task file: ${task.path}`,
    ...why,
  ].join('\n');
}
