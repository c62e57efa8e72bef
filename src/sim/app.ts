import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parsePrompt, type Directive, type FailKind } from './directives.js';
import { preToolDecision, runHookCommands, runShell, type HookOutcome } from './hooks.js';
import { InputParser, type InputEvent } from './input.js';
import type { SimPaths } from './paths.js';
import { newToolUseId, SIM_VERSION, type SimLog, type Transcript } from './records.js';
import type { Screen } from './screen.js';
import { hooksFor, type Settings } from './settings.js';
import {
  exhaustion, limitMessage, LOGIN_HINT, readUsage, statusRateLimits, utilizationOf, withUtilization, writeUsageAtomic, type Exhaustion,
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
  private queue: Buffer[] = [];
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
    return {
      session_id: this.cfg.sessionId,
      transcript_path: this.cfg.transcriptPath,
      cwd: this.cfg.cwd,
      permission_mode: this.cfg.permissionMode,
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
    const input: Record<string, unknown> = {
      hook_event_name: 'Status',
      session_id: this.cfg.sessionId,
      transcript_path: this.cfg.transcriptPath,
      cwd: this.cfg.cwd,
      model: { id: this.cfg.model, display_name: this.cfg.model },
      workspace: { current_dir: this.cfg.cwd, project_dir: this.cfg.cwd },
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

  private defaultStatus(): string {
    if (this.statusText !== undefined) return this.statusText;
    return this.cfg.permissionMode === 'bypassPermissions' ? '⏵⏵ bypass permissions on (shift+tab to cycle)' : '? for shortcuts';
  }

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
      queued: this.queue.map((q) => firstLine(q.toString('utf8'), 60)),
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
    if (initialPrompt !== undefined && initialPrompt.trim() !== '') this.submitBytes(Buffer.from(initialPrompt, 'utf8'), false);
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
    for (const t of [this.idleTimer, this.hintTimer]) if (t !== undefined) clearTimeout(t);
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
        break;
      case 'key':
        break;
    }
  }

  private onCtrlC(): void {
    const now = Date.now();
    if (now - this.ctrlCAt < 2000) {
      void this.exit(0, 'prompt_input_exit');
      return;
    }
    this.ctrlCAt = now;
    if (this.busy) this.currentAbort?.abort();
    else this.segments = [];
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
    const pasted = this.segments.some((s) => s.pasted);
    this.segments = [];
    if (bytes.toString('utf8').trim() === '') return;
    this.submitBytes(bytes, pasted);
  }

  private submitBytes(bytes: Buffer, pasted: boolean): void {
    const text = bytes.toString('utf8');
    const command = /^\s*\/\w+/.test(text) ? text.trim().split(/\s+/)[0] : undefined;
    this.deps.log.received({
      sha256: sha256(bytes), bytes: bytes.length, textSha256: sha256(normalizeNewlines(text)),
      pasted, queued: this.busy, ...(command !== undefined ? { command } : {}), preview: text.slice(0, 200),
    });
    if (command === '/exit' || command === '/quit') {
      void this.exit(0, 'prompt_input_exit');
      return;
    }
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.queue.push(bytes);
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
        const text = next.toString('utf8');
        if (/^\s*\/\w+/.test(text)) {
          this.deps.screen.log(`> ${firstLine(text)}`, `  ⎿  (simulator) ${text.trim().split(/\s+/)[0] ?? ''} is not supported`);
          continue;
        }
        await this.runTurn(text, undefined);
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
  async runTurn(prompt: string | undefined, script: string | undefined): Promise<{ apiError: boolean }> {
    const abort = new AbortController();
    this.currentAbort = abort;
    const signal = abort.signal;
    const source = prompt ?? script ?? '';
    let apiError = false;
    try {
      if (prompt !== undefined) {
        const display = prompt.length > PASTE_PLACEHOLDER_CHARS ? `[Pasted text +${normalizeNewlines(prompt).split('\n').length} lines]` : normalizeNewlines(prompt);
        this.deps.screen.log('', ...display.split('\n').map((l, i) => `${i === 0 ? '> ' : '  '}${l}`));
        const outcomes = await this.runHooks('UserPromptSubmit', undefined, { prompt: normalizeNewlines(prompt) });
        const blocked = outcomes.find((o) => o.kind === 'blocking' || (o.kind === 'success' && o.json?.['decision'] === 'block'));
        if (blocked !== undefined) {
          const reason = blocked.kind === 'blocking' ? blocked.reason : String(blocked.kind === 'success' ? (blocked.json?.['reason'] ?? '') : '');
          this.deps.screen.log(`  ⎿  UserPromptSubmit operation blocked by hook:`, `     ${reason}`);
          this.deps.log.event('prompt-blocked', { reason });
          return { apiError };
        }
        this.deps.transcript.user(normalizeNewlines(prompt));
      } else {
        this.deps.screen.log('', '● Running startup script (CLAUDE_SIM_SCRIPT)');
      }
      this.startSpinner();
      this.deps.log.event('turn-start', { script: prompt === undefined });

      if (prompt !== undefined) {
        const ex = exhaustion(readUsage(this.cfg.paths.usageFile), this.cfg.model);
        if (ex !== undefined) {
          await this.limitHit(ex);
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
    }
    return { apiError };
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

  /** A usage limit: the real message, the real transcript record, StopFailure (not Stop). */
  private async limitHit(ex: Exhaustion): Promise<void> {
    const message = limitMessage(ex, this.cfg.timeZone, this.cfg.limitWithZone);
    this.deps.screen.log(`  ⎿  ${message}`, `     ${LOGIN_HINT}`);
    this.deps.transcript.apiError(message, 'rate_limit', 429);
    this.deps.log.event('limit', { kind: ex.kind, message, resetsAt: ex.resetsAt?.toISOString() ?? null });
    this.deps.log.event('turn-end', { outcome: 'api-error', error: 'rate_limit' });
    await this.runHooks('StopFailure', 'rate_limit', { error: 'rate_limit', error_type: 'rate_limit', error_message: message });
    await this.runStatusLine(true);
  }

  private async apiFailure(kind: FailKind): Promise<void> {
    if (kind === 'rate_limit') {
      const usage = readUsage(this.cfg.paths.usageFile);
      const five = usage?.five_hour;
      const reset = five !== null && five !== undefined && typeof five.resets_at === 'string' ? new Date(five.resets_at) : new Date(Date.now() + 5 * 3600_000);
      await this.limitHit(exhaustion(usage, this.cfg.model) ?? { kind: 'session', resetsAt: Number.isNaN(reset.getTime()) ? undefined : reset });
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
    await this.runHooks('StopFailure', kind, { error: kind, error_type: kind, error_message: text });
    await this.runStatusLine(true);
  }
}

/** `claude -p`: one turn without the TUI, then exit (1 on an API error). */
export async function runPrintMode(app: SimApp, prompt: string, source: 'startup' | 'resume'): Promise<number> {
  await app.runHooks('SessionStart', source, { source });
  const { apiError } = await app.runTurn(prompt, undefined);
  return apiError ? 1 : 0;
}
