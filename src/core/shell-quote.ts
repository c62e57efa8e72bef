/**
 * Quoting a word for a POSIX shell (/bin/sh, dash, bash): session launch commands, the guard's
 * launcher script and settings command, and the guard's re-analysis of words it rebuilt into
 * source. The one quoting function; pure (the guard hook bundle includes it).
 */

/** Characters no POSIX shell treats specially in an unquoted word. */
const PLAIN = /^[\w@%+=:,./-]+$/;
/** `NAME=…` would be an assignment, not a word, in a command's first position. */
const ASSIGNMENT = /^[A-Za-z_]\w*=/;

/**
 * The word as it is when it holds only `[A-Za-z0-9_@%+=:,./-]` and cannot read as an assignment;
 * otherwise in single quotes, each `'` written as `'\''`. The empty word is `''`. Inside single
 * quotes every other character (spaces, newlines, `$`, backquotes, `\`, `!`, `*`, non-ASCII) is
 * literal, so the shell reads back exactly `word`.
 */
export function shellQuote(word: string): string {
  if (PLAIN.test(word) && !ASSIGNMENT.test(word)) return word;
  return `'${word.replaceAll("'", "'\\''")}'`;
}
