/**
 * Operator requests as data (Flux keeps such requests in desired state: `reconcile.fluxcd.io/requestedAt`).
 * A forced failover or a session restart is written to the state dir before anything acts on it,
 * with who asked, when and why; the controller that serves it reads it in `observe` (so it survives
 * a controller restart, and a plan preview shows it pending) and records the result on it in
 * `commit`, once the plan that served it was applied.
 */

export type RequestKind = 'failover' | 'restart';

export interface RequestResult {
  accepted: boolean;
  message: string;
  at: string;
}

export interface OperatorRequest {
  version: 1;
  /** Sortable: creation time (base 36) then a counter; the file name under `requests/`. */
  id: string;
  kind: RequestKind;
  /** failover: the Account to move to; restart: the Session to restart. */
  target: string;
  /** The operator's note (`--reason`). */
  reason?: string;
  /** Who asked: the client (its user agent) and where from (its address, or the unix socket). */
  requestedBy: string;
  requestedAt: string;
  /** Set once a controller has acted on the request; a request without it is pending. */
  result?: RequestResult;
}

/** The requests in the state dir (src/adapters/requests.ts). */
export interface RequestsPort {
  /** Writes a new pending request (durably) and returns it. */
  create(req: { kind: RequestKind; target: string; reason?: string; requestedBy: string }): Promise<OperatorRequest>;
  /** Pending requests of a kind, oldest first. */
  pending(kind: RequestKind): Promise<OperatorRequest[]>;
  /** Records the result (a request already completed keeps its first result). */
  complete(id: string, result: RequestResult): Promise<void>;
  get(id: string): Promise<OperatorRequest | undefined>;
  /** The request's result once it is recorded (by this process), or undefined after `ms`. */
  resultOf(id: string, ms: number): Promise<RequestResult | undefined>;
  /** The newest `limit` requests, newest first. */
  list(limit?: number): Promise<OperatorRequest[]>;
}

/**
 * Which pending failover requests a pass serves: the newest; the older ones are superseded by it
 * (an operator who asked twice meant the last one).
 */
export function servePending(pending: readonly OperatorRequest[]): { serve?: OperatorRequest; superseded: OperatorRequest[] } {
  if (pending.length === 0) return { superseded: [] };
  const sorted = [...pending].sort((a, b) => a.id.localeCompare(b.id));
  return { serve: sorted.at(-1) as OperatorRequest, superseded: sorted.slice(0, -1) };
}
