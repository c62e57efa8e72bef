/** Kubernetes-shaped status conditions. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  /** CamelCase, machine-readable. */
  reason: string;
  message: string;
  /** ISO-8601; changes only when `status` changes. */
  lastTransitionTime: string;
  observedGeneration: string;
}

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message?: string;
}

/**
 * Returns a new condition list with `input` set. `lastTransitionTime` is kept when the status
 * did not change (reason and message may still change). Pure: `now` is passed in.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  now: Date,
  observedGeneration: string,
): Condition[] {
  const list = conditions ? [...conditions] : [];
  const idx = list.findIndex((c) => c.type === input.type);
  const prev = idx >= 0 ? list[idx] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message ?? '',
    lastTransitionTime: prev && prev.status === input.status ? prev.lastTransitionTime : now.toISOString(),
    observedGeneration,
  };
  if (idx >= 0) list[idx] = next;
  else list.push(next);
  return list;
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return getCondition(conditions, type)?.status === 'True';
}
