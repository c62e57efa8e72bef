/**
 * The Plan: data first, text rendered from it (terraform style). The same object is printed by
 * `--dry-run`, emitted by `-o json`, and executed by the runtime, so a dry-run cannot drift from
 * what a real run does.
 */
import type { Effect } from './effects.js';

export const PLAN_FORMAT_VERSION = 1;

/** `+` create, `~` update, `-` delete, `-/+` replace. */
export type ChangeAction = 'create' | 'update' | 'delete' | 'replace';

export interface FieldDiff {
  /** JSON-pointer-ish path, e.g. `/env/CLAUDE_CONFIG_DIR`. */
  path: string;
  op: 'add' | 'remove' | 'replace';
  from?: unknown;
  to?: unknown;
}

export interface Change {
  /** `Kind/name` of the object that owns the change. */
  key: string;
  action: ChangeAction;
  /** What the change acts upon, e.g. `tmux session "ccl-3"`. */
  resource: string;
  /** Why, in words: `declared in manifests`, `account a exhausted (5h 93% >= 90%)`. */
  reason: string;
  /** Field-level differences (from a JSON patch of observed vs desired). */
  diff?: FieldDiff[];
  /** What will be done, in order. Serializable. */
  effects: Effect[];
}

/** Something in the world differs from what the controller last applied. */
export interface Drift {
  key: string;
  message: string;
}

/** Information for the reader: unreachable services, pending decisions, skipped work. */
export interface Note {
  key?: string;
  level: 'info' | 'warning';
  message: string;
}

export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
}

export interface Plan {
  formatVersion: typeof PLAN_FORMAT_VERSION;
  generatedAt: string;
  dryRun: boolean;
  /** Git revision of the manifests, when they sit in a git checkout. */
  revision?: string;
  changes: Change[];
  drift: Drift[];
  notes: Note[];
  summary: PlanSummary;
}

export function summarize(changes: readonly Change[]): PlanSummary {
  const s: PlanSummary = { add: 0, change: 0, destroy: 0 };
  for (const c of changes) {
    if (c.action === 'create') s.add += 1;
    else if (c.action === 'update') s.change += 1;
    else if (c.action === 'delete') s.destroy += 1;
    else {
      s.add += 1;
      s.destroy += 1;
    }
  }
  return s;
}

export function makePlan(parts: { changes: Change[]; drift?: Drift[]; notes?: Note[]; dryRun: boolean; now: Date; revision?: string }): Plan {
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    generatedAt: parts.now.toISOString(),
    dryRun: parts.dryRun,
    ...(parts.revision ? { revision: parts.revision } : {}),
    changes: parts.changes,
    drift: parts.drift ?? [],
    notes: parts.notes ?? [],
    summary: summarize(parts.changes),
  };
}
