/**
 * Terminal input decoding, modelled on Claude Code's TUI (Ink, raw mode, bracketed paste enabled).
 *
 * Works on raw bytes so that the text a prompt is made of is exactly what the terminal delivered
 * (no UTF-8 re-encoding, CR bytes kept). Rules, in the order they matter to a controller:
 * - `ESC[200~ … ESC[201~` is a bracketed paste; everything between the markers is text, including
 *   CR and LF bytes, and may span several reads.
 * - An Enter (CR) is a submit only when it arrives in a read of its own. A CR in the same read as
 *   pasted/typed text is not a submit: after a bracketed paste, and at the end of an unbracketed
 *   multi-character read, it is swallowed; inside an unbracketed multi-character read it is a line
 *   break (Ink treats such a read as a paste).
 * - A lone CR arriving less than `enterGuardMs` after a paste is swallowed too (Claude Code's
 *   "Enter too soon after the paste" behaviour; send Enter after a short delay).
 */

export type InputEvent =
  | { kind: 'text'; bytes: Buffer; pasted: boolean }
  | { kind: 'enter' }
  | { kind: 'enter-swallowed'; reason: 'same-read' | 'guard-window' }
  | { kind: 'newline' }
  | { kind: 'backspace' }
  | { kind: 'ctrl-c' }
  | { kind: 'ctrl-d' }
  | { kind: 'escape' }
  | { kind: 'key'; name: string };

const PASTE_START = Buffer.from('\x1b[200~');
const PASTE_END = Buffer.from('\x1b[201~');
const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;

export interface InputParserOptions {
  enterGuardMs: number;
}

export class InputParser {
  private inPaste = false;
  private pasteParts: Buffer[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private lastPasteAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: InputParserOptions) {}

  get pasting(): boolean {
    return this.inPaste;
  }

  feed(chunk: Buffer, nowMs: number): InputEvent[] {
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    const events: InputEvent[] = [];
    let sawText = false;
    let sawPaste = false;
    let i = 0;
    // Count printable bytes outside escape sequences: >1 in one read means an unbracketed paste.
    const printableCount = this.inPaste ? 0 : countPrintable(data);
    const unbracketedPaste = printableCount > 1;
    let text: number[] = [];
    const flushText = (): void => {
      if (text.length > 0) {
        events.push({ kind: 'text', bytes: Buffer.from(text), pasted: unbracketedPaste });
        text = [];
        sawText = true;
      }
    };

    while (i < data.length) {
      if (this.inPaste) {
        const end = data.indexOf(PASTE_END, i);
        if (end < 0) {
          // Keep a possible partial end marker for the next read.
          const keep = partialSuffix(data, PASTE_END);
          this.pasteParts.push(data.subarray(i, data.length - keep));
          this.pending = Buffer.from(data.subarray(data.length - keep));
          i = data.length;
          break;
        }
        this.pasteParts.push(data.subarray(i, end));
        const bytes = Buffer.concat(this.pasteParts);
        this.pasteParts = [];
        this.inPaste = false;
        events.push({ kind: 'text', bytes, pasted: true });
        sawPaste = true;
        this.lastPasteAt = nowMs;
        i = end + PASTE_END.length;
        continue;
      }
      const b = data[i] ?? 0;
      if (b === ESC) {
        flushText();
        if (data.length - i >= PASTE_START.length && data.subarray(i, i + PASTE_START.length).equals(PASTE_START)) {
          this.inPaste = true;
          i += PASTE_START.length;
          continue;
        }
        const seqLen = escapeLength(data, i);
        if (seqLen === 0) {
          // Incomplete sequence at the end of the read: a lone ESC is the Escape key, otherwise wait for more.
          if (i === data.length - 1) {
            events.push({ kind: 'escape' });
            i++;
          } else {
            this.pending = Buffer.from(data.subarray(i));
            i = data.length;
          }
          continue;
        }
        const seq = data.subarray(i, i + seqLen);
        if (seqLen === 2 && seq[1] === CR) events.push({ kind: 'newline' });
        else events.push({ kind: 'key', name: JSON.stringify(seq.toString('latin1')) });
        i += seqLen;
        continue;
      }
      if (b === CR) {
        if (sawPaste) {
          flushText();
          events.push({ kind: 'enter-swallowed', reason: 'same-read' });
        } else if (unbracketedPaste) {
          const last = i === data.length - 1;
          if (last) {
            flushText();
            events.push({ kind: 'enter-swallowed', reason: 'same-read' });
          } else text.push(b);
        } else if (sawText || text.length > 0) {
          flushText();
          events.push({ kind: 'enter-swallowed', reason: 'same-read' });
        } else if (nowMs - this.lastPasteAt < this.options.enterGuardMs) {
          events.push({ kind: 'enter-swallowed', reason: 'guard-window' });
        } else {
          flushText();
          events.push({ kind: 'enter' });
        }
        i++;
        continue;
      }
      if (b === LF) {
        if (unbracketedPaste) text.push(b);
        else {
          flushText();
          events.push({ kind: 'newline' });
        }
        i++;
        continue;
      }
      if (b === 0x7f || b === 0x08) {
        flushText();
        events.push({ kind: 'backspace' });
        i++;
        continue;
      }
      if (b === 0x03) {
        flushText();
        events.push({ kind: 'ctrl-c' });
        i++;
        continue;
      }
      if (b === 0x04) {
        flushText();
        events.push({ kind: 'ctrl-d' });
        i++;
        continue;
      }
      if (b < 0x20 && b !== 0x09) {
        flushText();
        events.push({ kind: 'key', name: `ctrl-${String.fromCharCode(b + 0x60)}` });
        i++;
        continue;
      }
      text.push(b);
      i++;
    }
    flushText();
    if (unbracketedPaste) this.lastPasteAt = nowMs;
    return events;
  }
}

function countPrintable(data: Buffer): number {
  let n = 0;
  let i = 0;
  while (i < data.length) {
    const b = data[i] ?? 0;
    if (b === ESC) {
      if (data.subarray(i, i + PASTE_START.length).equals(PASTE_START)) return 0; // bracketed: handled separately
      const len = escapeLength(data, i);
      i += len === 0 ? data.length : len;
      continue;
    }
    // UTF-8 continuation bytes do not count as characters.
    if (b >= 0x20 && b !== 0x7f && (b & 0xc0) !== 0x80) n++;
    i++;
  }
  return n;
}

/** Length of the escape sequence starting at `i` (ESC at data[i]); 0 when incomplete. */
function escapeLength(data: Buffer, i: number): number {
  const next = data[i + 1];
  if (next === undefined) return 0;
  if (next === 0x5b /* [ */) {
    for (let j = i + 2; j < data.length; j++) {
      const c = data[j] ?? 0;
      if (c >= 0x40 && c <= 0x7e) return j - i + 1;
    }
    return 0;
  }
  if (next === 0x4f /* O */) return data[i + 2] === undefined ? 0 : 3;
  return 2; // ESC + key: Alt-modified key
}

/** Length of the longest suffix of `data` that is a proper prefix of `marker`. */
function partialSuffix(data: Buffer, marker: Buffer): number {
  for (let len = Math.min(marker.length - 1, data.length); len > 0; len--) {
    if (data.subarray(data.length - len).equals(marker.subarray(0, len))) return len;
  }
  return 0;
}
