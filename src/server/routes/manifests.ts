/**
 * `GET /api/v1/manifests`: the manifest set in force, and whether the set on disk is invalid or
 * held by the deletion guard. `POST /api/v1/manifests/confirm {id?}`: apply the held set now.
 */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { MANIFESTS_KEY, type ManifestsStatus } from '../../runtime/manifest-set.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { emptyQuery, parseInput } from '../validate.js';

const confirmBody = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{12}$/, 'a hold id (12 hex digits, from GET /api/v1/manifests)').optional(),
});

export function manifestRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/manifests', async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    const state = ctx.manager.store.state;
    const st = state.status[MANIFESTS_KEY] as ManifestsStatus | undefined;
    return {
      apiVersion: 'claudefailover.io/v1alpha1',
      kind: 'ManifestSet',
      status: {
        ...(st ?? { conditions: [] }),
        ...(state.lastAppliedRevision && !st?.revision ? { revision: state.lastAppliedRevision } : {}),
        objects: st?.objects ?? 0,
      },
    };
  });

  app.post('/api/v1/manifests/confirm', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    const b = parseInput(confirmBody, request.body, 'body');
    if (!ctx.deps.confirmManifests) throw new ApiError('CF_API_CONFLICT', 'this controller cannot confirm manifest sets');
    const outcome = await ctx.deps.confirmManifests(b.id);
    if (!outcome.applied) throw new ApiError('CF_API_CONFLICT', outcome.message);
    return reply.code(200).send(outcome);
  });
}
