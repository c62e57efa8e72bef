/**
 * The manifest set as the daemon applies it: the last applied set recorded in the state dir (so a
 * restart on an invalid set starts on it), and the deletion guard that holds a set dropping most
 * or all Sessions (a non-atomic deploy, a checkout in progress) until it is stable or confirmed.
 * Everything here but the record's I/O is pure.
 */
import { allObjects, type DesiredState } from '../api/objects.js';
import type { ManifestSource } from '../adapters/manifest-files.js';
import { setCondition, type Condition } from '../core/conditions.js';
import type { ObjectStatus } from '../core/controller.js';
import { generationOf } from '../api/generation.js';

/** Status and events about the manifest set as a whole use this key. */
export const MANIFESTS_KEY = 'Manifests/*';
/** The last applied manifest set, in the state dir. */
export const APPLIED_MANIFESTS_RECORD = 'applied-manifests.json';

/** Default of `run --max-delete-share`: a set dropping more than half of the Sessions is held. */
export const DEFAULT_MAX_DELETE_SHARE = 0.5;
/** Default of `run --deletion-grace`: a held set is applied once unchanged this long. */
export const DEFAULT_DELETION_GRACE_MS = 2 * 60_000;

export interface AppliedManifestsRecord {
  formatVersion: 1;
  appliedAt: string;
  revision?: string;
  /** {@link fingerprint} of the set. */
  fingerprint: string;
  objects: number;
  /** The manifest files' texts by absolute path, parsed again at start-up. */
  sources: ManifestSource[];
}

/** What the manifests say, independent of where they were read from. */
export function fingerprint(d: DesiredState): string {
  return allObjects(d).map((o) => `${o.kind}/${o.metadata.name}@${o.generation}:${JSON.stringify(o.metadata.labels ?? {})}${JSON.stringify(o.metadata.annotations ?? {})}`).sort().join('|');
}

export function sessionNames(d: DesiredState): string[] {
  return d.sessions.map((s) => s.metadata.name).sort();
}

export type HoldReason = 'EmptySet' | 'AllSessionsRemoved' | 'TooManySessionsRemoved';

export type DeletionVerdict =
  | { hold: false; removed: string[]; total: number }
  | { hold: true; reason: HoldReason; removed: string[]; total: number; message: string };

/**
 * Whether applying `next` over a set whose Sessions were `baseline` (and which held
 * `baselineObjects` objects) needs evidence first: the set became empty, or it drops every
 * Session, or more than `maxShare` (0..1) of them. `prune` only changes the wording: with it the
 * dropped sessions would be stopped, without it they would keep running unmanaged.
 */
export function deletionVerdict(baseline: readonly string[], baselineObjects: number, next: DesiredState, opts: { maxShare: number; prune: boolean }): DeletionVerdict {
  const keep = new Set(sessionNames(next));
  const removed = baseline.filter((n) => !keep.has(n)).sort();
  const total = baseline.length;
  const fate = opts.prune ? 'stopped (--prune)' : 'left running unmanaged (orphaned)';
  const list = (names: string[]) => (names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', '));
  if (baselineObjects > 0 && allObjects(next).length === 0) {
    return { hold: true, reason: 'EmptySet', removed, total, message: `the manifest set is empty (it had ${baselineObjects} objects)${total > 0 ? `; all ${total} Sessions would be ${fate}` : ''}` };
  }
  if (removed.length === 0) return { hold: false, removed, total };
  if (removed.length === total) {
    return { hold: true, reason: 'AllSessionsRemoved', removed, total, message: `the manifest set drops every Session (${total}: ${list(removed)}); they would be ${fate}` };
  }
  if (removed.length / total > opts.maxShare) {
    return { hold: true, reason: 'TooManySessionsRemoved', removed, total, message: `the manifest set drops ${removed.length} of ${total} Sessions (${list(removed)}), more than ${Math.round(opts.maxShare * 100)}%; they would be ${fate}` };
  }
  return { hold: false, removed, total };
}

/** A set the deletion guard holds back. */
export interface HeldSet {
  /** Short id an operator confirms (`claude-failover manifests confirm --id`). */
  id: string;
  fingerprint: string;
  revision?: string;
  reason: HoldReason;
  message: string;
  removed: string[];
  total: number;
  /** When this exact set was first seen. */
  since: string;
  /** When it is applied if it stays as it is. */
  applyAt: string;
}

export function holdId(fp: string): string {
  return generationOf({ fp }).slice(0, 12);
}

/** The status recorded under {@link MANIFESTS_KEY}. */
export interface ManifestsStatus extends ObjectStatus {
  /** Revision of the set in force. */
  revision?: string;
  appliedAt?: string;
  objects?: number;
  /** Present while a set is held. */
  held?: HeldSet;
  /** Diagnostics of the set on disk while it is invalid. */
  invalid?: { at: string; diagnostics: string[]; revision?: string };
}

/** The status with one condition set (the generation of the manifests status is the applied set's fingerprint). */
export function withCondition(st: ManifestsStatus | undefined, c: Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>, now: Date, generation: string): ManifestsStatus {
  return { ...(st ?? { conditions: [] }), observedGeneration: generation, conditions: setCondition(st?.conditions, c, now, generation) };
}
