/** `GET /api/v1/events` (`?for=Kind/name&limit=N`) and `/api/v1/events/:kind/:name`: the event and decision log. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { KINDS } from '../../api/schemas.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { listOf } from '../objects.js';
import { intParam, parseInput } from '../validate.js';

const listQuery = z.strictObject({
  for: z.string().regex(/^[A-Za-z]+\/([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/, 'must be Kind/name or Kind/*').optional(),
  limit: intParam(2000).default(100),
});
const objectParams = z.strictObject({ kind: z.enum(KINDS), name: z.string().regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/, 'not a valid object name') });
const objectQuery = z.strictObject({ limit: intParam(2000).default(100) });

export function eventRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/events', async (request) => {
    const q = parseInput(listQuery, request.query, 'query');
    await ctx.events.poll();
    return listOf('Event', ctx.events.recent({ limit: q.limit, ...(q.for ? { key: q.for } : {}) }));
  });
  app.get('/api/v1/events/:kind/:name', async (request) => {
    const q = parseInput(objectQuery, request.query, 'query');
    let p;
    try {
      p = parseInput(objectParams, request.params, 'params');
    } catch (err) {
      throw new ApiError('CF_API_NOT_FOUND', (err as Error).message);
    }
    await ctx.events.poll();
    return listOf('Event', ctx.events.recent({ limit: q.limit, key: `${p.kind}/${p.name}` }));
  });
}
