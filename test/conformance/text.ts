/**
 * Arbitrary UTF-8 test text that a terminal paste into Claude Code carries unchanged: letters,
 * symbols and punctuation of many scripts (Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari,
 * kana, CJK, Hangul), emoji and other astral characters, shell metacharacters, spaces and line
 * breaks. Left out on purpose, because the real CLI rewrites them (see docs/simulator.md, "What
 * Claude Code does to a pasted prompt"): tabs, control and format characters, line/paragraph
 * separators, combining marks and anything that NFC normalisation would change.
 */

const RANGES: readonly [number, number][] = [
  [0x20, 0x7e], [0xa1, 0xac], [0xae, 0x2ff], [0x370, 0x3ff], [0x400, 0x4ff], [0x5d0, 0x5ea], [0x620, 0x64a],
  [0x904, 0x939], [0x3041, 0x3096], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0x2200, 0x22ff], [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6c5], [0x10000, 0x1000b],
];
const CHANGED_BY_CLAUDE = /[\p{M}\p{C}\p{Zl}\p{Zp}\t]/u;

/** A deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** At least `bytes` bytes of UTF-8 (seeded, so a failure can be replayed), ending without a line break. */
export function arbitraryText(bytes: number, seed: number): string {
  const rnd = prng(seed);
  const out: string[] = [];
  let n = 0;
  while (n < bytes + 8) {
    let c: string;
    if (rnd() < 0.02) c = '\n';
    else {
      const [lo, hi] = RANGES[Math.floor(rnd() * RANGES.length)] as [number, number];
      c = String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
      if (CHANGED_BY_CLAUDE.test(c) || c.normalize('NFC') !== c) continue;
    }
    if (c === '\n' && (out.length === 0 || out.at(-1) === '\n')) continue;
    out.push(c);
    n += Buffer.byteLength(c);
  }
  let text = out.join('');
  while (text.endsWith('\n') || text.endsWith(' ')) text = text.slice(0, -1);
  if (text.normalize('NFC') !== text) throw new Error('arbitraryText: not NFC-stable');
  return text;
}
