/**
 * Reads an account's OAuth credentials, `<configDir>/.credentials.json`, READ-ONLY.
 *
 * The controller never refreshes, copies or writes tokens (refresh tokens are single-use: a
 * second refresher logs every session out). It only needs the access token for the usage
 * endpoint, and reports `CredentialsExpired` when `expiresAt` has passed and there is no refresh
 * token. An expired access token WITH a refresh token is still a usable login: Claude Code
 * refreshes it when it starts. Such credentials come back `ok` with `accessTokenExpired: true`
 * (the token cannot be used for the usage endpoint, and the controller never refreshes it).
 *
 * The access token is a non-enumerable property of the returned object: it is readable as
 * `creds.accessToken`, but `JSON.stringify`, pino and `util.inspect` do not print it. Problem
 * messages never include file contents (a JSON.parse message can quote the token).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const CREDENTIALS_FILE = '.credentials.json';

export interface Credentials {
  /** The bearer token (non-enumerable; never log it). */
  readonly accessToken: string;
  /** Expiry, epoch ms; undefined when the file does not say. */
  expiresAt: number | undefined;
  /** `max`, `pro`, … when present. */
  subscriptionType: string | undefined;
  rateLimitTier: string | undefined;
  path: string;
  /** A refresh token is present (its value is never read into memory beyond this check). */
  refreshable: boolean;
  /** `expiresAt` has passed; usable only through a refresh by Claude Code itself. */
  accessTokenExpired: boolean;
}

/** CamelCase reasons, usable as the `CredentialsValid` condition's reason. */
export type CredentialsProblemReason = 'CredentialsMissing' | 'CredentialsUnreadable' | 'CredentialsMalformed' | 'CredentialsExpired';

export interface CredentialsProblem {
  reason: CredentialsProblemReason;
  /** Human message with the path; never the token or file contents. */
  message: string;
  path: string;
  /** For `CredentialsExpired`: when it expired (epoch ms). */
  expiresAt?: number;
  subscriptionType?: string;
}

export type CredentialsResult = { ok: true; credentials: Credentials } | { ok: false; problem: CredentialsProblem };

export interface ReadCredentialsOptions {
  /** Epoch ms used to judge `expiresAt`. Default Date.now(). */
  now?: number;
  /** Treat a token expiring within this many ms as expired. Default 0. */
  expirySkewMs?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function expiryMs(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isFinite(n)) return undefined;
  // Claude Code writes epoch milliseconds; accept seconds defensively.
  return n < 1e12 ? n * 1000 : n;
}

/** Reads and validates `<configDir>/.credentials.json`. Never throws for file problems. */
export async function readCredentials(configDir: string, options: ReadCredentialsOptions = {}): Promise<CredentialsResult> {
  const path = join(configDir, CREDENTIALS_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return { ok: false, problem: { reason: 'CredentialsMissing', path, message: `no credentials at ${path} (log in with CLAUDE_CONFIG_DIR=${configDir} claude)` } };
    }
    return { ok: false, problem: { reason: 'CredentialsUnreadable', path, message: `cannot read ${path}: ${code ?? 'error'}` } };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (_err) {
    // Deliberately not the parser's message: it may quote file contents.
    return { ok: false, problem: { reason: 'CredentialsMalformed', path, message: `${path} is not valid JSON` } };
  }
  const oauth = isRecord(data) ? data.claudeAiOauth : undefined;
  if (!isRecord(oauth)) {
    return { ok: false, problem: { reason: 'CredentialsMalformed', path, message: `${path} has no claudeAiOauth object` } };
  }
  const token = oauth.accessToken;
  if (typeof token !== 'string' || token.trim() === '') {
    return { ok: false, problem: { reason: 'CredentialsMalformed', path, message: `${path} has no claudeAiOauth.accessToken` } };
  }
  const expiresAt = expiryMs(oauth.expiresAt);
  const subscriptionType = typeof oauth.subscriptionType === 'string' ? oauth.subscriptionType : undefined;
  const rateLimitTier = typeof oauth.rateLimitTier === 'string' ? oauth.rateLimitTier : undefined;
  const now = options.now ?? Date.now();
  const refreshable = typeof oauth.refreshToken === 'string' && oauth.refreshToken.trim() !== '';
  const expired = expiresAt !== undefined && expiresAt <= now + (options.expirySkewMs ?? 0);
  if (expired && !refreshable) {
    const problem: CredentialsProblem = {
      reason: 'CredentialsExpired',
      path,
      expiresAt,
      message: `access token in ${path} expired at ${new Date(expiresAt).toISOString()} and there is no refresh token; log in again with CLAUDE_CONFIG_DIR=${configDir} claude`,
    };
    if (subscriptionType) problem.subscriptionType = subscriptionType;
    return { ok: false, problem };
  }
  const credentials = { expiresAt, subscriptionType, rateLimitTier, path, refreshable, accessTokenExpired: expired } as Credentials;
  Object.defineProperty(credentials, 'accessToken', { value: token, enumerable: false, writable: false, configurable: false });
  return { ok: true, credentials };
}
