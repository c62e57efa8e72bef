/** `GET /metrics`: Prometheus text format. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { emptyQuery, parseInput } from '../validate.js';

export function metricsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/metrics', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    const text = await ctx.metrics.text();
    return reply.type(ctx.metrics.contentType).send(text);
  });
}
