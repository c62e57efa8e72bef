/** `GET /api/v1/stream`: server-sent events of status changes and new events (see stream-hub.ts). */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { emptyQuery, parseInput } from '../validate.js';

export function streamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/v1/stream', async (request, reply) => {
    parseInput(emptyQuery, request.query, 'query');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      'X-Content-Type-Options': 'nosniff',
    });
    res.write('retry: 2000\n\n');
    const client = { write: (chunk: string) => void res.write(chunk), end: () => res.end() };
    request.raw.on('close', () => ctx.hub.remove(client));
    await ctx.hub.add(client);
    if (request.raw.destroyed) ctx.hub.remove(client);
  });
}
