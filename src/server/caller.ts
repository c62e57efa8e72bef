/**
 * Who made a request, for audit records of acting routes (send, task add): the fingerprint of the
 * bearer token that authenticated it (never the token), the client's own User-Agent (unverified)
 * and the peer address.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

export interface Caller {
  /** `sha256:<first 12 hex of sha256(token)>`, or `none` when authentication is disabled. */
  token: string;
  client?: string;
  remote: string;
}

/** A token's fingerprint: enough to tell tokens apart in an audit log, useless to an attacker. */
export function tokenFingerprint(token: string | null): string {
  return token === null ? 'none' : `sha256:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 12)}`;
}

/** The caller of an authenticated request (the auth hook has already compared the token). */
export function callerOf(request: FastifyRequest, token: string | null): Caller {
  // Printable ASCII only, bounded: the value lands in logs and events.
  const ua = request.headers['user-agent']?.replace(/[^\x20-\x7e]/g, '?').slice(0, 120);
  // A unix-socket peer has no address.
  return { token: tokenFingerprint(token), ...(ua ? { client: ua } : {}), remote: request.socket.remoteAddress ?? 'unix' };
}

/** The caller in one line, for a request's record (`requestedBy`): `<client> from <address> (token <fingerprint>)`. */
export function describeCaller(c: Caller): string {
  return `${c.client ?? 'unknown client'} from ${c.remote} (token ${c.token})`;
}
