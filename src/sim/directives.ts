/**
 * The simulator's scripting language: `#sim <verb> <args>` lines inside a prompt (or a script file).
 * Every other non-empty line is task text: the simulator "works" on it.
 */

export type FailKind = 'rate_limit' | 'overloaded' | 'server_error' | 'authentication_failed' | 'billing_error' | 'invalid_request';
export const FAIL_KINDS: readonly FailKind[] = ['rate_limit', 'overloaded', 'server_error', 'authentication_failed', 'billing_error', 'invalid_request'];

export type Directive =
  | { kind: 'bash'; command: string }
  | { kind: 'write'; path: string; content: string }
  | { kind: 'print'; text: string }
  | { kind: 'work'; ms: number }
  | { kind: 'exit'; code: number }
  | { kind: 'usage'; fiveHour: number; sevenDay?: number }
  | { kind: 'fail'; error: FailKind }
  | { kind: 'notify'; notificationType: string; message: string }
  | { kind: 'invalid'; line: string; reason: string };

export interface ParsedPrompt {
  directives: Directive[];
  /** Non-directive, non-empty lines joined with `\n`. */
  taskText: string;
}

const DIRECTIVE_RE = /^[ \t]*#sim[ \t]+([a-z][a-z_-]*)(?:[ \t]+(.*))?$/;

/** Unescapes `\n`, `\t`, `\r` and `\\` in `#sim write` content. */
export function unescapeContent(raw: string): string {
  return raw.replace(/\\([nrt\\])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : '\\'));
}

function parseNumber(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^-?\d+(\.\d+)?$/.test(raw)) return undefined;
  return Number(raw);
}

export function parseDirective(line: string): Directive | undefined {
  const m = DIRECTIVE_RE.exec(line);
  if (m === null) return undefined;
  const verb = m[1] ?? '';
  const rest = (m[2] ?? '').replace(/[ \t]+$/, '');
  const invalid = (reason: string): Directive => ({ kind: 'invalid', line, reason });
  switch (verb) {
    case 'bash':
      return rest === '' ? invalid('#sim bash needs a command') : { kind: 'bash', command: rest };
    case 'write': {
      const sp = /^(\S+)(?:[ \t](.*))?$/.exec(rest);
      if (sp === null) return invalid('#sim write needs a path');
      return { kind: 'write', path: sp[1] ?? '', content: unescapeContent(sp[2] ?? '') };
    }
    case 'print':
      return { kind: 'print', text: rest };
    case 'work': {
      const ms = parseNumber(rest);
      return ms === undefined || ms < 0 ? invalid('#sim work needs milliseconds') : { kind: 'work', ms };
    }
    case 'exit': {
      const code = parseNumber(rest === '' ? '1' : rest);
      return code === undefined || !Number.isInteger(code) || code < 0 || code > 255 ? invalid('#sim exit needs a code 0-255') : { kind: 'exit', code };
    }
    case 'usage': {
      const [a, b] = rest.split(/[ \t]+/);
      const five = parseNumber(a);
      const seven = parseNumber(b);
      if (five === undefined || (b !== undefined && seven === undefined)) return invalid('#sim usage needs <five_hour%> [<seven_day%>]');
      return seven === undefined ? { kind: 'usage', fiveHour: five } : { kind: 'usage', fiveHour: five, sevenDay: seven };
    }
    case 'fail': {
      const error = (rest === '' ? 'rate_limit' : rest) as FailKind;
      return FAIL_KINDS.includes(error) ? { kind: 'fail', error } : invalid(`#sim fail needs one of ${FAIL_KINDS.join('|')}`);
    }
    case 'notify': {
      const sp = /^(\S+)(?:[ \t](.*))?$/.exec(rest);
      if (sp === null) return invalid('#sim notify needs a notification type');
      return { kind: 'notify', notificationType: sp[1] ?? '', message: sp[2] ?? 'Claude is waiting for your input' };
    }
    default:
      return invalid(`unknown directive #sim ${verb}`);
  }
}

export function parsePrompt(text: string): ParsedPrompt {
  const directives: Directive[] = [];
  const task: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const d = parseDirective(line);
    if (d !== undefined) directives.push(d);
    else if (line.trim() !== '') task.push(line);
  }
  return { directives, taskText: task.join('\n') };
}
