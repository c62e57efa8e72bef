import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Appends one JSON line, creating the directory; never throws (a log must not crash the agent). */
export function appendJsonLine(path: string, record: unknown): boolean {
  try {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, `${JSON.stringify(record)}\n`);
    return true;
  } catch {
    return false;
  }
}

export interface SimLogTargets {
  invocations: string;
  received: string;
  events: string;
  /** $CLAUDE_SIM_LOG: every record of every kind, from every account. */
  global: string | undefined;
}

/** The simulator's own observable output for tests: invocation, receive and event logs (JSON lines with `type`). */
export class SimLog {
  constructor(private readonly targets: SimLogTargets, private readonly base: () => Record<string, unknown>) {}

  private write(path: string, record: Record<string, unknown>): void {
    const full = { ...record, ...this.base(), time: new Date().toISOString() };
    appendJsonLine(path, full);
    if (this.targets.global !== undefined && this.targets.global !== '') appendJsonLine(this.targets.global, full);
  }

  invocation(record: Record<string, unknown>): void {
    this.write(this.targets.invocations, { type: 'invocation', ...record });
  }

  exit(record: Record<string, unknown>): void {
    this.write(this.targets.invocations, { type: 'exit', ...record });
  }

  received(record: Record<string, unknown>): void {
    this.write(this.targets.received, { type: 'received', ...record });
  }

  swallowedEnter(reason: string): void {
    this.write(this.targets.received, { type: 'enter-swallowed', reason });
  }

  event(type: string, record: Record<string, unknown>): void {
    this.write(this.targets.events, { type, ...record });
  }
}

/** The real CLI version whose behaviour the simulator follows (checked by test/conformance/). */
export const SIM_VERSION = '2.1.332';

export function newToolUseId(): string {
  return `toolu_01${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22)}`;
}

function newMessageId(): string {
  return `msg_01${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 22)}`;
}

function newRequestId(): string {
  return `req_011${randomBytes(16).toString('base64url').replace(/[-_]/g, 'x').slice(0, 21)}`;
}

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error: boolean };

export interface TranscriptOptions {
  path: string;
  sessionId: string;
  cwd: string;
  model: string;
  /** False under CLAUDE_CODE_CHILD_SESSION: the real CLI writes no transcript then. */
  enabled: boolean;
}

/** Writes Claude Code's transcript JSONL: one record per message, chained by parentUuid. */
export class Transcript {
  private parentUuid: string | null = null;

  constructor(private readonly opts: TranscriptOptions) {
    if (opts.enabled) this.parentUuid = lastUuid(opts.path);
  }

  get path(): string {
    return this.opts.path;
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  private append(record: Record<string, unknown>): Record<string, unknown> {
    const uuid = randomUUID();
    const full = {
      parentUuid: this.parentUuid,
      isSidechain: false,
      userType: 'external',
      cwd: this.opts.cwd,
      sessionId: this.opts.sessionId,
      version: SIM_VERSION,
      gitBranch: '',
      ...record,
      uuid,
      timestamp: new Date().toISOString(),
    };
    if (this.opts.enabled) {
      appendJsonLine(this.opts.path, full);
      this.parentUuid = uuid;
    }
    return full;
  }

  user(text: string): void {
    this.append({ type: 'user', message: { role: 'user', content: text } });
  }

  private assistantMessage(content: ContentBlock[], model: string, stopReason: string | null): Record<string, unknown> {
    return {
      id: newMessageId(), type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null,
      usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
    };
  }

  assistantText(text: string): void {
    this.append({ type: 'assistant', message: this.assistantMessage([{ type: 'text', text }], this.opts.model, 'end_turn'), requestId: newRequestId() });
  }

  toolUse(id: string, name: string, input: Record<string, unknown>): void {
    this.append({ type: 'assistant', message: this.assistantMessage([{ type: 'tool_use', id, name, input }], this.opts.model, 'tool_use'), requestId: newRequestId() });
  }

  toolResult(id: string, content: string, isError: boolean, toolUseResult: unknown): void {
    this.append({
      type: 'user',
      message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content, is_error: isError }] },
      toolUseResult,
    });
  }

  /** The record Claude Code writes when a request fails on an API error (e.g. a usage limit: status 429, error "rate_limit"). */
  apiError(text: string, error: string, status: number): void {
    this.append({
      type: 'assistant',
      message: this.assistantMessage([{ type: 'text', text }], '<synthetic>', 'stop_sequence'),
      error,
      isApiErrorMessage: true,
      apiErrorStatus: status,
    });
  }

  interrupted(): void {
    this.append({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user]' }] } });
  }
}

function lastUuid(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const lines = text.trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const rec = JSON.parse(lines[i] ?? '') as Record<string, unknown>;
      if (typeof rec['uuid'] === 'string') return rec['uuid'];
    } catch {
      // tolerate a torn last line
    }
  }
  return null;
}

/** Last user/assistant texts of a transcript, for the resume banner. */
export function transcriptTail(path: string, max: number): { role: string; text: string }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const out: { role: string; text: string }[] = [];
  for (const line of text.split('\n')) {
    try {
      const rec = JSON.parse(line) as { type?: string; message?: { content?: unknown } };
      const c = rec.message?.content;
      if (rec.type !== 'user' && rec.type !== 'assistant') continue;
      if (typeof c === 'string') out.push({ role: rec.type, text: c });
      else if (Array.isArray(c)) {
        for (const b of c as { type?: string; text?: string }[]) if (b.type === 'text' && typeof b.text === 'string') out.push({ role: rec.type, text: b.text });
      }
    } catch {
      // skip
    }
  }
  return out.slice(-max);
}
