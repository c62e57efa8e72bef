/**
 * `get`, `describe` and `events`: read what the controller recorded in its state dir
 * (status.json, events.jsonl) together with the manifests when given.
 */
import { join } from 'node:path';
import { loadManifests } from '../../adapters/manifest-files.js';
import { FileStateStore, defaultStateDir } from '../../adapters/state-store.js';
import type { AnyObject } from '../../api/objects.js';
import { API_VERSION } from '../../api/schemas.js';
import type { StatusMap } from '../../core/controller.js';
import { UsageError } from '../../core/errors.js';
import { age, renderTable } from '../../render/table.js';
import type { CfEvent } from '../../runtime/events.js';
import { EVENTS_RECORD } from '../../runtime/events.js';
import { STATUS_RECORD } from '../../runtime/manager.js';
import { COMMON, oneOf, parse } from '../args.js';
import type { CliIO } from '../io.js';

const RESOURCES: Record<string, string> = {
  session: 'Session', sessions: 'Session', sess: 'Session',
  account: 'Account', accounts: 'Account',
  project: 'Project', projects: 'Project',
  delegationpolicy: 'DelegationPolicy', delegationpolicies: 'DelegationPolicy',
  notifier: 'Notifier', notifiers: 'Notifier',
};

const GET_HELP = `Usage: claude-failover get sessions|accounts|projects [NAME] [-o wide|json] [--state-dir DIR] [-f PATH...]

Lists objects with their status, as the controller last recorded it in its state dir.
With -f, objects declared in the manifests but never reconciled are listed too.

Columns (sessions): NAME, PROJECT, ACCOUNT, ACTIVITY, TASK, RESTARTS, AGE;
  -o wide adds CONVERSATION, READY and REASON.
-o json prints a list of full objects {apiVersion, kind, metadata, spec, status}.

Examples:
  claude-failover get sessions
  claude-failover get sessions -o wide
  claude-failover get sessions ccl-1 -o json
`;

interface Ctx {
  status: StatusMap;
  objects: AnyObject[];
  store: FileStateStore;
}

async function context(values: { filename?: string[]; 'state-dir'?: string }, io: CliIO): Promise<Ctx> {
  const store = new FileStateStore(values['state-dir'] ?? defaultStateDir(io.env), { readOnly: true });
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
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; 'state-dir'?: string; output?: string }>(args, { filename: COMMON.filename, 'state-dir': COMMON['state-dir'], output: { type: 'string', short: 'o' } }, { allowPositionals: true });
  if (values.help || positionals.length === 0) {
    io.stdout.write(GET_HELP);
    return values.help ? 0 : 1;
  }
  const kind = kindOf(positionals[0]);
  const output = oneOf('--output', values.output, ['table', 'wide', 'json'] as const, 'table');
  const ctx = await context(values, io);
  let objs = fullObjects(ctx, kind);
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
    io.stdout.write(`No ${kind} objects found (state dir ${ctx.store.dir}).\n`);
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
        (o.metadata as { name: string }).name, str(spec?.project), str(s.account), str(s.activity, 'unknown'), str(s.currentTask), str(s.restarts, '0'), age(s.launchedAt as string | undefined, now),
        ...(wide ? [str(s.conversationId), r.ready, r.reason] : []),
      ];
    });
    io.stdout.write(renderTable(headers, rows));
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

Example:
  claude-failover describe session ccl-1
`;

export async function describeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; 'state-dir'?: string }>(args, { filename: COMMON.filename, 'state-dir': COMMON['state-dir'] }, { allowPositionals: true });
  if (values.help || positionals.length < 2) {
    io.stdout.write(DESCRIBE_HELP);
    return values.help ? 0 : 1;
  }
  const kind = kindOf(positionals[0]);
  const name = positionals[1] as string;
  const ctx = await context(values, io);
  const obj = fullObjects(ctx, kind).find((o) => (o.metadata as { name: string }).name === name);
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
    if (k === 'conditions' || k === 'failures' || k === 'launch') continue;
    out.push(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  if (status.launch) out.push(`  launch: ${JSON.stringify(status.launch)}`);
  const failures = status.failures as { at: string; reason: string; exitStatus?: number | null; uptimeMs: number }[] | undefined;
  if (failures?.length) {
    out.push('Failures:');
    for (const f of failures.slice(-5)) out.push(`  ${f.at}  ${f.reason}${f.exitStatus != null ? ` (status ${f.exitStatus})` : ''} after ${Math.round(f.uptimeMs / 1000)}s`);
  }
  out.push('Conditions:');
  const conds = (status.conditions as { type: string; status: string; reason: string; message: string; lastTransitionTime: string }[] | undefined) ?? [];
  out.push(renderTable(['  TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'], conds.map((c) => [`  ${c.type}`, c.status, c.reason, c.lastTransitionTime, c.message])).trimEnd());
  const events = (await ctx.store.readLines<CfEvent>(EVENTS_RECORD)).filter((e) => e.key === `${kind}/${name}`).slice(-10);
  out.push('Events:');
  if (events.length === 0) out.push('  <none>');
  else out.push(renderTable(['  TIME', 'TYPE', 'REASON', 'MESSAGE'], events.map((e) => [`  ${e.time}`, e.type, e.reason, e.message])).trimEnd());
  io.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

const EVENTS_HELP = `Usage: claude-failover events [--for Kind/name] [--limit N] [-o json] [--state-dir DIR]

Shows the event and decision log: what the controller did and why (launches, failovers
with the figures that triggered them, rejected manifests, crash loops).

Examples:
  claude-failover events --for Account/alpha
  claude-failover events --limit 50 -o json
`;

export async function eventsCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; for?: string; limit?: string; output?: string; 'state-dir'?: string }>(args, { for: { type: 'string' }, limit: { type: 'string' }, output: { type: 'string', short: 'o' }, 'state-dir': COMMON['state-dir'] });
  if (values.help) {
    io.stdout.write(EVENTS_HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['table', 'json'] as const, 'table');
  const limit = values.limit === undefined ? 100 : Number.parseInt(values.limit, 10);
  if (!Number.isFinite(limit) || limit <= 0) throw new UsageError('--limit must be a positive number');
  const store = new FileStateStore(values['state-dir'] ?? defaultStateDir(io.env), { readOnly: true });
  let events = await store.readLines<CfEvent>(EVENTS_RECORD);
  if (values.for) {
    const f = values.for;
    events = events.filter((e) => e.key === f || (f.endsWith('/*') && e.key.startsWith(f.slice(0, -1))) || (f.startsWith('Account/') && e.key === 'Account/*'));
  }
  events = events.slice(-limit);
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
