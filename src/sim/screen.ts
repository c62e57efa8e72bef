/**
 * A small log-update style renderer: conversation output scrolls above; the bottom region
 * (spinner, queued prompts, the input box, the status region) is erased and redrawn in place.
 * The layout follows the real CLI 2.1.332: the input box is a `❯` line (and its continuation
 * lines) between two horizontal rules; under it the status line's output, then the mode line
 * (`⏵⏵ bypass permissions on (shift+tab to cycle)`, `· esc to interrupt` while a turn runs).
 */

export interface Frame {
  spinner?: string;
  queued: string[];
  inputLines: string[];
  dialog?: string[];
  /** The status region's lines, top to bottom. */
  status: string[];
  hint?: string;
}

/** Terminal columns a code point occupies (0, 1 or 2); good enough for emoji and CJK. */
export function charWidth(cp: number): number {
  if (cp === 0x200d || (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) || (cp >= 0x2600 && cp <= 0x27bf) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

/** Replaces control characters (so input text cannot move the cursor) and cuts to `width` columns. */
export function fitLine(text: string, width: number): string {
  let out = '';
  let used = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const safe = cp < 0x20 || cp === 0x7f ? (cp === 0x09 ? ' ' : '?') : ch;
    const w = safe === ch ? charWidth(cp) : 1;
    if (used + w > width) {
      return `${out}…`;
    }
    out += safe;
    used += w;
  }
  return out;
}

/** Replaces C0 controls (except tab) and DEL with `?`, so printed text cannot drive the terminal. */
export function stripControls(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    out += (cp < 0x20 && cp !== 0x09) || cp === 0x7f ? '?' : ch;
  }
  return out;
}

export function visibleWidth(text: string): number {
  let used = 0;
  for (const ch of text) used += charWidth(ch.codePointAt(0) ?? 0);
  return used;
}

export function renderFrame(frame: Frame, columns: number, rows: number): string[] {
  const width = Math.max(20, columns - 1);
  const lines: string[] = [];
  if (frame.spinner !== undefined) lines.push(fitLine(frame.spinner, width));
  for (const q of frame.queued.slice(-3)) lines.push(fitLine(`  ⎿ queued: ${q}`, width));
  lines.push('');
  const box: string[] = [];
  if (frame.dialog !== undefined) {
    for (const d of frame.dialog) box.push(fitLine(`  ${d}`, width));
  } else {
    const maxInput = Math.max(1, rows - 9);
    const input = frame.inputLines.length === 0 ? [''] : frame.inputLines;
    const shown = input.length > maxInput ? input.slice(-maxInput) : input;
    shown.forEach((l, idx) => box.push(fitLine(`${idx === 0 && shown === input ? '❯ ' : '  '}${l}`, width)));
  }
  lines.push('─'.repeat(width));
  lines.push(...box);
  lines.push('─'.repeat(width));
  for (const st of frame.status) lines.push(fitLine(`  ${st}`, width));
  if (frame.hint !== undefined) lines.push(fitLine(`  ${frame.hint}`, width));
  return lines.slice(-(Math.max(3, rows - 1)));
}

export interface ScreenIO {
  write(s: string): void;
  columns(): number;
  rows(): number;
  isTTY: boolean;
}

export class Screen {
  private prevHeight = 0;
  private frame: Frame = { queued: [], inputLines: [], status: [] };
  private pendingLog: string[] = [];
  private scheduled = false;

  constructor(private readonly io: ScreenIO) {}

  start(): void {
    if (this.io.isTTY) this.io.write('\x1b[?2004h\x1b[?25l'); // bracketed paste on, cursor hidden (Claude Code does both)
    this.render();
  }

  stop(): void {
    this.flush();
    if (this.io.isTTY) this.io.write('\r\n\x1b[?2004l\x1b[?25h');
  }

  /** Conversation output: printed once above the input box. */
  log(...lines: string[]): void {
    for (const l of lines) for (const part of l.split(/\r\n|\r|\n/)) this.pendingLog.push(stripControls(part));
    this.schedule();
  }

  update(patch: Partial<Frame>): void {
    this.frame = { ...this.frame, ...patch };
    this.schedule();
  }

  /** Drops optional fields (spinner, hint, dialog). */
  clear(field: 'spinner' | 'hint' | 'dialog'): void {
    const next = { ...this.frame };
    delete next[field];
    this.frame = next;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.render();
    });
  }

  flush(): void {
    this.render();
  }

  redrawAll(): void {
    if (this.io.isTTY) this.io.write('\x1b[2J\x1b[H');
    this.prevHeight = 0;
    this.render();
  }

  private render(): void {
    if (!this.io.isTTY) {
      if (this.pendingLog.length > 0) this.io.write(`${this.pendingLog.join('\n')}\n`);
      this.pendingLog = [];
      return;
    }
    let out = '';
    if (this.prevHeight > 0) out += `\r${this.prevHeight > 1 ? `\x1b[${this.prevHeight - 1}A` : ''}\x1b[J`;
    else out += '\r\x1b[J';
    for (const l of this.pendingLog) out += `${l}\r\n`;
    this.pendingLog = [];
    const lines = renderFrame(this.frame, this.io.columns(), this.io.rows());
    out += lines.join('\r\n');
    this.prevHeight = lines.length;
    this.io.write(out);
  }
}
