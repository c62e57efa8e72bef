/** The control plane's HTTP server (see docs/api.md). */
export { buildServer, DEFAULT_BODY_LIMIT } from './build-server.js';
export type { FailoverFn, FailoverOutcome, RestartOutcome, RestartSessionFn, SendToSessionFn, ServerDeps } from './deps.js';
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js';
export { Metrics, METRIC_PREFIX, seriesNames } from './metrics.js';
export { tokensEqual } from './auth.js';
