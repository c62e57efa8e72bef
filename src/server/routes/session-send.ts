/**
 * `POST /api/v1/sessions/:name/send {text, queue?}`: types text into a session's prompt (paste +
 * Enter, like a task prompt) and audits it (src/runtime/session-send.ts). A prompt-injection route
 * by design: the token is the key, the guard hook in every agent stays the barrier (docs/security.md).
 *
 * 200 delivered; 400 bad body or text that cannot be typed; 404 no such Session; 409 the session is
 * not at its prompt (not running, starting, suspended, at a permission prompt, or working without
 * `queue: true`); 503 the delivery was not confirmed.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { errorCode, errorMessage, RetryableError, TerminalError } from '../../core/errors.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { emptyQuery, nameParam, parseInput } from '../validate.js';

const body = z.strictObject({
  text: z.string({ error: 'text is required (a string)' }),
  queue: z.boolean().default(false),
});

export function sessionSendRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/v1/sessions/:name/send', async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    const { name } = parseInput(nameParam, request.params, 'params');
    if (request.body === null || typeof request.body !== 'object' || Array.isArray(request.body)) throw new ApiError('CF_API_BAD_REQUEST', 'the body must be a JSON object: {"text": "...", "queue": false}');
    const b = parseInput(body, request.body, 'body');
    if (!ctx.manager.store.state.desired.sessions.some((s) => s.metadata.name === name)) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Session "${name}" not found`);
    try {
      return await ctx.deps.sendToSession(name, { text: b.text, queue: b.queue, caller: callerOf(request, ctx.deps.token) });
    } catch (err) {
      if (errorCode(err) === 'CF_ERR_SEND_TEXT') throw new ApiError('CF_API_BAD_REQUEST', errorMessage(err));
      if (err instanceof TerminalError) throw new ApiError('CF_API_CONFLICT', err.message);
      if (err instanceof RetryableError) throw new ApiError('CF_API_UNAVAILABLE', err.message);
      throw err;
    }
  });
}
