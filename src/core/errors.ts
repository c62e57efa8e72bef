/**
 * The error classes. Every error the product raises on purpose carries a stable `code`, in the
 * manner of fastify's FST_ERR_* and undici's error classes: a CF_ERR_* code from the catalogue in
 * src/core/error-codes.ts (the constructor accepts no other), or a control-plane CF_API_* code
 * (src/server/errors.ts).
 *
 * Reconcilers classify failures by class:
 * - TerminalError: the spec is wrong; retrying cannot help. Ready=False, no requeue.
 * - RetryableError: the world is not ready yet; requeue (after `retryAfterMs` when given).
 * - anything else: requeue with per-key exponential backoff.
 */
import type { CfErrorCode } from './error-codes.js';

export type { CfErrorCode } from './error-codes.js';

/** A control-plane code (the CF_API_* table in src/server/errors.ts, docs/api.md "Errors"). */
export type ApiCode = `CF_API_${string}`;

export class CfError extends Error {
  /** A CfErrorCode or ApiCode when raised here; the client's ApiRequestError passes on the server's code as it came. */
  readonly code: string;
  constructor(code: CfErrorCode | ApiCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class TerminalError extends CfError {
  /** CamelCase reason for the Ready condition. */
  readonly reason: string;
  constructor(code: CfErrorCode, reason: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.reason = reason;
  }
}

export class RetryableError extends CfError {
  readonly reason: string;
  readonly retryAfterMs: number | undefined;
  constructor(code: CfErrorCode, reason: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(code, message, options);
    this.reason = reason;
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Manifests failed validation; `diagnostics` holds every problem found. */
export class ManifestError extends CfError {
  readonly diagnostics: readonly { file: string; line: number; col: number; message: string }[];
  constructor(diagnostics: readonly { file: string; line: number; col: number; message: string }[]) {
    super('CF_ERR_MANIFEST_INVALID', `${diagnostics.length} problem(s) in the manifests`);
    this.diagnostics = diagnostics;
  }
}

/** Another controller holds the state directory. */
export class LockedError extends CfError {
  readonly pid: number;
  constructor(path: string, pid: number) {
    super('CF_ERR_STATE_LOCKED', `another claude-failover (pid ${pid}) is running on state dir ${path}`);
    this.pid = pid;
  }
}

/** A usage error on the command line. */
export class UsageError extends CfError {
  constructor(message: string) {
    super('CF_ERR_USAGE', message);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}
