/**
 * Bearer-token authentication. Every route requires `Authorization: Bearer <token>` except the
 * ones declared public (`config: {public: true}`: `/healthz` and the static dashboard assets, which
 * carry no data). Tokens are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './errors.js';

/** Constant-time comparison: both sides are hashed to equal-length digests first. */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

export interface RouteConfig {
  /** Served without a token (no data behind it). */
  public?: boolean;
  /** Served without a token to loopback clients when the `anonymous-compat-read` switch is on. */
  compatRead?: boolean;
}

/** A client on this host: 127.0.0.0/8, ::1 (also IPv4-mapped), or a unix socket (no address). */
export function fromLoopback(request: FastifyRequest): boolean {
  const a = request.socket.remoteAddress;
  if (a === undefined) return request.socket.remoteFamily === undefined;
  return a === '::1' || /^(::ffff:)?127\./.test(a);
}

export function isPublic(request: FastifyRequest): boolean {
  return (request.routeOptions.config as RouteConfig | undefined)?.public === true;
}

/**
 * Installs the auth hook. `token === null` disables authentication; the control plane only allows
 * that on a loopback address or a unix socket.
 */
export function installAuth(app: FastifyInstance, token: string | null, opts: { anonymousCompatRead?: boolean } = {}): void {
  app.addHook('onRequest', async (request) => {
    if (token === null || isPublic(request)) return;
    if (opts.anonymousCompatRead && (request.routeOptions.config as RouteConfig | undefined)?.compatRead === true && fromLoopback(request) && request.headers.authorization === undefined) return;
    const given = bearerToken(request.headers.authorization);
    if (given === undefined) throw new ApiError('CF_API_UNAUTHORIZED', 'missing bearer token: send "Authorization: Bearer <token>" (the token file is in the state dir, see docs/api.md)');
    if (!tokensEqual(given, token)) throw new ApiError('CF_API_UNAUTHORIZED', 'invalid bearer token');
  });
}
