/** `POST /api/v1/sessions/:name/restart`: stop the session's agent; the Session controller relaunches and resumes it. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { TerminalError } from '../../core/errors.js';
import { callerOf, describeCaller } from '../caller.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { emptyQuery, nameParam, parseInput } from '../validate.js';

const body = z.strictObject({});

export function sessionActionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/v1/sessions/:name/restart', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    const { name } = parseInput(nameParam, request.params, 'params');
    parseInput(body, request.body, 'body');
    if (!ctx.manager.store.state.desired.sessions.some((s) => s.metadata.name === name)) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Session "${name}" not found`);
    try {
      return reply.code(202).send(await ctx.deps.restartSession(name, describeCaller(callerOf(request, ctx.deps.token))));
    } catch (err) {
      if (err instanceof TerminalError || (err as { code?: string }).code === 'CF_ERR_NOT_OWNER') throw new ApiError('CF_API_CONFLICT', (err as Error).message);
      throw err;
    }
  });
}
