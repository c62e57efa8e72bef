/**
 * Kubernetes-shaped views of the controller's objects, {apiVersion, kind, metadata, spec, status},
 * built from the store (desired + status). Pure: no I/O, nothing invented — an object the
 * controller never reconciled has an empty status, and one only known from status (an orphan) has
 * no spec.
 */
import type { AnyObject, DesiredState } from '../api/objects.js';
import { allObjects } from '../api/objects.js';
import { API_VERSION, type Kind } from '../api/schemas.js';
import type { ObjectStatus, StatusMap } from '../core/controller.js';
import { activeAccount, POOL_KEY } from '../controllers/accounts-view.js';

export interface ApiObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; generation?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
  status: Partial<ObjectStatus>;
}

export interface ApiList<T = ApiObject> {
  apiVersion: string;
  kind: string;
  items: T[];
}

/** Plural route names -> kinds. */
export const ROUTE_KINDS = {
  accounts: 'Account',
  sessions: 'Session',
  projects: 'Project',
  delegation: 'DelegationPolicy',
  notifiers: 'Notifier',
} as const satisfies Record<string, Kind>;

export type RouteResource = keyof typeof ROUTE_KINDS;

/** Values of webhook headers may hold credentials: never served. */
function redactSpec(o: AnyObject): unknown {
  if (o.kind !== 'Notifier' || !o.spec.webhook) return o.spec;
  const headers = Object.fromEntries(Object.keys(o.spec.webhook.headers).map((k) => [k, '<redacted>']));
  return { ...o.spec, webhook: { ...o.spec.webhook, headers } };
}

function toApi(kind: Kind, name: string, o: AnyObject | undefined, status: ObjectStatus | undefined): ApiObject {
  const metadata: ApiObject['metadata'] = { name };
  if (o) {
    metadata.generation = o.generation;
    if (o.metadata.labels) metadata.labels = o.metadata.labels;
    if (o.metadata.annotations) metadata.annotations = o.metadata.annotations;
  }
  return { apiVersion: API_VERSION, kind, metadata, ...(o ? { spec: redactSpec(o) } : {}), status: status ?? {} };
}

/** Every object of a kind: declared ones and ones only known from status, sorted by name. */
export function listObjects(desired: DesiredState, status: StatusMap, kind: Kind): ApiObject[] {
  const declared = new Map<string, AnyObject>();
  for (const o of allObjects(desired)) if (o.kind === kind) declared.set(o.metadata.name, o);
  const names = new Set(declared.keys());
  const prefix = `${kind}/`;
  for (const key of Object.keys(status)) if (key.startsWith(prefix) && key !== `${kind}/*`) names.add(key.slice(prefix.length));
  return [...names].sort().map((n) => toApi(kind, n, declared.get(n), status[`${kind}/${n}`]));
}

export function getObject(desired: DesiredState, status: StatusMap, kind: Kind, name: string): ApiObject | undefined {
  const o = allObjects(desired).find((x) => x.kind === kind && x.metadata.name === name);
  const st = status[`${kind}/${name}`];
  if (!o && !st) return undefined;
  return toApi(kind, name, o, st);
}

export function listOf<T>(kind: string, items: T[]): ApiList<T> {
  return { apiVersion: API_VERSION, kind: `${kind}List`, items };
}

/** The pool-wide account decision: the recorded one, or the account sessions run under meanwhile. */
export interface PoolView {
  activeAccount: string | null;
  /** `decided`: the Account controller recorded it; `preferred`: no decision yet, sessions use the preferred account. */
  source: 'decided' | 'preferred' | 'none';
  status?: ObjectStatus;
}

export function poolView(desired: DesiredState, status: StatusMap): PoolView {
  const st = status[POOL_KEY];
  const active = activeAccount(desired, status);
  const decided = typeof st?.activeAccount === 'string' && active?.metadata.name === st.activeAccount;
  return { activeAccount: active?.metadata.name ?? null, source: active ? (decided ? 'decided' : 'preferred') : 'none', ...(st ? { status: st } : {}) };
}
