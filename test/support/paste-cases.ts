/**
 * What Claude Code makes of a pasted prompt, case by case: the text pasted into the TUI, and the
 * prompt the model and the UserPromptSubmit hook get. Measured on the real CLI 2.1.332; the
 * conformance suite (test/conformance/paste.test.ts) checks the real CLI against this table and
 * test/sim/sim-units.test.ts checks the simulator (src/sim/prompt-text.ts) against it.
 * `ID` stands for the session's `<pasted_content>` id (four hex digits).
 */
export const PASTE_ID = 'ID';

const wrap = (text: string): string => `\n\n<pasted_content id="${PASTE_ID}">\n${text}\n</pasted_content id="${PASTE_ID}">\n`;

export const PASTE_CASES: readonly { name: string; pasted: string; prompt: string }[] = [
  { name: 'one line', pasted: 'one line', prompt: 'one line' },
  { name: 'three lines: kept as they are', pasted: 'a\nb\nc', prompt: 'a\nb\nc' },
  { name: 'four lines: wrapped', pasted: 'a\nb\nc\nd', prompt: wrap('a\nb\nc\nd') },
  { name: 'three line breaks: wrapped, trailing break dropped', pasted: 'a\n\nb\n', prompt: wrap('a\n\nb') },
  { name: '800 characters: kept', pasted: 'x'.repeat(800), prompt: 'x'.repeat(800) },
  { name: '801 characters: wrapped', pasted: 'x'.repeat(801), prompt: wrap('x'.repeat(801)) },
  { name: 'tab: four spaces', pasted: 'x\ty', prompt: 'x    y' },
  { name: 'CRLF and CR: LF', pasted: 'a\r\nb\rc', prompt: 'a\nb\nc' },
  { name: 'line and paragraph separators: LF', pasted: 'a\u2028b\u2029c', prompt: 'a\nb\nc' },
  { name: 'NEL: LF', pasted: 'a\u0085b', prompt: 'a\nb' },
  { name: 'C1 control: dropped', pasted: 'z\u009bz', prompt: 'zz' },
  { name: 'zero-width space, soft hyphen, BOM: dropped', pasted: 'a\u200bb\u00adc\ufeffd', prompt: 'abcd' },
  { name: 'a lone zero-width joiner and a combining grapheme joiner: dropped', pasted: 'x\u200dy\u034fz', prompt: 'xyz' },
  { name: 'emoji sequences: kept', pasted: 'family 👨\u200d👩\u200d👧 heart ❤\ufe0f flag 🇫🇷', prompt: 'family 👨\u200d👩\u200d👧 heart ❤\ufe0f flag 🇫🇷' },
  { name: 'decomposed accent: NFC', pasted: 'caf' + 'e\u0301', prompt: 'caf\u00e9' },
  { name: 'trailing spaces of the prompt: trimmed; leading: kept', pasted: '  lead and trail  ', prompt: '  lead and trail' },
  { name: 'inside a wrapped paste: inner trailing spaces kept, tabs expanded', pasted: 'l1\nl2  \nl3\tx\nl4\n', prompt: wrap('l1\nl2  \nl3    x\nl4') },
  { name: 'noncharacter, private use, NBSP, RTL script: kept', pasted: 'a\ufffeb\ue000c\u00a0d שלום', prompt: 'a\ufffeb\ue000c\u00a0d שלום' },
];

/**
 * A prompt submitted while a turn runs (Claude Code queues it): the whole prompt is trimmed, so
 * leading whitespace goes too, and a wrapped paste loses the blank lines before and the line break
 * after its `<pasted_content>` wrapper (measured on the real CLI 2.1.332).
 */
export const QUEUED_PASTE_CASES: readonly { name: string; pasted: string; prompt: string }[] = [
  { name: 'queued, four lines: wrapped, the wrapper trimmed', pasted: 'a\nb\nc\nd', prompt: wrap('a\nb\nc\nd').trim() },
  { name: 'queued, leading and trailing spaces: trimmed', pasted: '  lead and trail  ', prompt: 'lead and trail' },
  { name: 'queued, 801 characters: wrapped, the wrapper trimmed', pasted: 'x'.repeat(801), prompt: wrap('x'.repeat(801)).trim() },
];

/** Replaces the session's `<pasted_content>` id with {@link PASTE_ID}. */
export function withPasteId(prompt: string): string {
  return prompt.replace(/<(\/?)pasted_content id="[0-9a-f]+">/g, `<$1pasted_content id="${PASTE_ID}">`);
}
