/** The event/decision log: what happened to which object, and why. Append-only JSONL in the state dir. */
export interface CfEvent {
  time: string;
  /** `Kind/name`. */
  key: string;
  type: 'Normal' | 'Warning';
  /** CamelCase. */
  reason: string;
  message: string;
  /** Structured details (figures, sources) for decisions. */
  data?: Record<string, unknown>;
}

export const EVENTS_RECORD = 'events.jsonl';
