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

/** A shell pattern (`*`, `?`, `[…]`) as a RegExp source (no anchors). */
export function patternSource(pat: string): string {
  let re = '';
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i] as string;
    if (c === '\\' && i + 1 < pat.length) {
      re += (pat[++i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else if (c === '*') re += '[^]*';
    else if (c === '?') re += '[^]';
    else if (c === '[') {
      const end = pat.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pat.slice(i + 1, end);
        if (body.startsWith('!') || body.startsWith('^')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return re;
}

function safeRegExp(src: string, flags = ''): RegExp | null {
  try {
    return new RegExp(src, flags);
  } catch {
    return null;
  }
}

/** `${v#p}`, `${v##p}`, `${v%p}`, `${v%%p}`. Null when the pattern cannot be evaluated. */
export function removePattern(v: string, op: string, pat: string): string | null {
  if (/[\uE000-\uE002]/.test(pat)) return null;
  const src = patternSource(pat);
  const prefix = op.startsWith('#');
  const longest = op.length === 2;
  const re = safeRegExp(prefix ? `^(?:${src})$` : `^(?:${src})$`, 's');
  if (re === null) return null;
  if (v.length > 4096) return null;
  if (prefix) {
    if (longest) {
      for (let k = v.length; k >= 0; k--) if (re.test(v.slice(0, k))) return v.slice(k);
    } else {
      for (let k = 0; k <= v.length; k++) if (re.test(v.slice(0, k))) return v.slice(k);
    }
  } else if (longest) {
    for (let k = 0; k <= v.length; k++) if (re.test(v.slice(k))) return v.slice(0, k);
  } else {
    for (let k = v.length; k >= 0; k--) if (re.test(v.slice(k))) return v.slice(0, k);
  }
  return v;
}

/** `${v/p/r}`, `${v//p/r}`, `${v/#p/r}`, `${v/%p/r}`. Null when it cannot be evaluated. */
export function replacePattern(v: string, op: string, pat: string, rep: string): string | null {
  if (/[\uE000-\uE002]/.test(pat) || pat === '') return pat === '' ? v : null;
  const src = patternSource(pat);
  if (v.length > 4096) return null;
  if (op === '/#') {
    const re = safeRegExp(`^(?:${src})`, 's');
    return re === null ? null : v.replace(re, () => rep);
  }
  if (op === '/%') {
    const re = safeRegExp(`(?:${src})$`, 's');
    return re === null ? null : v.replace(re, () => rep);
  }
  // Bash matches the longest text at the first position where the pattern matches.
  const re = safeRegExp(`(?:${src})`, op === '//' ? 'gs' : 's');
  return re === null ? null : v.replace(re, () => rep);
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
  return /[*?]/.test(t) || /\[[^\]]+\]/.test(t) || /[@!+]\(/.test(t);
}
