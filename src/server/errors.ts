/**
 * The control plane's error catalogue. Every error response is `{error: {code, message}}` with a
 * stable `code` (CF_API_*), in the manner of fastify's FST_ERR_* codes; clients match on `code`,
 * never on the message.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { CfError, errorMessage } from '../core/errors.js';

export const API_ERRORS = {
  CF_API_UNAUTHORIZED: 401,
  CF_API_BAD_REQUEST: 400,
  CF_API_NOT_FOUND: 404,
  CF_API_OBJECT_NOT_FOUND: 404,
  CF_API_METHOD_NOT_ALLOWED: 405,
  CF_API_REQUEST_TIMEOUT: 408,
  CF_API_CONFLICT: 409,
  CF_API_BODY_TOO_LARGE: 413,
  CF_API_URI_TOO_LONG: 414,
  CF_API_UNSUPPORTED_MEDIA_TYPE: 415,
  CF_API_RATE_LIMITED: 429,
  CF_API_HEADERS_TOO_LARGE: 431,
  CF_API_NOT_READY: 503,
  CF_API_UNAVAILABLE: 503,
  CF_API_INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends CfError {
  readonly statusCode: number;
  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.statusCode = API_ERRORS[code];
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Longest request target (path and query) the API accepts; longer ones get 414 CF_API_URI_TOO_LONG. */
export const MAX_URL_LENGTH = 8 * 1024;

/** fastify's own errors (parsing, limits, content types, bad URLs) mapped to the catalogue. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('CF_API_BODY_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('CF_API_UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type: send the body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('CF_API_BAD_REQUEST', 'the body does not match its Content-Length');
    case 'FST_ERR_BAD_URL':
      return new ApiError('CF_API_BAD_REQUEST', 'malformed URL: a path segment is not valid percent-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError('CF_API_URI_TOO_LONG', 'a path segment of the URL is too long (at most 256 characters)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('CF_API_BAD_REQUEST', errorMessage(err));
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // JSON syntax errors and other client errors fastify raised while parsing.
    return new ApiError('CF_API_BAD_REQUEST', errorMessage(err));
  }
  return new ApiError('CF_API_INTERNAL', errorMessage(err), { cause: err });
}

/** Sends an error in the envelope (fastify's framework errors: bad URL, over-long path segment). */
export function sendApiError(err: unknown, reply: FastifyReply): void {
  const api = toApiError(err);
  void reply.code(api.statusCode).type('application/json').send(errorBody(api.code, api.message));
}

/**
 * Installs the JSON error and not-found handlers. A path served under other methods answers 405
 * CF_API_METHOD_NOT_ALLOWED with an `Allow` header (after authentication, like every route).
 */
export function installErrorHandlers(app: FastifyInstance, allowedMethods: (path: string) => string[] = () => []): void {
  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err);
    if (api.statusCode >= 500) request.log.error({ err: errorMessage(err), url: request.url }, 'request failed');
    void reply.code(api.statusCode).type('application/json').send(errorBody(api.code, api.message));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = allowedMethods(path);
    if (allow.length > 0) {
      void reply.code(405).header('Allow', allow.join(', ')).type('application/json').send(errorBody('CF_API_METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`));
      return;
    }
    void reply.code(404).type('application/json').send(errorBody('CF_API_NOT_FOUND', `no route ${request.method} ${path}`));
  });
}

/**
 * Errors Node's HTTP parser raises before fastify sees a request (the `clientError` event), answered
 * in the envelope on the raw socket: a request line longer than {@link MAX_URL_LENGTH} that overflows
 * the header limit is 414, other oversized headers 431, a timeout 408, anything else 400.
 */
export function clientErrorResponse(err: Error & { code?: string; rawPacket?: unknown }): { status: number; code: ApiErrorCode; message: string } {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, code: 'CF_API_REQUEST_TIMEOUT', message: 'the request was not received in time' };
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    const raw = Buffer.isBuffer(err.rawPacket) ? err.rawPacket : undefined;
    const eol = raw ? raw.indexOf('\r\n') : -1;
    const lineLength = raw ? (eol < 0 ? raw.length : eol) : 0;
    if (lineLength > MAX_URL_LENGTH) return { status: 414, code: 'CF_API_URI_TOO_LONG', message: `the URL is longer than ${MAX_URL_LENGTH} characters` };
    return { status: 431, code: 'CF_API_HEADERS_TOO_LARGE', message: 'the request headers are too large' };
  }
  return { status: 400, code: 'CF_API_BAD_REQUEST', message: 'malformed HTTP request' };
}

/** fastify's `clientErrorHandler`: the envelope on the raw socket, then close it. */
export function handleClientError(err: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const r = clientErrorResponse(err);
  const body = JSON.stringify(errorBody(r.code, r.message));
  if (socket.writable) socket.write(`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy();
}
