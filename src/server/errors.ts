/**
 * The control plane's error catalogue. Every error response is `{error: {code, message}}` with a
 * stable `code` (CF_API_*), in the manner of fastify's FST_ERR_* codes; clients match on `code`,
 * never on the message.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { CfError, errorMessage } from '../core/errors.js';

export const API_ERRORS = {
  CF_API_UNAUTHORIZED: 401,
  CF_API_BAD_REQUEST: 400,
  CF_API_NOT_FOUND: 404,
  CF_API_OBJECT_NOT_FOUND: 404,
  CF_API_METHOD_NOT_ALLOWED: 405,
  CF_API_CONFLICT: 409,
  CF_API_BODY_TOO_LARGE: 413,
  CF_API_RATE_LIMITED: 429,
  CF_API_UNSUPPORTED_MEDIA_TYPE: 415,
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

/** fastify's own errors (parsing, limits, content types) mapped to the catalogue. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as Partial<FastifyError>;
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('CF_API_BODY_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('CF_API_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
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

/** Installs the JSON error and not-found handlers. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const api = toApiError(err);
    if (api.statusCode >= 500) request.log.error({ err: errorMessage(err), url: request.url }, 'request failed');
    void reply.code(api.statusCode).type('application/json').send(errorBody(api.code, api.message));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/json').send(errorBody('CF_API_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`));
  });
}
