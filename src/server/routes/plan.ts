/**
 * `GET /api/v1/plan`: what a reconcile would do now (a dry run on a copy of the store; the
 * controller's state is not touched). `?format=text` renders it like `reconcile --dry-run`.
 * Concurrent requests share one plan computation.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { renderPlanJson, renderPlanText } from '../../render/plan-text.js';
import type { RunOnceResult } from '../../runtime/manager.js';
import type { ServerContext } from '../context.js';
import { parseInput } from '../validate.js';

const query = z.strictObject({
  prune: z.enum(['true', 'false']).default('false'),
  format: z.enum(['json', 'text']).default('json'),
});

export function planRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const inflight = new Map<boolean, Promise<RunOnceResult>>();
  const plan = (prune: boolean): Promise<RunOnceResult> => {
    let p = inflight.get(prune);
    if (!p) {
      p = ctx.manager.planOnly({ prune }).finally(() => inflight.delete(prune));
      inflight.set(prune, p);
    }
    return p;
  };
  app.get('/api/v1/plan', async (request, reply) => {
    const q = parseInput(query, request.query, 'query');
    const result = await plan(q.prune === 'true');
    if (q.format === 'text') return reply.type('text/plain; charset=utf-8').send(renderPlanText(result.plan, { color: false }));
    const body = JSON.parse(renderPlanJson(result.plan)) as Record<string, unknown>;
    return reply.type('application/json').send({ ...body, errors: result.errors });
  });
}
