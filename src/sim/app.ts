import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parsePrompt, type Directive, type FailKind } from './directives.js';
import { preToolDecision, runHookCommands, runShell, type HookOutcome } from './hooks.js';
import { InputParser, type InputEvent } from './input.js';
import { promptText, type PromptText } from './prompt-text.js';
import type { SimPaths } from './paths.js';
import { newToolUseId, SIM_VERSION, type SimLog, type Transcript } from './records.js';
import type { Screen } from './screen.js';
import { hooksFor, type Settings } from './settings.js';
import {
  exhaustion, formatReset, limitMessage, readUsage, statusRateLimits, utilizationOf, withUtilization, writeUsageAtomic, type Exhaustion,
} from './usage.js';

export interface AppConfig {
  cwd: string;
  env: NodeJS.ProcessEnv;
  paths: SimPaths;
  sessionId: string;
  transcriptPath: string;
  settings: Settings;
  model: string;
  permissionMode: string;
  workMs: number;
  enterGuardMs: number;
  idleNotifyMs: number;
  bashTimeoutMs: number;
  usagePerTurn: number;
  timeZone: string;
  limitWithZone: boolean;
  readTaskFiles: boolean;
  enforceTrust: boolean;
  configDir: string;
  /** False in `-p` mode: no dialogs, a tool needing approval is denied. */
  interactive: boolean;
}

export interface AppDeps {
  screen: Screen;
  log: SimLog;
  transcript: Transcript;
  /** Ends the process; only the entry point may exit. */
  exit: (code: number) => void;
}

class Interrupted extends Error {
  readonly code = 'SIM_INTERRUPTED';
}

interface Segment {
  bytes: Buffer;
  pasted: boolean;
  pasteNo?: number;
}

/** A submitted prompt: the exact bytes, and the text Claude Code makes of them (prompt-text.ts). */
interface Submitted extends PromptText {
  bytes: Buffer;
  /** What the input box held, to put back when the turn is interrupted before any answer. */
  input: string;
}

const SPINNER = ['·', '✢', '✳', '✶', '✻', '✽'];
const PASTE_PLACEHOLDER_CHARS = 800;

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Claude Code's view of a prompt: CRLF and lone CR become LF. */
export function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

function firstLine(text: string, max = 80): string {
  const line = normalizeNewlines(text).split('\n').find((l) => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((res, rej) => {
    if (signal?.aborted === true) {
      rej(new Interrupted('interrupted'));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      rej(new Interrupted('interrupted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function removeLastCodePoint(buf: Buffer): Buffer {
  let i = buf.length - 1;
  while (i > 0 && ((buf[i] ?? 0) & 0xc0) === 0x80) i--;
  return buf.subarray(0, Math.max(0, i));
}

function matchesPermission(rules: readonly string[], tool: string, input: Record<string, unknown>): boolean {
  const command = typeof input['command'] === 'string' ? input['command'] : undefined;
  return rules.some((r) => {
    if (r === tool) return true;
    const m = /^(\w+)\((.*)\)$/.exec(r);
    if (m === null || m[1] !== tool || command === undefined) return false;
    const pat = m[2] ?? '';
    return pat.endsWith(':*') ? command.startsWith(pat.slice(0, -2)) : command === pat;
  });
}

export class SimApp {
  private readonly parser: InputParser;
  private segments: Segment[] = [];
  private queue: Submitted[] = [];
  /** One id per session for the `<pasted_content id="…">` wrappers, like the real CLI. */
  private readonly pasteId = randomBytes(2).toString('hex');
  private promptId: string | undefined;
  /** The running turn: its prompt, and whether anything was answered yet. */
  private turn: { submitted: Submitted | undefined; answered: boolean } | undefined;
  private ctrlCArmed = false;
  /** The limit hit by the last turn, with the time it continues automatically (2.1.332). */
  private autoContinue: { timer: NodeJS.Timeout; submitted: Submitted } | undefined;
  private busy = false;
  private exiting = false;
  private currentAbort: AbortController | undefined;
  private ctrlCAt = Number.NEGATIVE_INFINITY;
  private hintTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private spinnerTimer: NodeJS.Timeout | undefined;
  private pasteCount = 0;
  private statusText: string | undefined;
  private dialog: { resolve: (choice: number) => void; choices: number } | undefined;
  private lastAssistant = '';
  private stdinEnded = false;

  constructor(private readonly cfg: AppConfig, private readonly deps: AppDeps) {
    this.parser = new InputParser({ enterGuardMs: cfg.enterGuardMs });
  }

  // ---------------------------------------------------------------- hooks

  private hookBase(event: string): Record<string, unknown> {
    // 2.1.332: SessionStart, SessionEnd, StopFailure and Notification carry no permission_mode; every hook after
    // the first prompt carries its prompt_id.
    return {
      session_id: this.cfg.sessionId,
      transcript_path: this.cfg.transcriptPath,
      cwd: this.cfg.cwd,
      ...(this.promptId !== undefined ? { prompt_id: this.promptId } : {}),
      ...(['SessionStart', 'SessionEnd', 'StopFailure', 'Notification'].includes(event) ? {} : { permission_mode: this.cfg.permissionMode }),
      hook_event_name: event,
    };
  }

  private hookEnv(): NodeJS.ProcessEnv {
    return { ...this.cfg.env, ...(this.cfg.settings.env ?? {}), CLAUDE_PROJECT_DIR: this.cfg.cwd, CLAUDE_CODE_SESSION_ID: this.cfg.sessionId };
  }

  async runHooks(event: string, matchValue: string | undefined, extra: Record<string, unknown>, label = event): Promise<HookOutcome[]> {
    const hooks = hooksFor(this.cfg.settings, event, matchValue);
    if (hooks.length === 0) return [];
    const outcomes = await runHookCommands(event, hooks, { ...this.hookBase(event), ...extra }, { cwd: this.cfg.cwd, env: this.hookEnv() });
    for (const o of outcomes) {
      this.deps.log.event('hook', {
        event, matcherValue: matchValue ?? null, command: o.result.command, exitCode: o.result.exitCode, signal: o.result.signal,
        timedOut: o.result.timedOut, outcome: o.kind, durationMs: Math.round(o.result.durationMs * 10) / 10,
      });
      if (o.kind === 'error' && event !== 'PreToolUse') this.deps.screen.log(`  ⎿  ${label} hook error: [${o.result.command}]: ${o.message}`);
    }
    return outcomes;
  }

  private async runStatusLine(withRateLimits: boolean): Promise<void> {
    const sl = this.cfg.settings.statusLine;
    if (sl === undefined || this.cfg.settings.disableAllHooks === true) return;
    // 2.1.332 sends no hook_event_name to the status line.
    const input: Record<string, unknown> = {
      session_id: this.cfg.sessionId,
      transcript_path: this.cfg.transcriptPath,
      cwd: this.cfg.cwd,
      ...(this.promptId !== undefined ? { prompt_id: this.promptId } : {}),
      model: { id: this.cfg.model, display_name: this.cfg.model },
      workspace: { current_dir: this.cfg.cwd, project_dir: this.cfg.cwd, added_dirs: [] },
      version: SIM_VERSION,
      output_style: { name: 'default' },
      cost: { total_cost_usd: 0, total_duration_ms: Math.round(process.uptime() * 1000), total_api_duration_ms: 0, total_lines_added: 0, total_lines_removed: 0 },
      exceeds_200k_tokens: false,
    };
    if (withRateLimits) {
      const rl = statusRateLimits(readUsage(this.cfg.paths.usageFile));
      if (rl !== undefined) input['rate_limits'] = rl;
    }
    const r = await runShell(sl.command, { cwd: this.cfg.cwd, env: this.hookEnv(), stdin: JSON.stringify(input), timeoutMs: 5000 });
    this.deps.log.event('statusline', { exitCode: r.exitCode, timedOut: r.timedOut, durationMs: Math.round(r.durationMs * 10) / 10, rateLimits: input['rate_limits'] ?? null });
    if (r.exitCode === 0) {
      const line = r.stdout.split('\n')[0] ?? '';
      this.statusText = line;
      this.refreshFrame();
    }
  }

  // ---------------------------------------------------------------- frame

  /** The status region under the input box: the status line's output, then the mode line. */
  private defaultStatus(): string[] {
    const mode = this.cfg.permissionMode === 'bypassPermissions' ? '⏵⏵ bypass permissions on (shift+tab to cycle)' : '? for shortcuts';
    const lines = this.statusText !== undefined ? [this.statusText] : [];
    if (this.autoContinue !== undefined) {
      const at = this.autoContinueAt ?? '';
      lines.push(`⚠ Usage limit reached · limit resets ${at}`, `  Continuing automatically at ${at} · Esc to cancel`);
    }
    lines.push(this.busy ? `${mode} · esc to interrupt` : mode);
    return lines;
  }

  private autoContinueAt: string | undefined;

  private inputLines(): string[] {
    let text = '';
    for (const s of this.segments) {
      const str = s.bytes.toString('utf8');
      if (s.pasted && s.pasteNo !== undefined && str.length > PASTE_PLACEHOLDER_CHARS) {
        const lines = normalizeNewlines(str).split('\n').length;
        text += `[Pasted text #${s.pasteNo} +${lines} lines]`;
      } else text += str;
    }
    return normalizeNewlines(text).split('\n');
  }

  private refreshFrame(): void {
    const text = this.inputLines();
    this.deps.screen.update({
      inputLines: text.length === 1 && text[0] === '' ? [] : text,
      queued: this.queue.map((q) => firstLine(q.plain, 60)),
      status: this.defaultStatus(),
    });
  }

  private showHint(hint: string, ms: number): void {
    this.deps.screen.update({ hint });
    if (this.hintTimer !== undefined) clearTimeout(this.hintTimer);
    this.hintTimer = setTimeout(() => this.deps.screen.clear('hint'), ms);
  }

  private startSpinner(): void {
    const started = Date.now();
    let n = 0;
    const tick = (): void => {
      const secs = Math.floor((Date.now() - started) / 1000);
      this.deps.screen.update({ spinner: `${SPINNER[n++ % SPINNER.length] ?? '*'} Working… (${secs}s · esc to interrupt)` });
    };
    tick();
    this.spinnerTimer = setInterval(tick, 250);
  }

  private stopSpinner(): void {
    if (this.spinnerTimer !== undefined) clearInterval(this.spinnerTimer);
    this.spinnerTimer = undefined;
    this.deps.screen.clear('spinner');
  }

  private askDialog(lines: string[], choices: number, signal: AbortSignal): Promise<number> {
    return new Promise((res) => {
      const done = (choice: number): void => {
        this.dialog = undefined;
        this.deps.screen.clear('dialog');
        signal.removeEventListener('abort', onAbort);
        res(choice);
      };
      const onAbort = (): void => done(choices);
      signal.addEventListener('abort', onAbort, { once: true });
      this.dialog = { resolve: done, choices };
      this.deps.screen.update({ dialog: lines });
    });
  }

  // ---------------------------------------------------------------- lifecycle

  async start(source: 'startup' | 'resume', script: string | undefined, initialPrompt: string | undefined): Promise<void> {
    this.refreshFrame();
    this.deps.screen.start();
    if (this.cfg.enforceTrust && !(await this.trustDialogs())) return;
    await this.runHooks('SessionStart', source, { source, model: this.cfg.model });
    void this.runStatusLine(false);
    if (script !== undefined) {
      await this.exclusive(() => this.runTurn(undefined, script));
    }
    if (initialPrompt !== undefined && initialPrompt.trim() !== '') this.submit(Buffer.from(initialPrompt, 'utf8'), [{ text: initialPrompt, pasted: false }]);
    else this.armIdleNotification();
  }

  /** Runs work while holding the turn slot (queued prompts wait). */
  private async exclusive(fn: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    try {
      await fn();
    } finally {
      this.busy = false;
    }
    if (this.queue.length > 0) void this.drain();
  }

  /** With CLAUDE_SIM_ENFORCE_TRUST=1: the folder-trust and bypass-permissions dialogs of a first launch. */
  private async trustDialogs(): Promise<boolean> {
    const statePath = resolve(this.cfg.configDir, '.claude.json');
    let state: Record<string, unknown> = {};
    try {
      state = JSON.parse(readFileSync(statePath, 'utf8')) as Record<string, unknown>;
    } catch {
      state = {};
    }
    const projects = (typeof state['projects'] === 'object' && state['projects'] !== null ? state['projects'] : {}) as Record<string, Record<string, unknown>>;
    const trusted = projects[this.cfg.cwd]?.['hasTrustDialogAccepted'] === true;
    const signal = new AbortController().signal;
    if (!trusted) {
      this.deps.log.event('dialog', { dialog: 'trust', cwd: this.cfg.cwd });
      const choice = await this.askDialog([
        'Do you trust the files in this folder?', '', `  ${this.cfg.cwd}`, '', '❯ 1. Yes, proceed', '  2. No, exit',
      ], 2, signal);
      if (choice !== 1) {
        await this.exit(1, 'other');
        return false;
      }
      projects[this.cfg.cwd] = { ...(projects[this.cfg.cwd] ?? {}), hasTrustDialogAccepted: true };
      state['projects'] = projects;
      writeFileSync(statePath, `${JSON.stringify(state, null, 2)}\n`);
    }
    if (this.cfg.permissionMode === 'bypassPermissions' && this.cfg.settings.skipDangerousModePermissionPrompt !== true) {
      this.deps.log.event('dialog', { dialog: 'bypass-permissions' });
      const choice = await this.askDialog([
        'WARNING: Claude Code running in Bypass Permissions mode', '', '❯ 1. No, exit', '  2. Yes, I accept',
      ], 1, signal);
      if (choice !== 2) {
        await this.exit(1, 'other');
        return false;
      }
    }
    return true;
  }

  async exit(code: number, reason: string): Promise<void> {
    if (this.exiting) return;
    this.exiting = true;
    this.currentAbort?.abort();
    for (const t of [this.idleTimer, this.hintTimer, this.autoContinue?.timer]) if (t !== undefined) clearTimeout(t);
    this.stopSpinner();
    await this.runHooks('SessionEnd', reason, { reason });
    this.deps.log.exit({ code, reason });
    this.deps.screen.stop();
    this.deps.exit(code);
  }

  /** `#sim exit`: die at once, like a crash (no SessionEnd hooks). */
  private crash(code: number): void {
    this.exiting = true;
    this.deps.log.exit({ code, reason: 'directive' });
    this.deps.screen.flush();
    this.deps.exit(code);
  }

  onStdinEnd(): void {
    this.stdinEnded = true;
    if (!this.busy) void this.exit(0, 'other');
  }

  // ---------------------------------------------------------------- input

  onData(chunk: Buffer): void {
    if (this.exiting) return;
    for (const ev of this.parser.feed(chunk, performance.now())) this.onEvent(ev);
    this.refreshFrame();
  }

  private onEvent(ev: InputEvent): void {
    if (this.dialog !== undefined) {
      const d = this.dialog;
      if (ev.kind === 'enter') d.resolve(1);
      else if (ev.kind === 'escape') d.resolve(d.choices);
      else if (ev.kind === 'text') {
        const n = Number.parseInt(ev.bytes.toString('utf8').trim(), 10);
        if (Number.isInteger(n) && n >= 1 && n <= d.choices) d.resolve(n);
      } else if (ev.kind === 'ctrl-c') this.onCtrlC();
      return;
    }
    switch (ev.kind) {
      case 'text':
        this.ctrlCArmed = false;
        if (ev.pasted) this.pasteCount++;
        this.segments.push(ev.pasted ? { bytes: ev.bytes, pasted: true, pasteNo: this.pasteCount } : { bytes: ev.bytes, pasted: false });
        this.deps.screen.clear('hint');
        break;
      case 'newline':
        this.segments.push({ bytes: Buffer.from('\n'), pasted: false });
        break;
      case 'backspace': {
        const last = this.segments.pop();
        if (last !== undefined) {
          const rest = last.pasted && last.bytes.toString('utf8').length > PASTE_PLACEHOLDER_CHARS ? Buffer.alloc(0) : removeLastCodePoint(last.bytes);
          if (rest.length > 0) this.segments.push({ ...last, bytes: rest });
        }
        break;
      }
      case 'enter':
        this.onEnter();
        break;
      case 'enter-swallowed':
        this.deps.log.swallowedEnter(ev.reason);
        break;
      case 'ctrl-c':
        this.onCtrlC();
        break;
      case 'ctrl-d':
        if (this.segments.length === 0) this.onCtrlC();
        break;
      case 'escape':
        if (this.busy) this.currentAbort?.abort();
        else this.cancelAutoContinue();
        break;
      case 'key':
        break;
    }
  }

  /**
   * Ctrl-C as in the real CLI 2.1.332: a running turn is interrupted (not armed), and a turn
   * interrupted before any answer puts its prompt back into the input box; otherwise a non-empty
   * input is cleared and the exit armed; an armed Ctrl-C within 2 s exits.
   */
  private onCtrlC(): void {
    const now = Date.now();
    if (this.busy && this.turn !== undefined) {
      const { submitted, answered } = this.turn;
      this.currentAbort?.abort();
      if (!answered && submitted !== undefined) this.segments = [{ bytes: Buffer.from(submitted.input, 'utf8'), pasted: false }];
      this.ctrlCArmed = false;
      return;
    }
    if (this.ctrlCArmed && now - this.ctrlCAt < 2000) {
      void this.exit(0, 'prompt_input_exit');
      return;
    }
    this.ctrlCAt = now;
    this.ctrlCArmed = true;
    this.segments = [];
    this.showHint('Press Ctrl-C again to exit', 2000);
  }

  private onEnter(): void {
    const bytes = Buffer.concat(this.segments.map((s) => s.bytes));
    // Backslash + Enter inserts a newline instead of submitting.
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x5c) {
      const last = this.segments.pop();
      if (last !== undefined) {
        const trimmed = last.bytes.subarray(0, last.bytes.length - 1);
        if (trimmed.length > 0) this.segments.push({ ...last, bytes: trimmed });
      }
      this.segments.push({ bytes: Buffer.from('\n'), pasted: false });
      return;
    }
    const pieces = this.segments.map((s) => ({ text: s.bytes.toString('utf8'), pasted: s.pasted }));
    this.segments = [];
    if (bytes.toString('utf8').trim() === '') return;
    this.submit(bytes, pieces);
  }

  private submit(bytes: Buffer, pieces: { text: string; pasted: boolean }[]): void {
    const text = bytes.toString('utf8');
    const pasted = pieces.some((p) => p.pasted);
    const submitted: Submitted = { bytes, input: text, ...promptText(pieces, this.pasteId, this.busy) };
    const command = /^\s*\/\w+/.test(submitted.plain) ? submitted.plain.trim().split(/\s+/)[0] : undefined;
    this.deps.log.received({
      sha256: sha256(bytes), bytes: bytes.length, textSha256: sha256(submitted.plain),
      pasted, wrapped: submitted.prompt !== submitted.plain, queued: this.busy, ...(command !== undefined ? { command } : {}), preview: text.slice(0, 200),
    });
    if (command === '/exit' || command === '/quit') {
      void this.exit(0, 'prompt_input_exit');
      return;
    }
    this.cancelAutoContinue();
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.queue.push(submitted);
    if (!this.busy) void this.drain();
    this.refreshFrame();
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.exiting) {
        const next = this.queue.shift();
        this.refreshFrame();
        if (next === undefined) break;
        if (/^\s*\/\w+/.test(next.plain)) {
          this.deps.screen.log(`❯ ${firstLine(next.plain)}`, `  ⎿  (simulator) ${next.plain.trim().split(/\s+/)[0] ?? ''} is not supported`);
          continue;
        }
        await this.runTurn(next, undefined);
      }
    } finally {
      this.busy = false;
    }
    if (this.exiting) return;
    if (this.stdinEnded) {
      void this.exit(0, 'other');
      return;
    }
    this.armIdleNotification();
  }

  private armIdleNotification(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    if (this.cfg.idleNotifyMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (!this.busy && !this.exiting) {
        void this.runHooks('Notification', 'idle_prompt', { message: 'Claude is waiting for your input', notification_type: 'idle_prompt' });
      }
    }, this.cfg.idleNotifyMs);
  }

  // ---------------------------------------------------------------- turns

  /** One turn: a submitted prompt, or (prompt undefined) the startup script. */
  async runTurn(submitted: Submitted | undefined, script: string | undefined): Promise<{ apiError: boolean }> {
    const abort = new AbortController();
    this.currentAbort = abort;
    this.turn = { submitted, answered: false };
    const signal = abort.signal;
    const prompt = submitted?.prompt;
    const source = submitted?.plain ?? script ?? '';
    let apiError = false;
    try {
      if (submitted !== undefined && prompt !== undefined) {
        this.promptId = randomUUID();
        // The echo shows the whole text (2.1.332 no longer collapses a long paste once submitted).
        this.deps.screen.log('', ...submitted.plain.split('\n').map((l, i) => `${i === 0 ? '❯ ' : '  '}${l}`));
        const outcomes = await this.runHooks('UserPromptSubmit', undefined, { prompt });
        const blocked = outcomes.find((o) => o.kind === 'blocking' || (o.kind === 'success' && o.json?.['decision'] === 'block'));
        if (blocked !== undefined) {
          const reason = blocked.kind === 'blocking' ? blocked.reason : String(blocked.kind === 'success' ? (blocked.json?.['reason'] ?? '') : '');
          this.deps.screen.log(`  ⎿  UserPromptSubmit operation blocked by hook:`, `     ${reason}`);
          this.deps.log.event('prompt-blocked', { reason });
          return { apiError };
        }
        this.deps.transcript.user(prompt);
      } else {
        this.deps.screen.log('', '● Running startup script (CLAUDE_SIM_SCRIPT)');
      }
      this.startSpinner();
      this.deps.log.event('turn-start', { script: prompt === undefined });

      if (submitted !== undefined) {
        const ex = exhaustion(readUsage(this.cfg.paths.usageFile), this.cfg.model);
        if (ex !== undefined) {
          await this.limitHit(ex, submitted);
          apiError = true;
          return { apiError };
        }
      }

      const parsed = parsePrompt(source);
      const directives: Directive[] = [...parsed.directives];
      let taskText = parsed.taskText;
      if (this.cfg.readTaskFiles) {
        for (const file of this.referencedTaskFiles(parsed.taskText)) {
          const content = await this.readTool(file, signal);
          if (content === undefined) continue;
          const sub = parsePrompt(content);
          directives.push(...sub.directives);
          if (sub.taskText !== '') taskText = `${taskText}\n${sub.taskText}`;
        }
      }
      if (taskText.trim() !== '') this.deps.screen.log(`● Working on: ${firstLine(taskText)}`);
      let worked = false;
      for (const d of directives) {
        if (signal.aborted) throw new Interrupted('interrupted');
        const r = await this.execDirective(d, signal);
        if (r === 'worked') worked = true;
        if (r === 'api-error') {
          apiError = true;
          return { apiError };
        }
      }
      if (taskText.trim() !== '' && !worked) await sleep(this.cfg.workMs, signal);
      if (taskText.trim() !== '') {
        this.answered();
        const text = `Done: ${firstLine(taskText, 120)}`;
        this.deps.screen.log(`● ${text}`);
        this.deps.transcript.assistantText(text);
        this.lastAssistant = text;
      }
      await this.stopHooks(signal);
      this.bumpUsage();
      this.deps.log.event('turn-end', { outcome: 'stop' });
      await this.runStatusLine(true);
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      this.deps.screen.log('  ⎿  Interrupted · What should Claude do instead?');
      this.deps.transcript.interrupted();
      this.deps.log.event('turn-end', { outcome: 'interrupted' });
    } finally {
      this.stopSpinner();
      if (this.currentAbort === abort) this.currentAbort = undefined;
      this.turn = undefined;
    }
    return { apiError };
  }

  /** The running turn produced output: an interrupt no longer puts its prompt back. */
  private answered(): void {
    if (this.turn !== undefined) this.turn.answered = true;
  }

  private cancelAutoContinue(): void {
    if (this.autoContinue === undefined) return;
    clearTimeout(this.autoContinue.timer);
    this.autoContinue = undefined;
    this.autoContinueAt = undefined;
    this.refreshFrame();
  }

  private async stopHooks(signal: AbortSignal): Promise<void> {
    for (let round = 0; round < 8; round++) {
      const outcomes = await this.runHooks('Stop', undefined, { stop_hook_active: round > 0, last_assistant_message: this.lastAssistant });
      const block = outcomes.find((o) => o.kind === 'blocking' || (o.kind === 'success' && o.json?.['decision'] === 'block'));
      if (block === undefined) return;
      const reason = block.kind === 'blocking' ? block.reason : String(block.kind === 'success' ? (block.json?.['reason'] ?? '') : '');
      this.deps.screen.log(`  ⎿  Stop hook feedback:`, `     [${block.result.command}]: ${reason}`);
      this.deps.transcript.user(`Stop hook feedback:\n[${block.result.command}]: ${reason}`);
      await sleep(this.cfg.workMs, signal);
    }
    this.deps.screen.log('  ⎿  Stop hooks blocked 8 times in a row; ending the turn');
  }

  private bumpUsage(): void {
    if (this.cfg.usagePerTurn <= 0) return;
    const now = new Date();
    const usage = readUsage(this.cfg.paths.usageFile);
    const five = (utilizationOf(usage, 'five_hour') ?? 0) + this.cfg.usagePerTurn;
    const seven = (utilizationOf(usage, 'seven_day') ?? 0) + this.cfg.usagePerTurn / 10;
    writeUsageAtomic(this.cfg.paths.usageFile, withUtilization(usage, now, five, seven));
  }

  private referencedTaskFiles(text: string): string[] {
    const out: string[] = [];
    // Quoted absolute paths may contain spaces; unquoted ones end at whitespace.
    for (const m of text.matchAll(/"(\/[^"\n]+?\.md)"|'(\/[^'\n]+?\.md)'|`(\/[^`\n]+?\.md)`|(?:^|[\s(<])(\/[^\s"'`()<>]+\.md)\b/g)) {
      const p = m[1] ?? m[2] ?? m[3] ?? m[4];
      if (p === undefined || out.includes(p)) continue;
      try {
        const st = statSync(p);
        if (st.isFile() && st.size <= 1024 * 1024) out.push(p);
      } catch {
        // not a file: ignore
      }
    }
    return out;
  }

  private async execDirective(d: Directive, signal: AbortSignal): Promise<'ok' | 'worked' | 'api-error'> {
    switch (d.kind) {
      case 'bash':
        await this.toolCall('Bash', { command: d.command, description: `Run: ${firstLine(d.command, 60)}` }, signal, async () => {
          const env = { ...this.cfg.env, ...(this.cfg.settings.env ?? {}), CLAUDECODE: '1', CLAUDE_CODE_ENTRYPOINT: 'cli', CLAUDE_CODE_CHILD_SESSION: '1' };
          const r = await runShell(d.command, { cwd: this.cfg.cwd, env, stdin: '', timeoutMs: this.cfg.bashTimeoutMs, signal });
          if (signal.aborted) throw new Interrupted('interrupted');
          const output = `${r.stdout}${r.stderr !== '' && r.stdout !== '' && !r.stdout.endsWith('\n') ? '\n' : ''}${r.stderr}`.replace(/\n$/, '');
          const ok = r.exitCode === 0;
          const content = ok ? output : `Error: ${r.timedOut ? `Command timed out after ${this.cfg.bashTimeoutMs}ms` : `Exit code ${r.exitCode ?? r.signal ?? 'unknown'}`}${output === '' ? '' : `\n${output}`}`;
          return { ok, content, display: ok ? output : content, result: { stdout: r.stdout, stderr: r.stderr, interrupted: false, isImage: false }, exitCode: r.exitCode };
        });
        return 'ok';
      case 'write': {
        const filePath = isAbsolute(d.path) ? d.path : resolve(this.cfg.cwd, d.path);
        await this.toolCall('Write', { file_path: filePath, content: d.content }, signal, () => {
          const existed = existsSync(filePath);
          mkdirSync(dirname(filePath), { recursive: true });
          writeFileSync(filePath, d.content);
          const content = existed ? `The file ${filePath} has been updated.` : `File created successfully at: ${filePath}`;
          return Promise.resolve({ ok: true, content, display: `Wrote ${d.content.split('\n').length} lines to ${filePath}`, result: { type: existed ? 'update' : 'create', filePath, content: d.content }, exitCode: 0 });
        });
        return 'ok';
      }
      case 'print':
        this.answered();
        this.deps.screen.log(`● ${d.text}`);
        this.deps.transcript.assistantText(d.text);
        this.lastAssistant = d.text;
        return 'ok';
      case 'work':
        await sleep(d.ms, signal);
        return 'worked';
      case 'exit':
        this.crash(d.code);
        // The process is gone; keep the turn from continuing if exit is intercepted (tests).
        throw new Interrupted('exited');
      case 'usage': {
        const now = new Date();
        writeUsageAtomic(this.cfg.paths.usageFile, withUtilization(readUsage(this.cfg.paths.usageFile), now, d.fiveHour, d.sevenDay));
        this.deps.screen.log(`  ⎿  (simulator) usage set: five_hour ${d.fiveHour}%${d.sevenDay === undefined ? '' : `, seven_day ${d.sevenDay}%`}`);
        this.deps.log.event('usage-set', { fiveHour: d.fiveHour, sevenDay: d.sevenDay ?? null });
        return 'ok';
      }
      case 'fail':
        await this.apiFailure(d.error);
        return 'api-error';
      case 'notify':
        await this.runHooks('Notification', d.notificationType, { message: d.message, notification_type: d.notificationType });
        return 'ok';
      case 'invalid':
        this.deps.screen.log(`  ⎿  (simulator) ${d.reason}`);
        return 'ok';
    }
  }

  private async readTool(file: string, signal: AbortSignal): Promise<string | undefined> {
    let text: string | undefined;
    await this.toolCall('Read', { file_path: file }, signal, () => {
      text = readFileSync(file, 'utf8');
      const lines = text.split('\n');
      const numbered = lines.map((l, i) => `${String(i + 1).padStart(6)}→${l}`).join('\n');
      return Promise.resolve({ ok: true, content: numbered, display: `Read ${lines.length} lines`, result: { type: 'text', file: { filePath: file, content: text, numLines: lines.length } }, exitCode: 0 });
    });
    return text;
  }

  private async permitted(tool: string, input: Record<string, unknown>, signal: AbortSignal): Promise<boolean> {
    const perms = this.cfg.settings.permissions ?? {};
    if (matchesPermission(perms.deny ?? [], tool, input)) {
      this.deps.screen.log(`  ⎿  Permission to use ${tool} has been denied.`);
      return false;
    }
    if (this.cfg.permissionMode === 'bypassPermissions' || tool === 'Read') return true;
    if (tool === 'Write' && this.cfg.permissionMode === 'acceptEdits') return true;
    if (matchesPermission(perms.allow ?? [], tool, input)) return true;
    if (!this.cfg.interactive) {
      this.deps.screen.log(`  ⎿  Claude requested permissions to use ${tool}, but you haven't granted it yet.`);
      return false;
    }
    const detail = typeof input['command'] === 'string' ? input['command'] : String(input['file_path'] ?? '');
    void this.runHooks('Notification', 'permission_prompt', { message: `Claude needs your permission to use ${tool}`, notification_type: 'permission_prompt' });
    this.deps.log.event('permission-prompt', { tool });
    const choice = await this.askDialog([
      `${tool === 'Bash' ? 'Bash command' : tool}`, `  ${detail}`, '', 'Do you want to proceed?', '❯ 1. Yes', '  2. No, and tell Claude what to do differently (esc)',
    ], 2, signal);
    return choice === 1;
  }

  private async toolCall(
    tool: string,
    input: Record<string, unknown>,
    signal: AbortSignal,
    exec: () => Promise<{ ok: boolean; content: string; display: string; result: unknown; exitCode: number | null }>,
  ): Promise<void> {
    const id = newToolUseId();
    this.answered();
    const summary = typeof input['command'] === 'string' ? input['command'] : String(input['file_path'] ?? '');
    this.deps.screen.log(`● ${tool}(${firstLine(summary, 160)})`);
    this.deps.transcript.toolUse(id, tool, input);
    const pre = preToolDecision(await this.runHooks('PreToolUse', tool, { tool_name: tool, tool_input: input, tool_use_id: id }, `PreToolUse:${tool}`));
    for (const e of pre.errors) this.deps.screen.log(`  ⎿  PreToolUse:${tool} hook error: ${e}`);
    if (pre.blocked) {
      const message = `PreToolUse:${tool} hook error: [${pre.blockingCommand ?? ''}]: ${pre.reason}`;
      this.deps.screen.log(...`  ⎿  Error: ${message}`.split('\n').map((l, i) => (i === 0 ? l : `     ${l}`)));
      this.deps.transcript.toolResult(id, message, true, `Error: ${message}`);
      this.deps.log.event('tool', { tool, toolUseId: id, input, blocked: true, reason: pre.reason });
      return;
    }
    if (!(await this.permitted(tool, input, signal))) {
      if (signal.aborted) throw new Interrupted('interrupted');
      const message = "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to tell you how to proceed.";
      this.deps.screen.log('  ⎿  User rejected the tool use');
      this.deps.transcript.toolResult(id, message, true, `Error: ${message}`);
      this.deps.log.event('tool', { tool, toolUseId: id, input, blocked: false, permitted: false });
      return;
    }
    let r: { ok: boolean; content: string; display: string; result: unknown; exitCode: number | null };
    try {
      r = await exec();
    } catch (e) {
      if (e instanceof Interrupted) throw e;
      r = { ok: false, content: `Error: ${(e as Error).message}`, display: `Error: ${(e as Error).message}`, result: `Error: ${(e as Error).message}`, exitCode: null };
    }
    const lines = r.display === '' ? ['(No content)'] : r.display.split('\n');
    const shown = lines.slice(0, 10);
    this.deps.screen.log(...shown.map((l, i) => `${i === 0 ? '  ⎿  ' : '     '}${l}`));
    if (lines.length > shown.length) this.deps.screen.log(`     … +${lines.length - shown.length} lines (ctrl+o to expand)`);
    this.deps.transcript.toolResult(id, r.content, !r.ok, r.ok ? r.result : r.content);
    this.deps.log.event('tool', { tool, toolUseId: id, input, blocked: false, ok: r.ok, exitCode: r.exitCode });
    if (r.ok) await this.runHooks('PostToolUse', tool, { tool_name: tool, tool_input: input, tool_response: r.result, tool_use_id: id });
    else await this.runHooks('PostToolUseFailure', tool, { tool_name: tool, tool_input: input, tool_use_id: id, error: r.content });
  }

  /**
   * A usage limit, as 2.1.332 shows it: the limit message and the real transcript record,
   * StopFailure (not Stop) with the message as `last_assistant_message`. A 5-hour (or Opus) limit
   * then says it continues automatically at the reset (and does: the prompt is submitted again
   * then, unless Esc or a new prompt cancels it); a weekly limit asks what to do instead.
   */
  private async limitHit(ex: Exhaustion, submitted: Submitted | undefined): Promise<void> {
    const message = limitMessage(ex, this.cfg.timeZone, this.cfg.limitWithZone);
    this.deps.screen.log(`  ⎿  ${message}`);
    this.deps.transcript.apiError(message, 'rate_limit', 429);
    this.deps.log.event('limit', { kind: ex.kind, message, resetsAt: ex.resetsAt?.toISOString() ?? null });
    this.deps.log.event('turn-end', { outcome: 'api-error', error: 'rate_limit' });
    await this.runHooks('StopFailure', 'rate_limit', { error: 'rate_limit', last_assistant_message: message });
    if (ex.resetsAt !== undefined && submitted !== undefined && !this.exiting) {
      const at = formatReset(ex.resetsAt, 'five_hour', this.cfg.timeZone);
      if (ex.kind === 'weekly') {
        this.deps.log.event('dialog', { dialog: 'limit-options' });
        const choice = await this.askDialog([
          'What do you want to do?', '❯ 1. Stop and wait for limit to reset', `  2. Wait here, then continue automatically at ${formatReset(ex.resetsAt, 'weekly', this.cfg.timeZone)}`, '  3. Upgrade your plan', 'Enter to confirm · Esc to cancel',
        ], 3, new AbortController().signal);
        if (choice === 2) this.scheduleAutoContinue(ex.resetsAt, at, submitted);
      } else {
        this.deps.screen.log(`● Usage limit reached · set to continue automatically at ${at}`);
        this.scheduleAutoContinue(ex.resetsAt, at, submitted);
      }
    }
    await this.runStatusLine(true);
  }

  private scheduleAutoContinue(resetsAt: Date, at: string, submitted: Submitted): void {
    this.cancelAutoContinue();
    // setTimeout takes at most 2^31-1 ms (~24.8 days); a later reset is not waited for here.
    const ms = Math.min(Math.max(0, resetsAt.getTime() - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      this.autoContinue = undefined;
      this.autoContinueAt = undefined;
      if (this.exiting) return;
      this.deps.log.event('auto-continue', { prompt: submitted.plain.slice(0, 200) });
      this.queue.push(submitted);
      if (!this.busy) void this.drain();
      this.refreshFrame();
    }, ms);
    timer.unref();
    this.autoContinue = { timer, submitted };
    this.autoContinueAt = at;
    this.refreshFrame();
  }

  private async apiFailure(kind: FailKind): Promise<void> {
    if (kind === 'rate_limit') {
      const usage = readUsage(this.cfg.paths.usageFile);
      const five = usage?.five_hour;
      const reset = five !== null && five !== undefined && typeof five.resets_at === 'string' ? new Date(five.resets_at) : new Date(Date.now() + 5 * 3600_000);
      await this.limitHit(exhaustion(usage, this.cfg.model) ?? { kind: 'five_hour', resetsAt: Number.isNaN(reset.getTime()) ? undefined : reset }, this.turn?.submitted);
      return;
    }
    const table: Record<Exclude<FailKind, 'rate_limit'>, { status: number; text: string }> = {
      overloaded: { status: 529, text: 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}' },
      server_error: { status: 500, text: 'API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}' },
      authentication_failed: { status: 401, text: 'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"OAuth token has expired. Please obtain a new token or refresh your existing token."}} · Please run /login' },
      billing_error: { status: 400, text: 'Credit balance is too low' },
      invalid_request: { status: 400, text: 'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"Invalid request"}}' },
    };
    const { status, text } = table[kind];
    this.deps.screen.log(`  ⎿  ${text}`);
    this.deps.transcript.apiError(text, kind, status);
    this.deps.log.event('turn-end', { outcome: 'api-error', error: kind });
    await this.runHooks('StopFailure', kind, { error: kind, last_assistant_message: text });
    await this.runStatusLine(true);
  }
}

/** `claude -p`: one turn without the TUI, then exit (1 on an API error). */
export async function runPrintMode(app: SimApp, prompt: string, source: 'startup' | 'resume'): Promise<number> {
  await app.runHooks('SessionStart', source, { source });
  const { apiError } = await app.runTurn({ bytes: Buffer.from(prompt, 'utf8'), input: prompt, ...promptText([{ text: prompt, pasted: false }], '0000') }, undefined);
  return apiError ? 1 : 0;
}
