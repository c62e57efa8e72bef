/**
 * A phase of a controller's plan (Project, DelegationPolicy): a pure function that returns the
 * changes, events and notes it adds, and when to check back. The planner appends the phases'
 * outputs in the order they run, so the plan reads in that order.
 */
import type { PlannedEvent, PlanPart } from '../core/controller.js';
import type { Change, Note } from '../core/plan.js';

/** What a phase adds to the plan. */
export interface PhaseOutput {
  changes: Change[];
  events: PlannedEvent[];
  notes: Note[];
  /** Check back after this many ms: the smallest delay any decision of the phase asked for. */
  requeueAfterMs?: number;
}

export function emptyPhaseOutput(): PhaseOutput {
  return { changes: [], events: [], notes: [] };
}

/** Asks for a check back after `ms` (keeps the earliest). */
export function requeueIn(phase: Pick<PhaseOutput, 'requeueAfterMs'>, ms: number): void {
  const delay = Math.max(0, Math.round(ms));
  phase.requeueAfterMs = Math.min(phase.requeueAfterMs ?? Infinity, delay);
}

/** Appends a phase's output to the plan part, its requeue under `key`. */
export function mergePhase(out: PlanPart, key: string, phase: PhaseOutput): void {
  out.changes.push(...phase.changes);
  out.events.push(...phase.events);
  out.notes.push(...phase.notes);
  if (phase.requeueAfterMs !== undefined) out.requeueAfterMs[key] = Math.min(out.requeueAfterMs[key] ?? Infinity, phase.requeueAfterMs);
}
