/** `GET /healthz` (no auth: the process answers) and `GET /readyz` (the first full reconcile is done). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { emptyQuery, parseInput } from '../validate.js';

export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', { config: { public: true } }, async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    return { status: 'ok' };
  });
  app.get('/readyz', async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    if (!ctx.manager.ready) throw new ApiError('CF_API_NOT_READY', 'the first full reconcile has not completed yet');
    return { status: 'ready' };
  });
}
