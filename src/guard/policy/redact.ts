/**
 * Secret redaction for anything the guard prints or logs (deny reasons, audit lines).
 */
const PATTERNS: readonly RegExp[] = [
  /sk-ant-[A-Za-z0-9_-]{8,}/g,
  /\bsk-[A-Za-z0-9_-]{16,}/g,
  /\b(gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /\bxox[abpr]-[A-Za-z0-9-]{10,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bAIza[0-9A-Za-z_-]{30,}/g,
  /\bglpat-[A-Za-z0-9_-]{16,}/g,
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[^]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];
const KEYED = /((?:authorization|x-api-key|api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|passwd|pwd|client[_-]?secret)["']?\s*[:=]\s*["']?)(?:bearer\s+|basic\s+)?[^\s"'&]{4,}/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const URL_CRED = /(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi;
const FLAG_CRED = /(--(?:password|passwd|token|api-key|secret)[= ])\S+/gi;

/** Replaces tokens, keys, passwords and credentials in URLs with `***`. */
export function redactSecrets(s: string): string {
  let out = s;
  for (const re of PATTERNS) out = out.replace(re, '***');
  out = out.replace(URL_CRED, '$1***@');
  out = out.replace(KEYED, '$1***');
  out = out.replace(BEARER, '$1 ***');
  out = out.replace(FLAG_CRED, '$1***');
  return out;
}

/** Redacts and shortens text for the audit log. */
export function auditText(s: string, max = 512): string {
  // Only the head is kept: redact a bounded prefix (a secret cut at its end lies past what is kept).
  const head = s.length > max + 4096 ? s.slice(0, max + 4096) : s;
  const r = redactSecrets(head);
  const more = r.length - max + (s.length - head.length);
  return more > 0 ? `${r.slice(0, max)}…[${more} more chars]` : r;
}
