/** What buildServer needs from the controller. Everything is passed in; the server opens nothing by itself. */
import type { Logger } from 'pino';
import type { Manager } from '../runtime/manager.js';
import type { SendOutcome, SendRequest } from '../runtime/session-send.js';
import type { AdmissionOptions } from './admission.js';
import type { Metrics } from './metrics.js';

/** The outcome of a failover request, as the API returns it (HTTP 202). */
export interface FailoverOutcome {
  /** The request was taken (the Account controller will act on it). */
  accepted: boolean;
  /** Human explanation. */
  message: string;
  /** The account the pool runs under after the request, when known. */
  active?: string | null;
  [field: string]: unknown;
}

/**
 * Moves the pool to another account now: `to` names an Account (else the controller picks the
 * next eligible one); `reason` is the operator's note. Throw a TerminalError (e.g. an ineligible
 * target) to answer 409 with its message.
 */
export type FailoverFn = (to: string | undefined, reason: string | undefined, requestedBy?: string) => Promise<FailoverOutcome>;

export interface RestartOutcome {
  /** The session's tmux session was stopped; the Session controller relaunches it. */
  restarted: boolean;
  message: string;
  /** The request's id (`requests/<id>.json` in the state dir, `GET /api/v1/requests/<id>`). */
  request?: string;
  /** The controller had not acted on the request when the wait ended. */
  pending?: boolean;
}

/**
 * Restarts one declared session (the Session controller relaunches and resumes it); `requestedBy`
 * names the caller in the request's record. Throw a TerminalError (409) when it cannot be restarted.
 */
export type RestartSessionFn = (name: string, requestedBy?: string) => Promise<RestartOutcome>;

/** The outcome of confirming a held manifest set (`POST /api/v1/manifests/confirm`). */
export interface ConfirmManifestsOutcome {
  /** The held set is now in force. */
  applied: boolean;
  message: string;
  /** The set held after the request, if any (e.g. the manifests changed meanwhile). */
  held?: { id: string };
}

/** Confirms the held manifest set (`id`, when given, must be the held one's). */
export type ConfirmManifestsFn = (id: string | undefined) => Promise<ConfirmManifestsOutcome>;
/**
 * Types text into a declared session's prompt (paste + Enter, like a task prompt) and audits it.
 * Throws CF_ERR_SEND_TEXT (400: the text cannot be typed), a TerminalError (409: the session is
 * not at its prompt) or a RetryableError (503: the delivery was not confirmed). See
 * src/runtime/session-send.ts.
 */
export type SendToSessionFn = (name: string, req: SendRequest) => Promise<SendOutcome>;

export interface ServerDeps {
  manager: Manager;
  /** The controller's state dir (event log, guard audit). */
  stateDir: string;
  /** Bearer token; `null` disables auth (the control plane allows that only on loopback/unix). */
  token: string | null;
  failover: FailoverFn;
  restartSession: RestartSessionFn;
  /** Confirms a held manifest set (absent: confirmation is refused with 409, e.g. no daemon). */
  confirmManifests?: ConfirmManifestsFn;
  sendToSession: SendToSessionFn;
  /** Created when absent. Pass one to share it with the runtime (onReconcile, dispatch latency). */
  metrics?: Metrics;
  log?: Logger;
  version?: string;
  /**
   * Requests per second the API admits (see src/server/admission.ts); over it, requests wait their
   * turn (429 only when 256 already wait). 0 or absent: no limit. `run` passes --api-rate (default 50).
   * The full options (burst, queue length) may be given instead of a rate.
   */
  apiRate?: number | AdmissionOptions;
  /** Largest accepted request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Event log poll interval in ms (default 250). */
  eventsPollMs?: number;
  /** How long queue counts are cached, in ms (default 1000). */
  queueCacheMs?: number;
  /** SSE keep-alive comment interval in ms (default 15000). */
  heartbeatMs?: number;
  /**
   * Compatibility switch `anonymous-compat-read` (docs/migrating.md): `GET /watchdog/status` and
   * `GET /api/delegated/status` answer loopback clients without a token. Default false.
   */
  anonymousCompatRead?: boolean;
  /** Reads guard decision counters (default: the guard's audit log under the state dir). */
  guardCounters?: () => { rules: Record<string, number> } | undefined;
}
