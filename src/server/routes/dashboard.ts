/**
 * `GET /` and its two assets. Public (no token): the page holds no data, and every data call
 * it makes carries the bearer token. A strict Content-Security-Policy allows only same-origin
 * scripts, styles and connections.
 */
import type { FastifyInstance } from 'fastify';
import { DASHBOARD_CSS, DASHBOARD_HTML } from '../dashboard/page.js';
import { DASHBOARD_JS } from '../dashboard/script.js';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function dashboardRoutes(app: FastifyInstance): void {
  const headers = { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache', 'X-Frame-Options': 'DENY' };
  app.get('/', { config: { public: true } }, async (_request, reply) => reply.headers(headers).type('text/html; charset=utf-8').send(DASHBOARD_HTML));
  app.get('/dashboard.js', { config: { public: true } }, async (_request, reply) => reply.headers(headers).type('text/javascript; charset=utf-8').send(DASHBOARD_JS));
  app.get('/dashboard.css', { config: { public: true } }, async (_request, reply) => reply.headers(headers).type('text/css; charset=utf-8').send(DASHBOARD_CSS));
}
