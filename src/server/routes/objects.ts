/**
 * `GET /api/v1/{accounts,sessions,projects,delegation,notifiers}` and `/:name`: Kubernetes-shaped
 * objects from the store (spec from the manifests, status and conditions from the controllers).
 */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { getObject, listObjects, listOf, poolView, ROUTE_KINDS } from '../objects.js';
import { emptyQuery, nameParam, parseInput } from '../validate.js';

export function objectRoutes(app: FastifyInstance, ctx: ServerContext): void {
  for (const [resource, kind] of Object.entries(ROUTE_KINDS)) {
    // The store is immutable (immer): while desired and status are the same objects, so is the
    // answer. Dashboards and scrapers polling a quiet controller get the cached JSON text.
    let cache: { desired: object; status: object; body: string } | undefined;
    app.get(`/api/v1/${resource}`, async (request, reply) => {
      parseInput(emptyQuery, request.query, 'query');
      const { desired, status } = ctx.manager.store.state;
      if (!cache || cache.desired !== desired || cache.status !== status) {
        const list = listOf(kind, listObjects(desired, status, kind));
        cache = { desired, status, body: JSON.stringify(kind === 'Account' ? { ...list, pool: poolView(desired, status) } : list) };
      }
      return reply.type('application/json; charset=utf-8').send(cache.body);
    });
    app.get(`/api/v1/${resource}/:name`, async (request) => {
      parseInput(emptyQuery, request.query, 'query');
      const { name } = parseInput(nameParam, request.params, 'params');
      const { desired, status } = ctx.manager.store.state;
      const obj = getObject(desired, status, kind, name);
      if (!obj) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `${kind} "${name}" not found`);
      return obj;
    });
  }
}
