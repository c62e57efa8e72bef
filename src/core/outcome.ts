/**
 * One reconcile result that keeps the class of what failed (controller-runtime's Result + error,
 * kube-rs's Action), so the work queue treats each class as documented in src/core/errors.ts:
 * - `terminal` (TerminalError): the spec or the world is wrong in a way a retry cannot fix. The key
 *   is not requeued for it (only its planned follow-up, a trigger or the periodic resync run it again);
 * - `conflict` (ConflictError): the world moved under the plan (a task claimed by someone else, a
 *   stale job record). The key is planned again after `retryAfterMs` (default at once), without
 *   counting towards its back-off: nothing is broken;
 * - `retryable` (RetryableError): not ready yet; requeued after its `retryAfterMs`, else with the
 *   key's exponential back-off;
 * - `unexpected` (anything else): requeued with the key's exponential back-off.
 */
import { errorCode, errorMessage, RetryableError, TerminalError } from './errors.js';

export type FailureClass = 'retryable' | 'terminal' | 'conflict' | 'unexpected';

/** The world changed under the plan: plan again (soon), this is not a fault. */
export class ConflictError extends RetryableError {}

/** A change that failed to apply, with the class and details of its error. */
export interface ApplyFailure {
  key: string;
  error: string;
  class: FailureClass;
  code?: string;
  /** CamelCase reason of a TerminalError/RetryableError. */
  reason?: string;
  retryAfterMs?: number;
}

export function classifyFailure(key: string, err: unknown): ApplyFailure {
  const code = errorCode(err);
  const base = { key, error: errorMessage(err), ...(code ? { code } : {}) };
  if (err instanceof ConflictError) return { ...base, class: 'conflict', reason: err.reason, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  if (err instanceof RetryableError) return { ...base, class: 'retryable', reason: err.reason, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  if (err instanceof TerminalError) return { ...base, class: 'terminal', reason: err.reason };
  return { ...base, class: 'unexpected' };
}

export type ReconcileResult =
  /** Everything applied; check back after `requeueAfterMs` when the plan asked for it. */
  | { outcome: 'ok'; requeueAfterMs?: number }
  /** Retry: after `retryAfterMs` when every failure named one, else with back-off. */
  | { outcome: 'retry'; failures: ApplyFailure[]; retryAfterMs?: number }
  /** Plan again after `retryAfterMs` (no back-off). */
  | { outcome: 'conflict'; failures: ApplyFailure[]; retryAfterMs: number }
  /** Not requeued for the failures; only the plan's own follow-up stands. */
  | { outcome: 'terminal'; failures: ApplyFailure[]; requeueAfterMs?: number };

/**
 * The result of one key's reconcile from its failures and the plan's requested follow-ups. The
 * most urgent class wins: a retryable or unexpected failure (back-off) over a conflict (plan
 * again) over a terminal one (wait for a change).
 */
export function reconcileResult(failures: readonly ApplyFailure[], requeueAfterMs: readonly number[]): ReconcileResult {
  const planned = requeueAfterMs.length > 0 ? Math.min(...requeueAfterMs) : undefined;
  if (failures.length === 0) return planned !== undefined ? { outcome: 'ok', requeueAfterMs: planned } : { outcome: 'ok' };
  const list = [...failures];
  const retrying = list.filter((f) => f.class === 'retryable' || f.class === 'unexpected');
  if (retrying.length > 0) {
    const afters = retrying.map((f) => f.retryAfterMs);
    const all = afters.every((a): a is number => a !== undefined);
    return all ? { outcome: 'retry', failures: list, retryAfterMs: Math.min(...afters) } : { outcome: 'retry', failures: list };
  }
  const conflicts = list.filter((f) => f.class === 'conflict');
  if (conflicts.length > 0) {
    const after = Math.min(...conflicts.map((f) => f.retryAfterMs ?? 0), ...(planned !== undefined ? [planned] : []));
    return { outcome: 'conflict', failures: list, retryAfterMs: after };
  }
  return planned !== undefined ? { outcome: 'terminal', failures: list, requeueAfterMs: planned } : { outcome: 'terminal', failures: list };
}

/** One line for logs and errors: `key: message` per failure. */
export function describeFailures(failures: readonly ApplyFailure[]): string {
  return failures.map((f) => `${f.key}: ${f.error}`).join('; ');
}
