/** Manifest objects as the controller holds them: validated, defaulted, paths resolved. */
import type { Kind, ObjectMeta, SpecByKind } from './schemas.js';

export interface SourceRef {
  file: string;
  line: number;
  col: number;
  /** Positions of fields by dotted path (`spec.project`, `spec.for.0`), for diagnostics. */
  fields?: Record<string, { line: number; col: number }>;
}

export interface ManifestObject<K extends Kind = Kind> {
  apiVersion: string;
  kind: K;
  metadata: ObjectMeta;
  spec: SpecByKind[K];
  /** Where the document starts. */
  source: SourceRef;
  /** Hash of the canonical spec (there is no API server to count generations). */
  generation: string;
}

export type AnyObject = { [K in Kind]: ManifestObject<K> }[Kind];

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning';
  /** Stable code, e.g. CF_MANIFEST_UNKNOWN_FIELD. */
  code: string;
  message: string;
}

export function objectKey(kind: Kind, name: string): string {
  return `${kind}/${name}`;
}

export function keyOf(obj: { kind: Kind; metadata: { name: string } }): string {
  return objectKey(obj.kind, obj.metadata.name);
}

export function parseKey(key: string): { kind: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { kind: key, name: '' } : { kind: key.slice(0, i), name: key.slice(i + 1) };
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** The desired state: every object of the manifest set, by kind. */
export interface DesiredState {
  accounts: ManifestObject<'Account'>[];
  projects: ManifestObject<'Project'>[];
  delegationPolicies: ManifestObject<'DelegationPolicy'>[];
  sessions: ManifestObject<'Session'>[];
  notifiers: ManifestObject<'Notifier'>[];
  /** Git revision of the manifests directory, when known. */
  revision?: string;
}

export function emptyDesiredState(): DesiredState {
  return { accounts: [], projects: [], delegationPolicies: [], sessions: [], notifiers: [] };
}

export function desiredFromObjects(objects: readonly AnyObject[], revision?: string): DesiredState {
  const d = emptyDesiredState();
  for (const o of objects) {
    switch (o.kind) {
      case 'Account': d.accounts.push(o); break;
      case 'Project': d.projects.push(o); break;
      case 'DelegationPolicy': d.delegationPolicies.push(o); break;
      case 'Session': d.sessions.push(o); break;
      case 'Notifier': d.notifiers.push(o); break;
    }
  }
  for (const list of [d.accounts, d.projects, d.delegationPolicies, d.sessions, d.notifiers]) {
    list.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }
  if (revision) d.revision = revision;
  return d;
}

export function allObjects(d: DesiredState): AnyObject[] {
  return [...d.accounts, ...d.projects, ...d.delegationPolicies, ...d.sessions, ...d.notifiers];
}
