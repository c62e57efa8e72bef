/** `POST /api/v1/failover {to?, reason?}`: move the pool to another account now. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../../core/errors.js';
import { callerOf, describeCaller } from '../caller.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { emptyQuery, parseInput } from '../validate.js';

const body = z.strictObject({
  to: z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be an Account name').optional(),
  reason: z.string().min(1).max(500).optional(),
});

export function failoverRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/v1/failover', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    const b = parseInput(body, request.body, 'body');
    const { desired } = ctx.manager.store.state;
    if (b.to !== undefined && !desired.accounts.some((a) => a.metadata.name === b.to)) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Account "${b.to}" not found`);
    if (desired.accounts.length === 0) throw new ApiError('CF_API_CONFLICT', 'no accounts are declared');
    try {
      const outcome = await ctx.deps.failover(b.to, b.reason, describeCaller(callerOf(request, ctx.deps.token)));
      return reply.code(202).send(outcome);
    } catch (err) {
      if (err instanceof TerminalError) throw new ApiError('CF_API_CONFLICT', err.message);
      throw err;
    }
  });
}
