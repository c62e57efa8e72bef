/**
 * What Claude Code's input does to the text of a prompt before the model, the UserPromptSubmit
 * hook and the transcript see it. Measured on the real CLI 2.1.332 through tmux pastes
 * (test/conformance/, docs/simulator.md "What Claude Code does to a pasted prompt"):
 *
 * - CRLF, CR, NEL (U+0085), LINE and PARAGRAPH SEPARATOR (U+2028/9) become LF;
 * - a tab becomes four spaces;
 * - other C0 controls, DEL and C1 controls are dropped;
 * - invisible format and ignorable characters (zero-width space and joiner, bidi marks, BOM,
 *   soft hyphen, combining grapheme joiner, variation selectors) are dropped, except inside
 *   emoji: a joiner between two pictographs, a variation selector or skin tone after one, and
 *   the tag characters of a flag sequence stay;
 * - the text is NFC-normalised (`e` + U+0301 becomes `é`);
 * - trailing whitespace at the end of the prompt is trimmed; a prompt submitted while a turn runs
 *   (queued) is trimmed at both ends, after the wrapping below;
 * - a paste longer than 800 characters or holding more than two line breaks is handed on as
 *   `\n\n<pasted_content id="XXXX">\n<text>\n</pasted_content id="XXXX">\n` (XXXX: four hex
 *   digits, one id per session), where the echo in the TUI shows it in full.
 */

export interface InputPiece {
  text: string;
  pasted: boolean;
}

export interface PromptText {
  /** What the model, the UserPromptSubmit hook and the transcript get (pastes wrapped). */
  prompt: string;
  /** The same text without the `<pasted_content>` wrappers (what the TUI echoes). */
  plain: string;
}

const LINE_BREAKS = /\r\n|[\r\u0085\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- dropping control characters is the point
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
const FORMAT = /\p{Cf}/u;
const PICTO = /\p{Extended_Pictographic}/u;

/** Invisible format or ignorable characters (default-ignorable code points Claude Code drops). */
function isIgnorable(cp: number, c: string): boolean {
  return FORMAT.test(c) || cp === 0x034f || cp === 0x115f || cp === 0x1160 || cp === 0x17b4 || cp === 0x17b5 || (cp >= 0x180b && cp <= 0x180f) ||
    cp === 0x3164 || cp === 0xffa0 || (cp >= 0xfe00 && cp <= 0xfe0f) || (cp >= 0xe0000 && cp <= 0xe0fff);
}

/** Variation selectors 15/16 and skin-tone modifiers, which sit between a pictograph and a joiner. */
function isEmojiModifier(cp: number): boolean {
  return cp === 0xfe0e || cp === 0xfe0f || (cp >= 0x1f3fb && cp <= 0x1f3ff);
}

/** Drops ignorable characters, keeping those that hold an emoji sequence together. */
function dropIgnorables(text: string): string {
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    const cp = c.codePointAt(0) ?? 0;
    if (!isIgnorable(cp, c)) {
      out.push(c);
      continue;
    }
    const prev = out.at(-1) ?? '';
    const prevBase = [...out].reverse().find((p) => !isEmojiModifier(p.codePointAt(0) ?? 0)) ?? '';
    const next = chars[i + 1] ?? '';
    const prevCp = prev.codePointAt(0) ?? 0;
    const keep =
      (cp === 0x200d && PICTO.test(prevBase) && PICTO.test(next)) ||
      ((cp === 0xfe0f || cp === 0xfe0e) && PICTO.test(prev)) ||
      (cp >= 0xe0020 && cp <= 0xe007f && (prevCp === 0x1f3f4 || (prevCp >= 0xe0020 && prevCp <= 0xe007f)));
    if (keep) out.push(c);
  }
  return out.join('');
}

/** The characters of one piece of input as Claude Code keeps them (before trimming and wrapping). */
export function normalizeInput(text: string): string {
  const lines = text.replace(LINE_BREAKS, '\n').replace(/\t/g, '    ').replace(CONTROLS, '');
  return dropIgnorables(lines).normalize('NFC');
}

/** Whether Claude Code hands a paste on wrapped in `<pasted_content>`. */
export function isLongPaste(normalized: string): boolean {
  return normalized.length > 800 || (normalized.match(/\n/g)?.length ?? 0) > 2;
}

/**
 * The prompt Claude Code makes of what was typed and pasted into its input box; `queued`: it was
 * submitted while a turn ran (the real CLI then trims the whole prompt, wrappers included).
 */
export function promptText(pieces: readonly InputPiece[], pasteId: string, queued = false): PromptText {
  const normalized = pieces.map((p) => ({ ...p, text: normalizeInput(p.text) }));
  const end = (t: string): string => (queued ? t.trim() : t.trimEnd());
  const plain = end(normalized.map((p) => p.text).join(''));
  if (!normalized.some((p) => p.pasted && isLongPaste(p.text))) return { prompt: plain, plain };
  let prompt = '';
  for (const p of normalized) {
    prompt += p.pasted && isLongPaste(p.text) ? `\n\n<pasted_content id="${pasteId}">\n${p.text.trimEnd()}\n</pasted_content id="${pasteId}">\n` : p.text;
  }
  return { prompt: queued ? prompt.trim() : prompt, plain };
}
