/**
 * `POST /api/v1/tasks {project, text, title?, priority?}`: adds a task to a declared Project's
 * queue, exactly as `claude-failover task add` does (validated first, written atomically into
 * inbox/), and records a `TaskAdded` event with the caller (token fingerprint, client) and the
 * text's sha256. 201 `{id, project, path, state: "inbox"}`; 400 malformed task; 404 no such Project.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { enqueueTask } from '../../adapters/queue/index.js';
import { PRIORITIES, TaskParseError, type Priority } from '../../core/task.js';
import { callerOf } from '../caller.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { queueRootOf } from '../../api/queue-root.js';
import { emptyQuery, parseInput } from '../validate.js';

const body = z.strictObject({
  project: z.string({ error: 'project is required (a Project name)' }).min(1).max(63),
  text: z.string({ error: 'text is required (the task: markdown, optionally with frontmatter)' }).min(1).max(60_000),
  title: z.string().min(1).max(200).optional(),
  priority: z.enum(PRIORITIES as unknown as readonly [Priority, ...Priority[]]).optional(),
});

export function taskAddRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/v1/tasks', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    if (request.body === null || typeof request.body !== 'object' || Array.isArray(request.body)) throw new ApiError('CF_API_BAD_REQUEST', 'the body must be a JSON object: {"project": "...", "text": "..."}');
    const b = parseInput(body, request.body, 'body');
    const project = ctx.manager.store.state.desired.projects.find((p) => p.metadata.name === b.project);
    if (!project) throw new ApiError('CF_API_OBJECT_NOT_FOUND', `Project "${b.project}" not found`);
    let added;
    try {
      added = await enqueueTask(queueRootOf(project), { body: b.text, ...(b.title !== undefined ? { title: b.title } : {}), ...(b.priority !== undefined ? { priority: b.priority } : {}) });
    } catch (err) {
      if (err instanceof TaskParseError) throw new ApiError('CF_API_BAD_REQUEST', `task not added: ${err.reason}${err.line !== undefined ? ` (line ${err.line})` : ''}`);
      throw err;
    }
    const caller = callerOf(request, ctx.deps.token);
    const sha256 = createHash('sha256').update(b.text, 'utf8').digest('hex');
    await ctx.manager.event({ key: `Project/${b.project}`, type: 'Normal', reason: 'TaskAdded', message: `task ${added.id} added through the API`, data: { task: added.id, sha256, bytes: Buffer.byteLength(b.text, 'utf8'), ...caller } });
    ctx.manager.enqueue(`Project/${b.project}`, 'task-added');
    return reply.code(201).send({ id: added.id, project: b.project, path: added.path, state: 'inbox' });
  });
}
