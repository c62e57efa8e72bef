/** `GET /api/v1/tasks` and `/:name`: task files in the declared projects' queues. */
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { invalidTaskIdReason, TASK_STATES } from '../../core/task.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { listOf } from '../objects.js';
import { getTaskObject, listTaskObjects } from '../queues.js';
import { emptyQuery, intParam, parseInput } from '../validate.js';

const listQuery = z.strictObject({
  project: z.string().min(1).max(63).optional(),
  state: z.enum(TASK_STATES as unknown as [string, ...string[]]).optional(),
  limit: intParam(10_000).default(500),
});

const taskParam = z.strictObject({ name: z.string().min(1).max(200).regex(/^[^/\\\0]+$/, 'not a task id') });

export function taskRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/tasks', async (request) => {
    const q = parseInput(listQuery, request.query, 'query');
    const { desired } = ctx.manager.store.state;
    if (q.project !== undefined && !desired.projects.some((p) => p.metadata.name === q.project)) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Project "${q.project}" not found`);
    const items = await listTaskObjects(desired, { limit: q.limit, ...(q.project ? { project: q.project } : {}), ...(q.state ? { state: q.state as (typeof TASK_STATES)[number] } : {}) });
    return listOf('Task', items);
  });
  app.get('/api/v1/tasks/:name', async (request) => {
    parseInput(emptyQuery, request.query, 'query');
    const { name } = parseInput(taskParam, request.params, 'params');
    const bad = invalidTaskIdReason(name);
    if (bad) throw new ApiError('CF_API_BAD_REQUEST', `invalid task id: ${bad}`);
    const task = await getTaskObject(ctx.manager.store.state.desired, name);
    if (!task) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Task "${name}" not found`);
    return task;
  });
}
