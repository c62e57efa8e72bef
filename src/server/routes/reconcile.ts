/** `POST /api/v1/reconcile`: enqueue every key, or one (`?key=Kind/name`), on the running controller. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { objectKey, parseInput } from '../validate.js';

const query = z.strictObject({ key: objectKey.optional() });
const body = z.strictObject({});

export function reconcileRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/v1/reconcile', async (request, reply) => {
    const q = parseInput(query, request.query, 'query');
    parseInput(body, request.body, 'body');
    const known = ctx.manager.allKeys();
    let keys: string[];
    if (q.key !== undefined) {
      const kind = q.key.slice(0, q.key.indexOf('/'));
      // `Kind/*` (a pool-wide key) is accepted when the kind has a controller.
      const ok = known.includes(q.key) || (q.key.endsWith('/*') && known.some((k) => k.startsWith(`${kind}/`)));
      if (!ok) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `no reconciled object ${q.key} (known keys: ${known.length})`);
      keys = [q.key];
    } else {
      keys = known;
    }
    for (const k of keys) ctx.manager.enqueue(k, 'api-request');
    return reply.code(202).send({ enqueued: keys });
  });
}
