/**
 * Pure helpers for the shell's word expansions: field splitting by IFS, the pattern operators of
 * `${x#…}`/`${x%…}`/`${x/…/…}`, substrings and case conversion. The analyzer applies them to values
 * it knows; anything it cannot compute is "not statically known" (MARK_ANY), never "empty".
 */
import { MARK_ANY, MARK_EMPTYABLE, MARK_NONEMPTY } from './paths.js';

export const DEFAULT_IFS = ' \t\n';

export interface Split {
  fields: string[];
  /** The text started with a separator (ends the word before it). */
  leading: boolean;
  /** The text ended with a separator (the next text starts a new word). */
  trailing: boolean;
}

/**
 * Splits the result of an unquoted expansion into fields by IFS. Empty fields (two non-blank
 * separators in a row) are dropped: an empty argument deletes or writes nothing, so the guard does not
 * need them. `leading`/`trailing` say whether the text starts or ends with a separator, which ends the
 * word before it or starts a new one after it.
 */
export function splitFields(text: string, ifs: string): Split {
  if (ifs === '' || text === '') return { fields: text === '' ? [] : [text], leading: false, trailing: false };
  const fields: string[] = [];
  let cur = '';
  for (const c of text) {
    if (ifs.includes(c)) {
      if (cur !== '') fields.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur !== '') fields.push(cur);
  return { fields, leading: ifs.includes(text[0] as string), trailing: ifs.includes(text[text.length - 1] as string) };
}

/**
 * Shell pattern matching of a whole text (`*`, `?`, `[…]`, `\x`), by dynamic programming: O(pattern ×
 * text), whatever the pattern (a regular expression would backtrack exponentially on `*a*a*a*b`).
 */
function compilePattern(pat: string): ({ k: 'star' } | { k: 'one'; test: (c: string) => boolean })[] | null {
  const out: ({ k: 'star' } | { k: 'one'; test: (c: string) => boolean })[] = [];
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i] as string;
    if (c === '\\' && i + 1 < pat.length) {
      const lit = pat[++i] as string;
      out.push({ k: 'one', test: (x) => x === lit });
    } else if (c === '*') {
      if (out[out.length - 1]?.k !== 'star') out.push({ k: 'star' });
    } else if (c === '?') out.push({ k: 'one', test: () => true });
    else if (c === '[') {
      const end = pat.indexOf(']', i + 2);
      if (end < 0) { out.push({ k: 'one', test: (x) => x === '[' }); continue; }
      let body = pat.slice(i + 1, end);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-' && k + 2 < body.length) { ranges.push([body[k] as string, body[k + 2] as string]); k += 2; }
        else ranges.push([body[k] as string, body[k] as string]);
      }
      out.push({ k: 'one', test: (x) => ranges.some(([a, b]) => x >= a && x <= b) !== neg });
      i = end;
    } else out.push({ k: 'one', test: (x) => x === c });
  }
  return out;
}

/** For each length L of `t`'s prefixes, whether the pattern matches t[0..L). */
function prefixMatches(pat: ReturnType<typeof compilePattern>, t: string): boolean[] {
  const p = pat ?? [];
  // reach[j]: the pattern's first i elements can match t[0..j)
  let reach: boolean[] = new Array<boolean>(t.length + 1).fill(false);
  reach[0] = true;
  for (const el of p) {
    const next: boolean[] = new Array<boolean>(t.length + 1).fill(false);
    if (el.k === 'star') {
      let any = false;
      for (let j = 0; j <= t.length; j++) { any = any || (reach[j] as boolean); next[j] = any; }
    } else {
      for (let j = 0; j < t.length; j++) if (reach[j] === true && el.test(t[j] as string)) next[j + 1] = true;
    }
    reach = next;
  }
  return reach;
}

function reversePattern(pat: string): string {
  // split into tokens (escapes and brackets stay whole), reverse them
  const toks: string[] = [];
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i] as string;
    if (c === '\\' && i + 1 < pat.length) { toks.push(pat.slice(i, i + 2)); i++; continue; }
    if (c === '[') {
      const end = pat.indexOf(']', i + 2);
      if (end >= 0) { toks.push(pat.slice(i, end + 1)); i = end; continue; }
    }
    toks.push(c);
  }
  return toks.reverse().join('');
}

/** `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`. Null when it cannot be evaluated. */
export function removePattern(v: string, op: string, pat: string): string | null {
  if (/[\uE000-\uE002]/.test(pat) || v.length > 4096 || pat.length > 1024) return null;
  const prefix = op.startsWith('#');
  const longest = op.length === 2;
  if (prefix) {
    const m = prefixMatches(compilePattern(pat), v);
    if (longest) { for (let k = v.length; k >= 0; k--) if (m[k] === true) return v.slice(k); }
    else for (let k = 0; k <= v.length; k++) if (m[k] === true) return v.slice(k);
    return v;
  }
  const rv = [...v].reverse().join('');
  const m = prefixMatches(compilePattern(reversePattern(pat)), rv);
  if (longest) { for (let k = v.length; k >= 0; k--) if (m[k] === true) return v.slice(0, v.length - k); }
  else for (let k = 0; k <= v.length; k++) if (m[k] === true) return v.slice(0, v.length - k);
  return v;
}

/**
 * `${v/p/r}`, `${v//p/r}`, `${v/#p/r}`, `${v/%p/r}` for a pattern without wildcards (the common
 * `${path//\//_}`); with wildcards null (not statically known).
 */
export function replacePattern(v: string, op: string, pat: string, rep: string): string | null {
  if (pat === '') return v;
  if (/[\uE000-\uE002]/.test(pat) || /(^|[^\\])[*?[]/.test(pat)) return null;
  const lit = pat.replace(/\\(.)/g, '$1');
  if (op === '/#') return v.startsWith(lit) ? rep + v.slice(lit.length) : v;
  if (op === '/%') return v.endsWith(lit) ? v.slice(0, v.length - lit.length) + rep : v;
  if (op === '//') return v.split(lit).join(rep);
  const i = v.indexOf(lit);
  return i < 0 ? v : v.slice(0, i) + rep + v.slice(i + lit.length);
}

/** `${v:off}` / `${v:off:len}` with literal numbers. Null when not computable. */
export function substring(v: string, off: string, len: string | undefined): string | null {
  const o = Number(off.trim());
  if (!Number.isInteger(o)) return null;
  const start = o < 0 ? Math.max(0, v.length + o) : Math.min(o, v.length);
  if (len === undefined) return v.slice(start);
  const l = Number(len.trim());
  if (!Number.isInteger(l)) return null;
  if (l < 0) return v.slice(start, Math.max(start, v.length + l));
  return v.slice(start, start + l);
}

/** `^ ^^ , ,,` and `@U @L @u`. */
export function caseConvert(v: string, op: string): string {
  switch (op) {
    case '^^': case 'U': return v.toUpperCase();
    case ',,': case 'L': return v.toLowerCase();
    case '^': case 'u': return v.charAt(0).toUpperCase() + v.slice(1);
    case ',': return v.charAt(0).toLowerCase() + v.slice(1);
    default: return v;
  }
}

/** A value with unknown parts, for rendering in a reason. */
export function isUnknown(v: string): boolean {
  return v.includes(MARK_ANY);
}

export function hasAnyMarker(v: string): boolean {
  return v.includes(MARK_ANY) || v.includes(MARK_EMPTYABLE) || v.includes(MARK_NONEMPTY);
}

/** Unquoted glob characters that make a word a pattern (`*`, `?`, a complete `[…]`, extglob `@(`). */
export function isGlobPattern(t: string): boolean {
  if (!/[*?[(]/.test(t)) return false;
  return /[*?]/.test(t) || /\[[^\]]+\]/.test(t) || /[@!+]\(/.test(t);
}
