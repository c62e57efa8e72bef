/**
 * `GET /api/v1/requests` (`?limit=N`) and `/api/v1/requests/:id`: the operator requests recorded in
 * the state dir (forced failovers, restarts), newest first, each with who asked, when, why and,
 * once a controller acted on it, its result.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { FileRequestStore } from '../../adapters/requests.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { listOf } from '../objects.js';
import { intParam, parseInput } from '../validate.js';

const listQuery = z.strictObject({ limit: intParam(200).default(50) });
const idParams = z.strictObject({ id: z.string().regex(/^[0-9a-z]+-[0-9a-z]+$/, 'not a request id') });

export function requestRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const store = new FileRequestStore(ctx.deps.stateDir);
  app.get('/api/v1/requests', async (request) => {
    const q = parseInput(listQuery, request.query, 'query');
    return listOf('Request', await store.list(q.limit));
  });
  app.get('/api/v1/requests/:id', async (request) => {
    let id: string;
    try {
      id = parseInput(idParams, request.params, 'params').id;
    } catch (err) {
      throw new ApiError('CF_API_NOT_FOUND', (err as Error).message);
    }
    const r = await store.get(id);
    if (!r) throw new ApiError('CF_API_NOT_FOUND', `request ${id} not found`);
    return r;
  });
}
