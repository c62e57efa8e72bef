/**
 * The MCP server of `claude-failover mcp`: tools for a conductor agent (Claude Code or any MCP
 * client) that reads and steers the fleet through a running controller's control plane
 * (docs/api.md). It holds no state of its own: every tool call finds the controller (the way `get`
 * does: --server/--token-file, CLAUDE_FAILOVER_URL/TOKEN, or the state dir's control-plane.json),
 * makes one or two API requests and returns their answer. A controller that is down, or an API
 * error, comes back as a tool error (`isError: true`) with the controller's code and message, so
 * the agent can read why.
 *
 * Read-only tools carry `readOnlyHint: true`; the four that act say what they change and carry
 * `destructiveHint` when they stop or move agents (failover, restart_session).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Kind } from '../api/schemas.js';
import type { ObjectStatus } from '../core/controller.js';
import { errorCode, errorMessage } from '../core/errors.js';
import type { AccountStatus, StatusOf } from '../core/status.js';
import { PRIORITIES, TASK_STATES, type Priority, type TaskState } from '../core/task.js';
import { ApiRequestError, type ApiClient } from '../server/client.js';

/** How the tools reach the controller: a fresh client per call (throws when none runs). */
export interface ControllerConnector {
  connect(): Promise<ApiClient>;
}

export interface McpServerOptions {
  connector: ControllerConnector;
  version: string;
}

const objectName = z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'not a valid object name');

type Json = Record<string, unknown>;

function json(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] };
}

/** The tool error an agent reads: the controller's code (and HTTP status) and message. */
export function toolError(err: unknown): CallToolResult {
  const text = err instanceof ApiRequestError ? `${err.code} (HTTP ${err.statusCode}): ${err.message}` : `${errorCode(err) ?? 'ERROR'}: ${errorMessage(err)}`;
  return { content: [{ type: 'text', text }], isError: true };
}

const q = encodeURIComponent;

/**
 * The status of an object the control plane returned, typed as its kind's (src/core/status.ts):
 * the one narrowing of the API's JSON here. Any field may be missing (an object only declared).
 */
function statusOfObject<K extends Kind>(_kind: K, o: Json): Partial<StatusOf<K>> {
  return (o.status ?? {}) as Partial<StatusOf<K>>;
}

function ready(status: Partial<ObjectStatus>): { ready: string; reason?: string; message?: string } {
  const c = status.conditions?.find((x) => x.type === 'Ready');
  return { ready: c?.status ?? 'Unknown', ...(c?.reason ? { reason: c.reason } : {}), ...(c?.message ? { message: c.message } : {}) };
}

function nameOf(o: Json): string {
  return (o.metadata as { name: string }).name;
}

/** One line of `list_sessions` (the columns of `get sessions -o wide`). */
export function sessionRow(o: Json): Json {
  const s = statusOfObject('Session', o);
  const spec = (o.spec ?? {}) as Json;
  return {
    name: nameOf(o),
    project: spec.project ?? s.project ?? null,
    account: s.account ?? null,
    activity: s.activity ?? 'unknown',
    since: s.since ?? null,
    task: s.currentTask ?? null,
    restarts: s.restarts ?? 0,
    suspended: spec.suspended === true,
    conversationId: s.conversationId ?? null,
    ...ready(s),
  };
}

/** One line of `list_accounts`. */
export function accountRow(o: Json): Json {
  const s = statusOfObject('Account', o);
  const spec = (o.spec ?? {}) as Json;
  const usage: Partial<AccountStatus['usage']> = s.usage ?? {};
  return {
    name: nameOf(o),
    active: s.active === true,
    priority: spec.priority ?? null,
    tier: s.tier ?? 'unknown',
    fiveHourPercent: usage.fiveHour?.utilization ?? null,
    fiveHourResetsAt: usage.fiveHour?.resetsAt ?? null,
    sevenDayPercent: usage.sevenDay?.utilization ?? null,
    ...(usage.exhaustedUntil ? { exhaustedUntil: usage.exhaustedUntil } : {}),
    suspended: spec.suspended === true,
    ...ready(s),
  };
}

/** One line of `list_projects`. */
export function projectRow(o: Json): Json {
  const s = statusOfObject('Project', o);
  const spec = (o.spec ?? {}) as Json;
  const waiting = Array.isArray(s.waiting) ? s.waiting.length : 0;
  return { name: nameOf(o), path: spec.path ?? null, queue: s.counts ?? null, busySessions: s.busy ?? 0, idleSessions: s.idle ?? 0, waitingTasks: waiting, ...(s.dispatchPaused ? { dispatchPaused: s.dispatchPaused } : {}), ...ready(s) };
}

const READ = { readOnlyHint: true, openWorldHint: false } as const;

export function buildMcpServer(opts: McpServerOptions): McpServer {
  const server = new McpServer({ name: 'claude-failover', version: opts.version }, {
    instructions: 'Tools to watch and steer a claude-failover fleet (Claude Code agents in tmux sessions across several subscription accounts) through its running controller. '
      + 'Start with list_sessions and list_accounts; describe_* adds conditions and recent events. Acting tools: add_task (queue work for the project\'s sessions: the usual way to give work), '
      + 'send_to_session (type text into one agent\'s prompt now), restart_session, failover. Errors carry the controller\'s code (CF_API_*) and message.',
  });

  /** Runs one tool against a fresh controller client; any failure becomes a tool error. */
  const withController = async (fn: (c: ApiClient) => Promise<CallToolResult>): Promise<CallToolResult> => {
    let client: ApiClient;
    try {
      client = await opts.connector.connect();
    } catch (err) {
      return toolError(err);
    }
    try {
      return await fn(client);
    } catch (err) {
      return toolError(err);
    } finally {
      await client.close().catch(() => undefined);
    }
  };

  const events = (c: ApiClient, key: string, limit: number) => c.request<{ items: Json[] }>('GET', `/api/v1/events?for=${q(key)}&limit=${limit}`).then((r) => r.items.filter((e) => e.key === key));

  // ------------------------------------------------------------------ read-only

  server.registerTool('list_accounts', {
    title: 'List accounts',
    description: 'The subscription accounts of the pool: which one is active, each one\'s 5-hour and 7-day usage (percent), when the 5-hour window resets, its quota tier (good, warn, over, exhausted, unknown) and readiness. Also the pool decision (activeAccount, and why).',
    inputSchema: z.strictObject({}),
    annotations: { title: 'List accounts', ...READ },
  }, async () => withController(async (c) => {
    const r = await c.request<{ items: Json[]; pool?: Json }>('GET', '/api/v1/accounts');
    const pool = r.pool ?? {};
    return json({ activeAccount: pool.activeAccount ?? null, pool, accounts: r.items.map(accountRow) });
  }));

  server.registerTool('describe_account', {
    title: 'Describe an account',
    description: 'One account in full: its spec (config dir, priority, quota thresholds), status (usage figures and their source, freshness, last poll error), conditions, and its 10 most recent events.',
    inputSchema: z.strictObject({ name: objectName.describe('Account name, as in list_accounts') }),
    annotations: { title: 'Describe an account', ...READ },
  }, async ({ name }) => withController(async (c) => json({ ...(await c.request<Json>('GET', `/api/v1/accounts/${q(name)}`)), events: await events(c, `Account/${name}`, 10) })));

  server.registerTool('list_sessions', {
    title: 'List sessions',
    description: 'The agent sessions (Claude Code in tmux): project, account they run under, activity (idle, working, waitingInput, rateLimited, starting, exited) and since when, the task they work on, restarts, and readiness. Optionally only those of one project.',
    inputSchema: z.strictObject({ project: objectName.optional().describe('Only the sessions of this Project') }),
    annotations: { title: 'List sessions', ...READ },
  }, async ({ project }) => withController(async (c) => {
    const rows = (await c.request<{ items: Json[] }>('GET', '/api/v1/sessions')).items.map(sessionRow);
    return json(project === undefined ? rows : rows.filter((r) => r.project === project));
  }));

  server.registerTool('describe_session', {
    title: 'Describe a session',
    description: 'One session in full: spec (project, command, mode), status (activity, conversation id, current and last completed task, launch details, failures, rate limits seen), conditions, and its 10 most recent events.',
    inputSchema: z.strictObject({ name: objectName.describe('Session name, as in list_sessions') }),
    annotations: { title: 'Describe a session', ...READ },
  }, async ({ name }) => withController(async (c) => json({ ...(await c.request<Json>('GET', `/api/v1/sessions/${q(name)}`)), events: await events(c, `Session/${name}`, 10) })));

  server.registerTool('list_projects', {
    title: 'List projects',
    description: 'The projects: their path, task queue counts (inbox, dispatched, delegated, done, failed), busy and idle sessions, tasks waiting and readiness.',
    inputSchema: z.strictObject({}),
    annotations: { title: 'List projects', ...READ },
  }, async () => withController(async (c) => json((await c.request<{ items: Json[] }>('GET', '/api/v1/projects')).items.map(projectRow))));

  server.registerTool('describe_project', {
    title: 'Describe a project',
    description: 'One project in full: spec (path, queue dir, safety mode, delegation), status (queue counts, which session works on which task, tasks waiting and why), conditions, and its 10 most recent events.',
    inputSchema: z.strictObject({ name: objectName.describe('Project name, as in list_projects') }),
    annotations: { title: 'Describe a project', ...READ },
  }, async ({ name }) => withController(async (c) => json({ ...(await c.request<Json>('GET', `/api/v1/projects/${q(name)}`)), events: await events(c, `Project/${name}`, 10) })));

  server.registerTool('list_tasks', {
    title: 'List tasks',
    description: 'Task files in the projects\' queues, oldest first: id, project, state (inbox, dispatched, delegated, done, failed, archive), file, size and time. By default every state but archive, newest 50.',
    inputSchema: z.strictObject({
      project: objectName.optional().describe('Only this Project\'s queue'),
      state: z.enum(TASK_STATES as unknown as readonly [TaskState, ...TaskState[]]).optional().describe('Only tasks in this state'),
      limit: z.number().int().min(1).max(10_000).default(50).describe('At most this many (the newest)'),
    }),
    annotations: { title: 'List tasks', ...READ },
  }, async ({ project, state, limit }) => withController(async (c) => {
    const params = new URLSearchParams({ limit: String(limit), ...(project ? { project } : {}), ...(state ? { state } : {}) });
    return json((await c.request<{ items: Json[] }>('GET', `/api/v1/tasks?${params.toString()}`)).items);
  }));

  server.registerTool('describe_task', {
    title: 'Describe a task',
    description: 'One task by id: its project, state, file, title, priority, frontmatter, delivery attempts and its body.',
    inputSchema: z.strictObject({ id: z.string().min(1).max(200).describe('Task id (the file name without .md), as in list_tasks') }),
    annotations: { title: 'Describe a task', ...READ },
  }, async ({ id }) => withController(async (c) => json(await c.request<Json>('GET', `/api/v1/tasks/${q(id)}`))));

  server.registerTool('recent_events', {
    title: 'Recent events',
    description: 'The controller\'s event and decision log, oldest first: launches, crashes, failovers with the figures that triggered them, task dispatches and completions, texts sent, rejected manifests. Optionally for one object (Kind/name, e.g. Session/ccl-1, or Kind/* for a kind).',
    inputSchema: z.strictObject({
      for: z.string().regex(/^[A-Za-z]+\/([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/, 'must be Kind/name or Kind/*').optional().describe('Kind/name or Kind/*, e.g. Account/* or Session/ccl-1'),
      limit: z.number().int().min(1).max(2000).default(30).describe('The newest N events'),
    }),
    annotations: { title: 'Recent events', ...READ },
  }, async ({ for: key, limit }) => withController(async (c) => {
    const params = new URLSearchParams({ limit: String(limit), ...(key ? { for: key } : {}) });
    return json((await c.request<{ items: Json[] }>('GET', `/api/v1/events?${params.toString()}`)).items);
  }));

  server.registerTool('get_plan', {
    title: 'Current plan',
    description: 'What the controller would do now to converge the fleet on its manifests (sessions to launch, relaunch or stop, tasks to dispatch, links to fix), as a terraform-style plan. A dry run: nothing is changed. "No changes" means the fleet is converged.',
    inputSchema: z.strictObject({
      format: z.enum(['text', 'json']).default('text').describe('text (readable plan) or json (the Plan object)'),
      prune: z.boolean().default(false).describe('Include removal of objects no longer in the manifests'),
    }),
    annotations: { title: 'Current plan', ...READ },
  }, async ({ format, prune }) => withController(async (c) => {
    const text = await c.requestText('GET', `/api/v1/plan?format=${format}&prune=${prune}`);
    return { content: [{ type: 'text', text: format === 'json' ? JSON.stringify(JSON.parse(text), null, 2) : text }] };
  }));

  // ------------------------------------------------------------------ acting

  server.registerTool('add_task', {
    title: 'Add a task',
    description: 'Queues a task in a project (a new markdown file in its .agent-queue/inbox/). CHANGES: the project\'s queue; the controller hands the task to the next idle session of the project (or delegates it by policy), and the agent then works on it with its full permissions. Returns the task id; follow it with describe_task or list_tasks.',
    inputSchema: z.strictObject({
      project: objectName.describe('Project name, as in list_projects'),
      text: z.string().min(1).max(60_000).describe('The task in markdown; may start with YAML frontmatter (priority, session pin, needs_claude_code, ...: see docs/queue-protocol.md)'),
      title: z.string().min(1).max(200).optional().describe('Title (also used in the task id)'),
      priority: z.enum(PRIORITIES as unknown as readonly [Priority, ...Priority[]]).optional().describe('high, normal (default) or low'),
    }),
    annotations: { title: 'Add a task', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  }, async ({ project, text, title, priority }) => withController(async (c) => json(await c.request<Json>('POST', '/api/v1/tasks', { project, text, ...(title ? { title } : {}), ...(priority ? { priority } : {}) }))));

  server.registerTool('send_to_session', {
    title: 'Send text to a session',
    description: 'Types text into one agent\'s prompt and submits it (as if typed in its terminal): the agent acts on it at once with its full permissions. CHANGES: the agent\'s conversation. '
      + 'Refused when the session is not running, starting, suspended or at a permission prompt, and when it is working unless queue is true (the text then runs after the current turn). '
      + 'Every send is audited (sha256 of the text, never the text). For new work prefer add_task, which survives restarts and failovers.',
    inputSchema: z.strictObject({
      name: objectName.describe('Session name, as in list_sessions'),
      text: z.string().min(1).max(32_768).describe('The text to type (no control characters other than tab and line breaks)'),
      queue: z.boolean().default(false).describe('Deliver even while the session works: Claude Code runs it after the current turn'),
    }),
    annotations: { title: 'Send text to a session', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  }, async ({ name, text, queue }) => withController(async (c) => json(await c.request<Json>('POST', `/api/v1/sessions/${q(name)}/send`, { text, queue }))));

  server.registerTool('restart_session', {
    title: 'Restart a session',
    description: 'Stops one session\'s agent (its tmux session is killed, interrupting any turn in progress); the controller relaunches it under the active account and resumes its conversation (claude --resume). CHANGES: that agent\'s process. A task it held is continued or requeued.',
    inputSchema: z.strictObject({ name: objectName.describe('Session name, as in list_sessions') }),
    annotations: { title: 'Restart a session', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, async ({ name }) => withController(async (c) => json(await c.request<Json>('POST', `/api/v1/sessions/${q(name)}/restart`, {}))));

  server.registerTool('failover', {
    title: 'Force a failover',
    description: 'Moves the whole pool to another account now: every session is stopped (working ones get a grace period to finish their turn) and relaunched under the new account, resuming its conversation. CHANGES: the active account and every agent\'s process. '
      + 'The Account controller refuses an ineligible target (exhausted, invalid credentials) with the reason. The reason is recorded in the event log and notifications.',
    inputSchema: z.strictObject({
      reason: z.string().min(1).max(500).describe('Why (recorded in the event log and sent to the notifiers)'),
      to: objectName.optional().describe('Target account (default: the next eligible one by priority)'),
    }),
    annotations: { title: 'Force a failover', readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  }, async ({ reason, to }) => withController(async (c) => json(await c.request<Json>('POST', '/api/v1/failover', { reason, ...(to ? { to } : {}) }))));

  return server;
}
