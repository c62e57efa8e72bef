/**
 * Delivering a prompt into a Claude Code pane (docs/queue-protocol.md, "Delivery and line endings"): paste the text with
 * load-buffer + paste-buffer (bracketed), wait until the pane shows the paste and stops changing, send Enter as a
 * separate key, and check that the pane changed (the prompt was submitted); if it did not, send
 * Enter once more.
 *
 * Why wait for the paste to show: Claude Code treats an Enter that it reads together with a
 * paste as part of the paste (a line break), not as submit. A CLI that is busy (starting up, or
 * several agents starting on a loaded machine) reads its input late, so paste and Enter pile up
 * and arrive in one read however long the fixed delay was: the prompt then sits in the input box
 * and the pane still "changes" (the paste appears), which looked like a submitted prompt. The real
 * CLI 2.1.332 did this to one of three agents started at once (test/conformance/).
 *
 * Bytes: the text is pasted as it is. The tmux adapter pastes with `paste-buffer -p -r` (no
 * LF → CR replacement), so the pane receives exactly the prompt's UTF-8 bytes, line endings
 * included (LF, CRLF or a lone CR); Claude Code reads each of them as one line break inside a
 * bracketed paste (docs/queue-protocol.md, "Delivery and line endings").
 */
import { RetryableError } from '../core/errors.js';
import type { TmuxPort } from '../core/ports.js';

export interface DeliveryOptions {
  /** Delay between the paste and Enter (Claude Code drops an Enter that follows a paste too closely). Default 150 ms. */
  enterDelayMs?: number;
  /** How long to wait for the pane to change after an Enter. Default 1500 ms. */
  verifyMs?: number;
  /** How long to wait for the pane to show the paste before sending Enter anyway. Default 10 s. */
  pasteShownMs?: number;
  /** Poll interval while verifying. Default 40 ms. */
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Called at each step (crash points, timing). */
  onStep?: (step: 'pasted' | 'entered') => void;
}

export interface DeliveryResult {
  /** Epoch ms when the paste was issued. */
  pasteStartedAt: number;
  /** Enter presses sent (1, or 2 when the first did not change the pane). */
  enters: number;
}

/**
 * The bytes the pane receives between the bracketed-paste markers for `text`: exactly its UTF-8
 * (the adapter pastes with `-r`). Tests compare the simulator's hash of what it received with this.
 */
export function terminalBytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class DeliveryError extends RetryableError {
  constructor(session: string, message: string) {
    super('CF_ERR_DELIVERY', 'DeliveryUnconfirmed', `delivery to ${session}: ${message}`);
  }
}

/** What Claude Code shows in its input box instead of a paste of more than 800 characters. */
const PASTED_PLACEHOLDER = '[Pasted text';

/**
 * The first words of a text, as the pane shows them once the agent has read the paste: up to 40
 * printable ASCII characters (at least 4) starting its first non-empty line; undefined when the
 * text does not start that way (the pane changing is then the only sign). Long enough to hold a
 * task's id (`[cf-task:ID] Task ID …`): with a shorter, shared prefix, the paste of a full screen's
 * next task was not seen (the earlier prompts scrolling off the top took as many occurrences with
 * them as the paste added), and every delivery waited `pasteShownMs`.
 */
export function pasteMarker(text: string): string | undefined {
  const first = text.split(/\r\n|\r|\n/).find((l) => l.trim() !== '')?.trim() ?? '';
  const m = /^[\x21-\x7e][\x20-\x7e]{3,}/.exec(first);
  return m ? m[0].slice(0, 40).trimEnd() : undefined;
}

function occurrences(text: string, part: string): number {
  let n = 0;
  for (let i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length)) n += 1;
  return n;
}

/** Deliveries under way, per tmux server (port) and session: the tail of each session's chain. */
const inFlight = new WeakMap<TmuxPort, Map<string, Promise<unknown>>>();

/**
 * Runs `fn` after every earlier delivery to the same session of the same tmux port has ended, so
 * two texts (a task prompt and a text sent through the API) never interleave paste, paste, Enter.
 */
function serialized<T>(tmux: TmuxPort, session: string, fn: () => Promise<T>): Promise<T> {
  let chains = inFlight.get(tmux);
  if (!chains) {
    chains = new Map();
    inFlight.set(tmux, chains);
  }
  const prev = chains.get(session) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  chains.set(session, tail);
  void tail.then(() => {
    if (chains.get(session) === tail) chains.delete(session);
  });
  return run;
}

/**
 * Pastes `text` into the session's pane and submits it. Throws RetryableError
 * (`CF_ERR_TMUX_PANE_DEAD` when the pane is dead: nothing is pasted; `CF_ERR_DELIVERY` when two
 * Enters did not change the pane). Deliveries to one session run one at a time, in call order.
 */
export function deliverPrompt(tmux: TmuxPort, session: string, text: string, opts: DeliveryOptions = {}): Promise<DeliveryResult> {
  return serialized(tmux, session, () => deliverNow(tmux, session, text, opts));
}

async function deliverNow(tmux: TmuxPort, session: string, text: string, opts: DeliveryOptions): Promise<DeliveryResult> {
  const sleep = opts.sleep ?? defaultSleep;
  const now = opts.now ?? Date.now;
  const verifyMs = opts.verifyMs ?? 1500;
  const pollMs = opts.pollMs ?? 40;
  const pasteShownMs = opts.pasteShownMs ?? 10_000;
  const beforePaste = await tmux.capturePane(session);
  const marker = pasteMarker(text);
  const pasteStartedAt = now();
  await tmux.pasteText(session, text);
  opts.onStep?.('pasted');
  await sleep(opts.enterDelayMs ?? 150);
  // Enter only once the agent has read the whole paste (see the module comment): the pane shows
  // it — one more occurrence of its first words, or of Claude Code's `[Pasted text` placeholder,
  // than before the paste (a busy agent's spinner changes the pane too) — and has stopped changing
  // (a long paste is drawn as it is read). When it never shows, Enter goes anyway.
  const shown = (pane: string): boolean =>
    marker === undefined
      ? pane !== beforePaste
      : occurrences(pane, marker) > occurrences(beforePaste, marker) || occurrences(pane, PASTED_PLACEHOLDER) > occurrences(beforePaste, PASTED_PLACEHOLDER);
  let before = await tmux.capturePane(session);
  for (let stable = 0, shownBy = now() + pasteShownMs; now() < shownBy; ) {
    await sleep(pollMs);
    const cur = await tmux.capturePane(session);
    stable = cur === before ? stable + 1 : 0;
    before = cur;
    if (stable >= 2 && shown(before)) break;
  }
  let enters = 0;
  for (;;) {
    await tmux.sendKeys(session, ['Enter']);
    enters += 1;
    const deadline = now() + verifyMs;
    let changed = false;
    for (;;) {
      await sleep(pollMs);
      const after = await tmux.capturePane(session);
      if (after !== before) {
        changed = true;
        break;
      }
      if (now() >= deadline) break;
    }
    if (changed) break;
    if (enters >= 2) throw new DeliveryError(session, 'the pane did not change after the paste and two Enters (is the session alive and at its prompt?)');
    before = await tmux.capturePane(session);
  }
  opts.onStep?.('entered');
  return { pasteStartedAt, enters };
}
