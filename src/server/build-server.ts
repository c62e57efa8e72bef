/**
 * buildServer(deps) -> a fastify instance with every route of the control plane. It never
 * listens by itself: the daemon's control plane (src/runtime/control-plane.ts) or a test's
 * `inject()` drives it. Closing it stops its readers and ends open streams.
 */
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { GuardAuditTail } from '../guard/audit.js';
import { Admission } from './admission.js';
import { installAuth } from './auth.js';
import type { ServerContext } from './context.js';
import type { ServerDeps } from './deps.js';
import { ApiError, handleClientError, installErrorHandlers, MAX_URL_LENGTH, sendApiError } from './errors.js';
import { EventLog } from './event-log.js';
import { Metrics } from './metrics.js';
import { QueueReader } from './queues.js';
import { RouteTable } from './route-table.js';
import { compatRoutes } from './routes/compat.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { eventRoutes } from './routes/events.js';
import { failoverRoutes } from './routes/failover.js';
import { healthRoutes } from './routes/health.js';
import { manifestRoutes } from './routes/manifests.js';
import { metricsRoutes } from './routes/metrics.js';
import { objectRoutes } from './routes/objects.js';
import { planRoutes } from './routes/plan.js';
import { reconcileRoutes } from './routes/reconcile.js';
import { sessionSendRoutes } from './routes/session-send.js';
import { sessionActionRoutes } from './routes/sessions.js';
import { requestRoutes } from './routes/requests.js';
import { streamRoutes } from './routes/stream.js';
import { taskAddRoutes } from './routes/task-add.js';
import { taskRoutes } from './routes/tasks.js';
import { StreamHub } from './stream-hub.js';
import { isPublic } from './auth.js';

export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** Longest path segment (object names are at most 253 characters, task ids 200). */
export const MAX_PARAM_LENGTH = 256;

export function buildServer(deps: ServerDeps): FastifyInstance {
  const logger: FastifyBaseLogger | undefined = deps.log?.child({ component: 'control-plane' });
  const app = fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
    // Bound slow clients: headers within 10 s, a whole request within 30 s.
    requestTimeout: 30_000,
    connectionTimeout: 0,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors raised before routing (a malformed or over-long path) and by Node's HTTP parser
    // (oversized request line or headers) answer in the error envelope too.
    frameworkErrors: (err, _request, reply) => sendApiError(err, reply),
    clientErrorHandler: handleClientError,
  });
  // JSON only: fastify's default text/plain parser would hand a string to the routes (415 instead).
  app.removeContentTypeParser('text/plain');
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => routes.add(route.method, route.url));
  const metrics = deps.metrics ?? new Metrics({ ...(deps.version ? { version: deps.version } : {}) });
  const events = new EventLog({ stateDir: deps.stateDir, ...(deps.eventsPollMs ? { pollMs: deps.eventsPollMs } : {}) });
  const queues = new QueueReader({ ...(deps.queueCacheMs !== undefined ? { ttlMs: deps.queueCacheMs } : {}) });
  const hub = new StreamHub({ manager: deps.manager, events, queues, ...(deps.heartbeatMs ? { heartbeatMs: deps.heartbeatMs } : {}) });
  const ctx: ServerContext = { deps, manager: deps.manager, metrics, events, queues, hub };

  const guardTail = new GuardAuditTail(deps.stateDir);
  const guardCounters = deps.guardCounters ?? (() => guardTail.poll());
  metrics.bind({
    state: () => deps.manager.store.state,
    ready: () => deps.manager.ready,
    queues: () => queues.counts(deps.manager.store.state.desired),
    guard: guardCounters,
    subscribe: (l) => deps.manager.store.subscribe(l),
  });
  const unsubscribeEvents = events.subscribe((e) => metrics.recordEvent(e));

  app.addHook('onReady', async () => {
    await events.start();
  });
  app.addHook('preClose', async () => {
    hub.close();
  });
  app.addHook('onClose', async () => {
    unsubscribeEvents();
    metrics.unbind();
    await events.stop();
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.recordHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    request.log.debug({ method: request.method, url: request.routeOptions.url ?? request.url.split('?')[0], statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  installErrorHandlers(app, (path) => routes.allowed(path));
  app.addHook('onRequest', async (request) => {
    if (request.url.length > MAX_URL_LENGTH) throw new ApiError('CF_API_URI_TOO_LONG', `the URL is longer than ${MAX_URL_LENGTH} characters`);
  });
  // Authentication first: a request without the right token is answered 401 at once and never
  // takes a place in the admission queue, so a flood of them cannot delay authenticated clients.
  installAuth(app, deps.token, { anonymousCompatRead: deps.anonymousCompatRead === true });
  const admission = typeof deps.apiRate === 'number' ? (deps.apiRate > 0 ? { ratePerSecond: deps.apiRate } : undefined) : deps.apiRate;
  if (admission) installAdmission(app, new Admission(admission), metrics);
  // Every body is a JSON object: `null`, an array, a string or a number is 400 on every route.
  app.addHook('preValidation', async (request) => {
    const b: unknown = request.body;
    if (b !== undefined && (b === null || typeof b !== 'object' || Array.isArray(b))) {
      throw new ApiError('CF_API_BAD_REQUEST', `the body must be a JSON object, not ${b === null ? 'null' : Array.isArray(b) ? 'an array' : `a ${typeof b}`}`);
    }
  });

  healthRoutes(app, ctx);
  objectRoutes(app, ctx);
  taskRoutes(app, ctx);
  eventRoutes(app, ctx);
  planRoutes(app, ctx);
  reconcileRoutes(app, ctx);
  failoverRoutes(app, ctx);
  sessionActionRoutes(app, ctx);
  requestRoutes(app, ctx);
  manifestRoutes(app, ctx);
  sessionSendRoutes(app, ctx);
  taskAddRoutes(app, ctx);
  streamRoutes(app, ctx);
  metricsRoutes(app, ctx);
  compatRoutes(app, ctx);
  dashboardRoutes(app);
  return app;
}

/** Health probes are never queued: a liveness check that waits behind API traffic would fail. */
const UNTHROTTLED = new Set(['/healthz', '/readyz']);

/**
 * Admission runs after authentication, for authenticated requests only: the public static files
 * (no data, answered from memory) and health probes are never queued.
 */
function installAdmission(app: FastifyInstance, admission: Admission, metrics: Metrics): void {
  app.addHook('onRequest', async (request, reply) => {
    if (UNTHROTTLED.has(request.routeOptions.url ?? '') || isPublic(request)) return;
    let wait;
    try {
      wait = admission.acquire();
    } catch (err) {
      metrics.recordThrottled('rejected');
      reply.header('Retry-After', String(admission.retryAfterSeconds()));
      throw err;
    }
    if (wait) {
      metrics.recordThrottled('queued');
      await wait;
    }
  });
}
