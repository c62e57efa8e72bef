/**
 * `get`, `describe` and `events`: ask the running controller through its API when one runs
 * (found via --server/--token-file, CLAUDE_FAILOVER_URL/CLAUDE_FAILOVER_TOKEN, or the state
 * dir's control-plane.json); otherwise read what it recorded in its state dir (status.json,
 * events.jsonl) together with the manifests when given.
 */
import { join } from 'node:path';
import { listLeases, listTasks, readTask } from '../../adapters/queue/index.js';
import { TASK_STATES } from '../../core/task.js';
import { loadManifests } from '../../adapters/manifest-files.js';
import { FileStateStore } from '../../adapters/state-store.js';
import type { AnyObject } from '../../api/objects.js';
import { queueRootOf } from '../../api/queue-root.js';
import { API_VERSION } from '../../api/schemas.js';
import type { StatusMap } from '../../core/controller.js';
import { UsageError } from '../../core/errors.js';
import type { FailureRecord } from '../../core/status.js';
import { age, renderTable, until } from '../../render/table.js';
import type { CfEvent } from '../../runtime/events.js';
import { EVENTS_RECORD } from '../../runtime/events.js';
import { STATUS_RECORD } from '../../runtime/manager.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS, type ApiClient } from '../../server/client.js';
import { COMMON, oneOf, parse, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';

const RESOURCES: Record<string, string> = {
  session: 'Session', sessions: 'Session', sess: 'Session',
  account: 'Account', accounts: 'Account',
  project: 'Project', projects: 'Project',
  delegationpolicy: 'DelegationPolicy', delegationpolicies: 'DelegationPolicy',
  notifier: 'Notifier', notifiers: 'Notifier',
};

/** Kind -> API collection (GET /api/v1/<collection>). */
const API_COLLECTIONS: Record<string, string> = { Session: 'sessions', Account: 'accounts', Project: 'projects', DelegationPolicy: 'delegation', Notifier: 'notifiers' };

interface RemoteValues {
  'state-dir'?: string;
  server?: string;
  'token-file'?: string;
}

/** A client of the running controller, or undefined (read the state dir instead). */
function remote(values: RemoteValues, io: CliIO): Promise<ApiClient | undefined> {
  return connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir: stateDirOf(values['state-dir'], io) });
}

async function remoteObjects(client: ApiClient, kind: string): Promise<Record<string, unknown>[]> {
  const list = await client.request<{ items: Record<string, unknown>[] }>('GET', `/api/v1/${API_COLLECTIONS[kind] ?? ''}`);
  return list.items;
}

const GET_HELP = `Usage: claude-failover get sessions|accounts|projects [NAME] [-o wide|json] [--state-dir DIR] [-f PATH...]

Lists objects with their status, as the controller last recorded it in its state dir.
With -f, objects declared in the manifests but never reconciled are listed too.
When a controller runs, the objects come from it (its control-plane API) instead.

Options:
  -o, --output FORMAT      table (default), wide or json
  -f, --filename PATH      Manifests (state-dir mode only)
      --state-dir DIR      State directory
${CONTROLLER_HELP}

Columns (sessions): NAME, PROJECT, ACCOUNT, ACTIVITY, TASK, RESTARTS, AGE;
  -o wide adds CONVERSATION, READY and REASON.
-o json prints a list of full objects {apiVersion, kind, metadata, spec, status}.

Examples:
  claude-failover get sessions
  claude-failover get sessions -o wide
  claude-failover get sessions ccl-1 -o json
  claude-failover get tasks --project web --state failed   (see get tasks --help)
`;

interface Ctx {
  status: StatusMap;
  objects: AnyObject[];
  store: FileStateStore;
}

async function context(values: { filename?: string[]; 'state-dir'?: string }, io: CliIO): Promise<Ctx> {
  const store = new FileStateStore(stateDirOf(values['state-dir'], io), { readOnly: true });
  const status = (await store.read<StatusMap>(STATUS_RECORD)) ?? {};
  let objects: AnyObject[] = [];
  const files = values.filename ?? (io.env.CLAUDE_FAILOVER_MANIFESTS ? io.env.CLAUDE_FAILOVER_MANIFESTS.split(':') : []);
  if (files.length > 0) objects = (await loadManifests(files, { displayBase: io.cwd, gitRevision: false })).objects;
  return { status, objects, store };
}

function kindOf(resource: string | undefined): string {
  const k = resource ? RESOURCES[resource.toLowerCase()] : undefined;
  if (!k) throw new UsageError(`unknown resource ${JSON.stringify(resource ?? '')}: use sessions, accounts, projects, delegationpolicies or notifiers`);
  return k;
}

/** Full objects of a kind: manifest spec (when known) + recorded status. */
function fullObjects(ctx: Ctx, kind: string): Record<string, unknown>[] {
  const names = new Set<string>();
  for (const key of Object.keys(ctx.status)) if (key.startsWith(`${kind}/`) && !key.endsWith('/*')) names.add(key.slice(kind.length + 1));
  for (const o of ctx.objects) if (o.kind === kind) names.add(o.metadata.name);
  return [...names].sort().map((name) => {
    const o = ctx.objects.find((x) => x.kind === kind && x.metadata.name === name);
    return {
      apiVersion: API_VERSION,
      kind,
      metadata: o?.metadata ?? { name },
      ...(o ? { spec: o.spec } : {}),
      status: ctx.status[`${kind}/${name}`] ?? {},
    };
  });
}

function str(v: unknown, def = '<none>'): string {
  return v === undefined || v === null || v === '' ? def : String(v);
}

function ready(status: Record<string, unknown>): { ready: string; reason: string } {
  const c = (status.conditions as { type: string; status: string; reason: string }[] | undefined)?.find((x) => x.type === 'Ready');
  return { ready: c?.status ?? 'Unknown', reason: c?.reason ?? '' };
}

export async function getCommand(args: string[], io: CliIO): Promise<number> {
  if (args[0] === 'tasks' || args[0] === 'task') return getTasksCommand(args.slice(1), io);
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; 'state-dir'?: string; output?: string; server?: string; 'token-file'?: string }>(args, { filename: COMMON.filename, 'state-dir': COMMON['state-dir'], output: { type: 'string', short: 'o' }, ...CONTROLLER_OPTIONS }, { allowPositionals: true });
  if (values.help || positionals.length === 0) {
    io.stdout.write(GET_HELP);
    return values.help ? 0 : 1;
  }
  const kind = kindOf(positionals[0]);
  const output = oneOf('--output', values.output, ['table', 'wide', 'json'] as const, 'table');
  const client = await remote(values, io);
  let objs: Record<string, unknown>[];
  let where: string;
  if (client) {
    try {
      objs = await remoteObjects(client, kind);
    } finally {
      await client.close();
    }
    where = `controller at ${client.target.url}`;
  } else {
    const ctx = await context(values, io);
    objs = fullObjects(ctx, kind);
    where = `state dir ${ctx.store.dir}`;
  }
  if (positionals[1]) {
    objs = objs.filter((o) => (o.metadata as { name: string }).name === positionals[1]);
    if (objs.length === 0) {
      io.stderr.write(`claude-failover get: ${kind} "${positionals[1]}" not found\n`);
      return 1;
    }
  }
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify(objs, null, 2)}\n`);
    return 0;
  }
  if (objs.length === 0) {
    io.stdout.write(`No ${kind} objects found (${where}).\n`);
    return 0;
  }
  const now = Date.now();
  const wide = output === 'wide';
  if (kind === 'Session') {
    const headers = ['NAME', 'PROJECT', 'ACCOUNT', 'ACTIVITY', 'TASK', 'RESTARTS', 'AGE', ...(wide ? ['CONVERSATION', 'READY', 'REASON'] : [])];
    const rows = objs.map((o) => {
      const s = o.status as Record<string, unknown>;
      const spec = o.spec as { project?: string } | undefined;
      const r = ready(s);
      return [
        (o.metadata as { name: string }).name, str(spec?.project ?? s.project), str(s.account), str(s.activity, 'unknown'), str(s.currentTask), str(s.restarts, '0'), age(s.launchedAt as string | undefined, now),
        ...(wide ? [str(s.conversationId), r.ready, r.reason] : []),
      ];
    });
    io.stdout.write(renderTable(headers, rows));
    return 0;
  }
  if (kind === 'Account') {
    io.stdout.write(renderAccounts(objs, now, wide));
    return 0;
  }
  const headers = ['NAME', 'READY', 'REASON', 'AGE', 'MESSAGE'];
  const rows = objs.map((o) => {
    const s = o.status as Record<string, unknown>;
    const c = (s.conditions as { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[] | undefined)?.find((x) => x.type === 'Ready');
    return [(o.metadata as { name: string }).name, c?.status ?? 'Unknown', c?.reason ?? '', age(c?.lastTransitionTime, now), wide ? (c?.message ?? '') : (c?.message ?? '').slice(0, 60)];
  });
  io.stdout.write(renderTable(headers, rows));
  return 0;
}

const DESCRIBE_HELP = `Usage: claude-failover describe session|account|project NAME [--state-dir DIR] [-f PATH...]

Shows one object: its spec summary, status, conditions and recent events.
From the running controller when one runs, else from the state dir.

Options:
  -f, --filename PATH      Manifests (state-dir mode only)
      --state-dir DIR      State directory
${CONTROLLER_HELP}

Example:
  claude-failover describe session ccl-1
`;

export async function describeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; 'state-dir'?: string; server?: string; 'token-file'?: string }>(args, { filename: COMMON.filename, 'state-dir': COMMON['state-dir'], ...CONTROLLER_OPTIONS }, { allowPositionals: true });
  if (values.help || positionals.length < 2) {
    io.stdout.write(DESCRIBE_HELP);
    return values.help ? 0 : 1;
  }
  const kind = kindOf(positionals[0]);
  const name = positionals[1] as string;
  const client = await remote(values, io);
  let obj: Record<string, unknown> | undefined;
  let events: CfEvent[];
  if (client) {
    try {
      obj = (await remoteObjects(client, kind)).find((o) => (o.metadata as { name: string }).name === name);
      events = obj ? (await client.request<{ items: CfEvent[] }>('GET', `/api/v1/events?for=${encodeURIComponent(`${kind}/${name}`)}&limit=10`)).items.filter((e) => e.key === `${kind}/${name}`) : [];
    } finally {
      await client.close();
    }
  } else {
    const ctx = await context(values, io);
    obj = fullObjects(ctx, kind).find((o) => (o.metadata as { name: string }).name === name);
    events = (await ctx.store.readLines<CfEvent>(EVENTS_RECORD)).filter((e) => e.key === `${kind}/${name}`).slice(-10);
  }
  if (!obj) {
    io.stderr.write(`claude-failover describe: ${kind} "${name}" not found\n`);
    return 1;
  }
  const out: string[] = [`Name:         ${name}`, `Kind:         ${kind}`];
  const status = obj.status as Record<string, unknown>;
  if (obj.spec) {
    out.push('Spec:');
    for (const [k, v] of Object.entries(obj.spec as Record<string, unknown>)) out.push(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  out.push('Status:');
  for (const [k, v] of Object.entries(status)) {
    if (k === 'conditions' || k === 'failures' || k === 'launch' || k === 'lastExit') continue;
    out.push(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  if (status.launch) out.push(`  launch: ${JSON.stringify(status.launch)}`);
  // Why the agent's process last exited: the last lines it left in its pane.
  const lastExit = status.lastExit as { at: string; exitStatus: number | null; uptimeMs: number; output: string[] } | undefined;
  if (lastExit) {
    out.push(`Last exit: ${lastExit.at}  status ${lastExit.exitStatus ?? 'unknown'} after ${Math.round(lastExit.uptimeMs / 1000)}s`);
    if (lastExit.output.length === 0) out.push('  | (the pane was empty)');
    for (const line of lastExit.output) out.push(`  | ${line}`);
  }
  const failures = status.failures as FailureRecord[] | undefined;
  if (failures?.length) {
    out.push('Failures:');
    for (const f of failures.slice(-5)) {
      out.push(f.reason === 'LaunchFailed'
        ? `  ${f.at}  LaunchFailed${f.error ? `: ${f.error}` : ''}`
        : `  ${f.at}  ${f.reason}${f.exitStatus != null ? ` (status ${f.exitStatus})` : ''} after ${Math.round(f.uptimeMs / 1000)}s${f.lastOutput?.length ? `: ${f.lastOutput.at(-1)}` : ''}`);
    }
  }
  out.push('Conditions:');
  const conds = (status.conditions as { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[] | undefined) ?? [];
  out.push(renderTable(['  TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'], conds.map((c) => [`  ${c.type}`, c.status, c.reason, c.lastTransitionTime, c.message])).trimEnd());
  out.push('Events:');
  if (events.length === 0) out.push('  <none>');
  else out.push(renderTable(['  TIME', 'TYPE', 'REASON', 'MESSAGE'], events.map((e) => [`  ${e.time}`, e.type, e.reason, e.message])).trimEnd());
  io.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

const EVENTS_HELP = `Usage: claude-failover events [--for Kind/name] [--limit N] [-o json] [--state-dir DIR]

Shows the event and decision log: what the controller did and why (launches, failovers
with the figures that triggered them, rejected manifests, crash loops).
From the running controller when one runs (at most its last 2000 events), else from the
state dir's events.jsonl.

Options:
      --for KEY            Only events of Kind/name (Kind/* for a kind)
      --limit N            Newest N events (default 100)
  -o, --output FORMAT      table (default) or json
      --state-dir DIR      State directory
${CONTROLLER_HELP}

Examples:
  claude-failover events --for Account/alpha
  claude-failover events --limit 50 -o json
`;

export async function eventsCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; for?: string; limit?: string; output?: string; 'state-dir'?: string; server?: string; 'token-file'?: string }>(args, { for: { type: 'string' }, limit: { type: 'string' }, output: { type: 'string', short: 'o' }, 'state-dir': COMMON['state-dir'], ...CONTROLLER_OPTIONS });
  if (values.help) {
    io.stdout.write(EVENTS_HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['table', 'json'] as const, 'table');
  const limit = values.limit === undefined ? 100 : Number.parseInt(values.limit, 10);
  if (!Number.isFinite(limit) || limit <= 0) throw new UsageError('--limit must be a positive number');
  const store = new FileStateStore(stateDirOf(values['state-dir'], io), { readOnly: true });
  const client = await remote(values, io);
  let events: CfEvent[];
  if (client) {
    try {
      const q = new URLSearchParams({ limit: String(Math.min(limit, 2000)), ...(values.for ? { for: values.for } : {}) });
      events = (await client.request<{ items: CfEvent[] }>('GET', `/api/v1/events?${q.toString()}`)).items;
    } finally {
      await client.close();
    }
  } else {
    events = await store.readLines<CfEvent>(EVENTS_RECORD);
    if (values.for) {
      const f = values.for;
      events = events.filter((e) => e.key === f || (f.endsWith('/*') && e.key.startsWith(f.slice(0, -1))) || (f.startsWith('Account/') && e.key === 'Account/*'));
    }
    events = events.slice(-limit);
  }
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
    return 0;
  }
  if (events.length === 0) {
    io.stdout.write(`No events recorded (state dir ${join(store.dir)}).\n`);
    return 0;
  }
  io.stdout.write(renderTable(['TIME', 'OBJECT', 'TYPE', 'REASON', 'MESSAGE'], events.map((e) => [e.time, e.key, e.type, e.reason, e.message])));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// get tasks

const GET_TASKS_HELP = `Usage: claude-failover get tasks [--project NAME] [--state STATE] [-o json] [-f PATH...] [--state-dir DIR]

Lists the tasks in the projects' queues (read from the queue directories). Projects come from
the manifests (-f, or CLAUDE_FAILOVER_MANIFESTS), else from the controller's recorded status.

STATE is inbox, dispatched, delegated, done, failed or archive (default: all but archive).
Columns: PROJECT, STATE, ID, PRIORITY, SESSION, ATTEMPT, AGE, TITLE (AGE: since the file's mtime;
a title marked "(!)" has frontmatter warnings, e.g. a field spelt allow-delegation read as
allow_delegation: see them with -o json).
-o json prints a list of {project, state, id, path, priority, title, mtime, settling, session,
attempt, claimedAt, deliveredAt, warnings, error}.

Examples:
  claude-failover get tasks
  claude-failover get tasks --project web --state failed
  claude-failover get tasks -o json
`;

export interface TaskRow {
  project: string;
  state: string;
  id: string;
  path: string;
  priority?: string;
  title?: string;
  mtime: string;
  settling?: boolean;
  session?: string;
  attempt?: number;
  claimedAt?: string;
  deliveredAt?: string;
  /** Frontmatter warnings (unknown fields kept, spelling variants read as a known field). */
  warnings?: string[];
  error?: string;
}

export async function getTasksCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; project?: string; state?: string; output?: string; filename?: string[]; 'state-dir'?: string }>(args, {
    project: { type: 'string' }, state: { type: 'string' }, output: { type: 'string', short: 'o' }, filename: COMMON.filename, 'state-dir': COMMON['state-dir'],
  });
  if (values.help) {
    io.stdout.write(GET_TASKS_HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['table', 'json'] as const, 'table');
  const state = values.state === undefined ? undefined : oneOf('--state', values.state, TASK_STATES, 'inbox');
  const ctx = await context(values, io);
  const roots = new Map<string, string>();
  for (const o of ctx.objects) if (o.kind === 'Project') roots.set(o.metadata.name, queueRootOf(o));
  for (const [key, st] of Object.entries(ctx.status)) {
    if (!key.startsWith('Project/') || typeof st.queueRoot !== 'string') continue;
    const name = key.slice('Project/'.length);
    if (!roots.has(name)) roots.set(name, st.queueRoot);
  }
  if (values.project !== undefined) {
    const root = roots.get(values.project);
    if (root === undefined) {
      io.stderr.write(`claude-failover get tasks: project "${values.project}" not found (pass the manifests with -f, or run the controller once)\n`);
      return 1;
    }
    roots.clear();
    roots.set(values.project, root);
  }
  const rows: TaskRow[] = [];
  for (const [project, root] of [...roots].sort(([a], [b]) => a.localeCompare(b))) {
    const entries = state ? await listTasks(root, state) : (await listTasks(root)).filter((e) => e.state !== 'archive');
    const leases = new Map((await listLeases(root)).flatMap((l) => (l.lease ? [[l.taskId, l.lease] as const] : [])));
    for (const e of entries) {
      const row: TaskRow = { project, state: e.state, id: e.id, path: e.path, mtime: new Date(e.mtimeMs).toISOString(), ...(e.settling ? { settling: true } : {}) };
      try {
        const t = await readTask(root, e.id, e.state, e.month ? { month: e.month } : {});
        row.priority = t.priority;
        row.title = t.title;
        if (t.warnings.length > 0) row.warnings = t.warnings;
      } catch (err) {
        row.error = err instanceof Error ? err.message : String(err);
      }
      const l = e.state === 'dispatched' ? leases.get(e.id) : undefined;
      if (l) Object.assign(row, { session: l.session, attempt: l.attempt, claimedAt: l.claimedAt, ...(l.deliveredAt ? { deliveredAt: l.deliveredAt } : {}) });
      rows.push(row);
    }
  }
  const order = Object.fromEntries(TASK_STATES.map((s, i) => [s, i]));
  rows.sort((a, b) => a.project.localeCompare(b.project) || (order[a.state] ?? 0) - (order[b.state] ?? 0) || a.mtime.localeCompare(b.mtime) || a.id.localeCompare(b.id));
  if (output === 'json') {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(roots.size === 0 ? 'No projects known (pass the manifests with -f, or run the controller once).\n' : 'No tasks found.\n');
    return 0;
  }
  const now = Date.now();
  io.stdout.write(renderTable(['PROJECT', 'STATE', 'ID', 'PRIORITY', 'SESSION', 'ATTEMPT', 'AGE', 'TITLE'], rows.map((r) => [
    r.project, r.settling ? 'inbox (settling)' : r.state, r.id, r.priority ?? '-', r.session ?? '-', r.attempt !== undefined ? String(r.attempt) : '-', age(r.mtime, now), r.error ? `(${r.error.slice(0, 60)})` : `${r.warnings ? '(!) ' : ''}${(r.title ?? '').slice(0, 60)}`,
  ])));
  return 0;
}

interface WindowJson {
  utilization?: number;
  resetsAt?: string;
  source?: string;
  observedAt?: string;
}

/** NAME, ACTIVE, 5H%, 7D%, RESETS, SOURCE, AGE, READY (+ REASON, TIER with -o wide). */
export function renderAccounts(objs: Record<string, unknown>[], now: number, wide: boolean): string {
  const headers = ['NAME', 'ACTIVE', '5H%', '7D%', 'RESETS', 'SOURCE', 'AGE', 'READY', ...(wide ? ['REASON', 'TIER', 'MESSAGE'] : [])];
  const pctOf = (w: WindowJson | undefined) => (w?.utilization === undefined ? '?' : `${Math.round(w.utilization * 10) / 10}`);
  const rows = objs.map((o) => {
    const s = o.status as Record<string, unknown>;
    const usage = (s.usage ?? {}) as { fiveHour?: WindowJson; sevenDay?: WindowJson; exhaustedUntil?: string };
    const five = usage.fiveHour;
    const seven = usage.sevenDay;
    const reset = usage.exhaustedUntil ?? five?.resetsAt;
    const newest = [five, seven].filter((w): w is WindowJson => !!w?.observedAt).sort((a, b) => Date.parse(b.observedAt as string) - Date.parse(a.observedAt as string))[0];
    const r = ready(s);
    const c = (s.conditions as { type: string; message: string }[] | undefined)?.find((x) => x.type === 'Ready');
    return [
      (o.metadata as { name: string }).name,
      s.active === true ? '*' : '',
      pctOf(five),
      pctOf(seven),
      until(reset, now),
      newest?.source ?? '<none>',
      newest?.observedAt ? age(newest.observedAt, now) : '<none>',
      r.ready,
      ...(wide ? [r.reason, str(s.tier), c?.message ?? ''] : []),
    ];
  });
  return renderTable(headers, rows);
}
