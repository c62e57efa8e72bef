/**
 * Exact delivery (issue 5 acceptance): task bodies up to 100 KB of arbitrary UTF-8 (emoji,
 * quotes, `;`, a leading `-`, `$(`, CRLF) pasted into a real pane running the simulator, through
 * the same `taskPrompt` + `deliverPrompt` the controller uses. The simulator records the sha256
 * of the bytes it received and of the text Claude Code makes of them (its view).
 *
 * What is compared (docs/queue-protocol.md, "Delivery and line endings"): the raw bytes the
 * simulator received equal the prompt's UTF-8 bytes exactly (the tmux adapter pastes with `-r`:
 * CRLF, LF and lone CR arrive as they are), and the text Claude Code sees equals what the real CLI
 * makes of the prompt (line breaks normalized, tabs expanded, invisible characters dropped, NFC:
 * src/sim/prompt-text.ts, checked against the real CLI by test/conformance/paste.test.ts). The
 * prompt contains the body verbatim (control characters
 * other than TAB/CR/LF cannot cross a terminal paste and are replaced by visible symbols; see
 * terminalSafe).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverPrompt, terminalBytes } from '../../src/adapters/delivery.js';
import { TmuxAdapter } from '../../src/adapters/tmux.js';
import { taskPrompt, terminalSafe } from '../../src/controllers/project-prompt.js';
import { promptText } from '../../src/sim/prompt-text.js';
import { SIM_BIN } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { tempDir } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** The text Claude Code makes of a pasted prompt (without wrappers), as the simulator computes it. */
const claudeText = (s: string) => promptText([{ text: s, pasted: true }], '').plain;

interface SimRecord {
  type: string;
  sha256?: string;
  textSha256?: string;
  bytes?: number;
  outcome?: string;
}

const tmuxServer = new PrivateTmuxServer();
const root = tempDir('deliver');
const log = join(root, 'sim.jsonl');
const tmux = new TmuxAdapter({ socketName: tmuxServer.socket, configFile: '/dev/null' });

function records(): SimRecord[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SimRecord);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  mkdirSync(join(root, 'config'), { recursive: true });
  mkdirSync(join(root, 'work'), { recursive: true });
  await tmux.newSession({
    name: 'agent', cwd: join(root, 'work'), argv: [SIM_BIN, '--dangerously-skip-permissions'],
    env: { CLAUDE_SIM_LOG: log, CLAUDE_SIM_WORK_MS: '0', CLAUDE_CONFIG_DIR: join(root, 'config'), CLAUDE_SIM_READ_TASK_FILES: '0', CLAUDE_SIM_IDLE_NOTIFY_MS: '0' },
    unsetEnv: ['TMUX', 'TMUX_PANE', 'CLAUDECODE'], owner: 'test', options: {},
  });
  await until(() => records().some((r) => r.type === 'invocation'), 15_000, 'simulator started');
  await until(async () => (await tmux.capturePane('agent')).includes('Welcome'), 15_000, 'simulator drawn');
});

afterAll(() => {
  tmuxServer.kill();
  try {
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch {
    // The killed agent's hooks may still be writing; a temp dir left behind is not a test failure.
  }
});

// Pieces that break naive delivery, mixed with arbitrary Unicode (no lone surrogates: not UTF-8).
const tricky = fc.constantFrom('😀', '👩🏽‍💻', '"', "'", '`', ';', ' -rf', '$(', '$(echo pwned)', '\r\n', '\n', '\r', '\t', '\\', 'ß', '日本語', '\u200b', '%s', '#', '~', '\u0001');
const piece = fc.oneof({ arbitrary: tricky, weight: 3 }, { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 });
const smallBody = fc.array(piece, { minLength: 1, maxLength: 60 }).map((a) => a.join(''));
/** Up to ~100 KB: a random chunk repeated, with tricky pieces around it. */
const bigBody = fc.tuple(smallBody, fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 100_000 }), smallBody).map(([a, chunk, target, b]) => {
  let mid = chunk.repeat(Math.max(1, Math.floor(target / Math.max(1, Buffer.byteLength(chunk)))));
  while (Buffer.byteLength(mid) > 100_000) mid = mid.slice(0, Math.floor(mid.length * 0.9));
  return `${a}${mid}${b}`;
});
const body = fc
  .oneof(smallBody, bigBody)
  .map((s) => (s.trim() === '' ? `${s}x` : s))
  .filter((s) => Buffer.byteLength(s) <= 100_000 && !/^[ \t]*#sim[ \t]/m.test(s) && new TextDecoder('utf-8', { fatal: true }).decode(new TextEncoder().encode(s)) === s);

let n = 0;

describe('exact delivery into a pane', () => {
  it('the simulator receives exactly the prompt (raw bytes and Claude Code text), body included verbatim', async () => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        n += 1;
        const id = `prop-${n}`;
        const prompt = taskPrompt({ id, body: b }, `/q/dispatched/${id}.md`);
        expect(prompt).toContain(`--- task ---\n${terminalSafe(b).text}\n[end of task ${id}]`);
        const before = records().filter((r) => r.type === 'received').length;
        const turnsBefore = records().filter((r) => r.type === 'turn-end').length;
        await deliverPrompt(tmux, 'agent', prompt);
        await until(() => records().filter((r) => r.type === 'received').length > before, 20_000, `prompt ${id} received`);
        const got = records().filter((r) => r.type === 'received')[before] as SimRecord;
        const want = terminalBytes(prompt);
        expect({ bytes: got.bytes, sha256: got.sha256 }).toEqual({ bytes: want.length, sha256: sha(want) });
        expect(got.textSha256).toBe(sha(claudeText(prompt)));
        await until(() => records().filter((r) => r.type === 'turn-end').length > turnsBefore, 20_000, `turn ${id} ended`);
      }),
      {
        numRuns: 24,
        examples: [
          ['- leading dash; $(whoami) "double" \'single\' `tick`\r\nCRLF line\r\n😀 emoji\n\ttab\n'],
          [`${'数据 😀 $(x); "q"\r\n'.repeat(4000)}end`],
          ['ends with a backslash \\'],
        ],
      },
    );
    expect(records().filter((r) => r.type === 'enter-swallowed' && (r as { reason?: string }).reason !== 'same-read')).toEqual([]);
  }, 240_000);
});
