/**
 * Sending text to a session (`POST /api/v1/sessions/:name/send`, `claude-failover send`): the text
 * is typed into the agent's prompt with the same paste + Enter delivery as a task prompt
 * (src/adapters/delivery.ts), so it becomes the agent's next turn.
 *
 * This is a prompt-injection route by design: whoever holds the API token can make an agent that
 * runs with `--dangerously-skip-permissions` do things. The safety guard hook stays the barrier
 * (docs/security.md); this module adds what an operator needs to trust the route:
 * - a refusal (HTTP 409) when the session is not at its prompt: not running, starting, suspended,
 *   at a permission prompt, or working (unless the caller asks to queue the text behind the turn);
 * - text checks: no control characters a terminal paste cannot carry (an ESC could end the
 *   bracketed paste and turn the rest into keystrokes), no task marker (`[cf-task:…]` would make the
 *   controller take the turn for a queued task), not blank, no trailing backslash (Enter would
 *   become a line break instead of submitting);
 * - an audit line for every attempt in `<state>/audit/send.jsonl` (0600): who (the token's
 *   fingerprint, the client's user agent and address), when, the text's sha256 and length, and the
 *   outcome — never the text itself — written before anything is pasted; and a `TextSent` event.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { deliverPrompt, type DeliveryOptions } from '../adapters/delivery.js';
import type { Activity } from '../core/activity.js';
import { TASK_MARKER } from '../core/task-marker.js';
import { CfError, errorMessage, RetryableError, TerminalError } from '../core/errors.js';
import type { TmuxPort } from '../core/ports.js';
import { projectStatus, sessionStatus } from '../core/status.js';
import { terminalSafe } from '../controllers/project-prompt.js';
import { ownerOf } from '../controllers/session.js';
import type { Manager } from './manager.js';

/** The audit file, relative to the state dir (next to the guard's audit/guard.jsonl). */
export const SEND_AUDIT_FILE = join('audit', 'send.jsonl');

/** Largest text accepted, in UTF-8 bytes (the API's body limit is 64 KiB). */
export const MAX_SEND_BYTES = 32 * 1024;

/** Who asked, as far as the control plane can tell. */
export interface SendCaller {
  /** `sha256:<first 12 hex>` of the bearer token that authenticated the request, or `none` (auth disabled). */
  token: string;
  /** The client's own description (User-Agent), unverified. */
  client?: string;
  /** The peer address (`unix` for a unix socket). */
  remote?: string;
}

export interface SendRequest {
  text: string;
  /** Deliver even while the session works: Claude Code queues the message and runs it after the current turn. */
  queue: boolean;
  caller: SendCaller;
}

export interface SendOutcome {
  delivered: true;
  session: string;
  /** The session was working: the text waits behind its current turn. */
  queued: boolean;
  sha256: string;
  bytes: number;
  /** Enter presses it took (2 when the first did not submit). */
  enters: number;
  /** The id of this send's lines in the audit file. */
  auditId: string;
  message: string;
}

/** The session is not at its prompt, or the text cannot be typed: the caller can fix it (HTTP 409). */
export class SendRefusedError extends TerminalError {
  constructor(message: string) {
    super('CF_ERR_SEND_REFUSED', 'SendRefused', message);
  }
}

/** The text cannot be typed as it is (HTTP 400). */
export class SendTextError extends CfError {
  constructor(message: string) {
    super('CF_ERR_SEND_TEXT', message);
  }
}

/** The text was (perhaps) pasted but the delivery was not confirmed (HTTP 503). */
export class SendFailedError extends RetryableError {
  constructor(message: string, cause: unknown) {
    super('CF_ERR_SEND_FAILED', 'SendFailed', message, { cause });
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Why `text` cannot be sent as it is, or undefined. Pure. */
export function sendTextProblem(text: string): string | undefined {
  if (text.trim() === '') return 'the text is empty (or only whitespace)';
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_SEND_BYTES) return `the text is ${bytes} bytes; at most ${MAX_SEND_BYTES} can be sent (add a task for longer work)`;
  const controls = terminalSafe(text).replaced;
  if (controls > 0) return `the text holds ${controls} control character(s) (other than tab and line breaks), which cannot travel through a terminal paste: an ESC could end the paste and turn the rest into keystrokes`;
  const marker = TASK_MARKER.exec(text);
  if (marker) return `the text carries a task marker ${marker[0]}, which only the controller writes (it would make the controller count the turn as work on that task); add the work as a task instead`;
  if (text.endsWith('\\')) return 'the text ends with a backslash, which makes Claude Code read the Enter after it as a line break (nothing would be submitted); end it with a space or a line break';
  return undefined;
}

/** What the refusal is decided on. */
export interface SendView {
  suspended: boolean;
  /** The session's tmux session, when one exists. */
  tmux?: { owned: boolean; paneDead: boolean };
  activity?: Activity;
  /** A task the session holds (dispatched to it, or named by its current turn). */
  task?: string;
}

/** Why text cannot be sent to the session now, or undefined. Pure. */
export function sendRefusal(name: string, v: SendView, queue: boolean): string | undefined {
  if (v.suspended) return `session ${name} is suspended (spec.suspended: true): no agent runs`;
  if (!v.tmux) return `session ${name} is not running (it has no tmux session; the controller relaunches a declared session on its next reconcile)`;
  if (!v.tmux.owned) return `tmux session ${name} was not started by this controller (no @cf-owner tag); refusing to type into it`;
  if (v.tmux.paneDead || v.activity === 'exited') return `session ${name} is not running (its agent exited; the controller relaunches it)`;
  if (v.activity === undefined || v.activity === 'starting') return `session ${name} is starting: its prompt is not ready yet; retry when it is idle`;
  if (v.activity === 'waitingInput') return `session ${name} is waiting at a permission prompt, where typed text and Enter could answer it; attach to the session (tmux attach) to answer it, then send`;
  const busy = v.activity === 'working' || v.activity === 'rateLimited' || v.task !== undefined;
  if (busy && !queue) {
    const what = v.activity === 'rateLimited' ? 'rate-limited' : 'working';
    return `session ${name} is ${what}${v.task ? ` on task ${v.task}` : ''}; pass queue: true (CLI: --queue) to deliver the text anyway: Claude Code queues a message typed while it works and runs it after the current turn`;
  }
  return undefined;
}

interface AuditLine {
  id: string;
  time: string;
  session: string;
  outcome: 'refused' | 'accepted' | 'delivered' | 'failed';
  sha256?: string;
  bytes?: number;
  queue?: boolean;
  token?: string;
  client?: string;
  remote?: string;
  reason?: string;
  queued?: boolean;
  enters?: number;
}

/** Appends one line (0600, fsynced before returning: a crash right after still leaves the record). */
export async function appendSendAudit(stateDir: string, line: AuditLine): Promise<void> {
  const path = join(stateDir, SEND_AUDIT_FILE);
  await mkdir(join(stateDir, 'audit'), { recursive: true, mode: 0o700 });
  const fh = await open(path, 'a', 0o600);
  try {
    await fh.write(`${JSON.stringify(line)}\n`);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export interface SendDeps {
  manager: Manager;
  tmux: TmuxPort;
  stateDir: string;
  delivery?: DeliveryOptions;
}

/** The session's state as the controller sees it now (its status, its project's leases, live tmux). */
async function viewOf(deps: SendDeps, name: string): Promise<SendView> {
  const { desired, status } = deps.manager.store.state;
  const spec = desired.sessions.find((s) => s.metadata.name === name);
  const st = sessionStatus(status, name);
  const held = spec ? projectStatus(status, spec.spec.project)?.sessions?.[name] : undefined;
  const t = (await deps.tmux.listSessions()).find((x) => x.name === name);
  const task = held?.state === 'working' && held.task ? held.task : st?.activity === 'working' ? st.currentTask : undefined;
  return {
    suspended: spec?.spec.suspended === true,
    ...(t ? { tmux: { owned: t.owner === ownerOf(name), paneDead: t.paneDead } } : {}),
    ...(st?.activity ? { activity: st.activity } : {}),
    ...(task ? { task } : {}),
  };
}

/**
 * `POST /api/v1/sessions/:name/send` for the daemon. The session must be declared (the route
 * checks). Throws SendTextError (400), SendRefusedError (409) or SendFailedError (503); every
 * attempt is audited.
 */
export function sendToSessionVia(deps: SendDeps) {
  return async (name: string, req: SendRequest): Promise<SendOutcome> => {
    const id = randomUUID();
    const sha256 = sha256Hex(req.text);
    const bytes = Buffer.byteLength(req.text, 'utf8');
    const base = { id, session: name, sha256, bytes, queue: req.queue, token: req.caller.token, ...(req.caller.client ? { client: req.caller.client } : {}), ...(req.caller.remote ? { remote: req.caller.remote } : {}) };
    const now = () => new Date().toISOString();
    const problem = sendTextProblem(req.text);
    if (problem) {
      await appendSendAudit(deps.stateDir, { ...base, time: now(), outcome: 'refused', reason: problem });
      throw new SendTextError(problem);
    }
    const v = await viewOf(deps, name);
    const refusal = sendRefusal(name, v, req.queue);
    if (refusal) {
      await appendSendAudit(deps.stateDir, { ...base, time: now(), outcome: 'refused', reason: refusal });
      throw new SendRefusedError(refusal);
    }
    const queued = v.activity !== 'idle' || v.task !== undefined;
    await appendSendAudit(deps.stateDir, { ...base, time: now(), outcome: 'accepted', queued });
    let enters: number;
    try {
      enters = (await deliverPrompt(deps.tmux, name, req.text, deps.delivery)).enters;
    } catch (err) {
      const reason = errorMessage(err);
      await appendSendAudit(deps.stateDir, { id, time: now(), session: name, outcome: 'failed', reason });
      await deps.manager.event({ key: `Session/${name}`, type: 'Warning', reason: 'SendFailed', message: `text sent through the API was not confirmed: ${reason}`, data: { sha256, bytes, auditId: id, token: req.caller.token } });
      throw new SendFailedError(`session ${name} did not take the text: ${reason}`, err);
    }
    await appendSendAudit(deps.stateDir, { id, time: now(), session: name, outcome: 'delivered', queued, enters });
    await deps.manager.event({
      key: `Session/${name}`,
      type: 'Normal',
      reason: 'TextSent',
      message: `text sent through the API (${bytes} bytes, sha256 ${sha256.slice(0, 12)}…)${queued ? ', queued behind the current turn' : ''}`,
      data: { sha256, bytes, queued, auditId: id, token: req.caller.token, ...(req.caller.client ? { client: req.caller.client } : {}), ...(req.caller.remote ? { remote: req.caller.remote } : {}) },
    });
    deps.manager.enqueue(`Session/${name}`, 'text-sent');
    return { delivered: true, session: name, queued, sha256, bytes, enters, auditId: id, message: queued ? `text delivered to ${name}; Claude Code runs it after the current turn` : `text delivered to ${name}` };
  };
}
