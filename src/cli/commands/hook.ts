/**
 * `claude-failover hook event|statusline|pre-tool-use`: the commands Claude Code runs.
 * event/statusline are observers: fast, never blocking, and exit 0 on any internal error.
 * pre-tool-use is the safety guard, which fails closed (see docs/security.md).
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { eventRecord, recordFromLine } from '../../core/activity.js';
import { appendSessionEvent, sessionDir } from '../../adapters/session-events.js';
import { readAll, type CliIO } from '../io.js';

const HELP = `Usage: claude-failover hook event --session NAME --state-dir DIR
       claude-failover hook statusline --session NAME --state-dir DIR [--account NAME]
       claude-failover hook pre-tool-use [guard options]

Entry points that Claude Code runs; the controller registers them in each session's
--settings file. They read Claude Code's JSON on stdin:
  event        appends one line to DIR/sessions/NAME/events.jsonl (activity for the controller)
  statusline   records the status line's rate_limits and prints a short status line
  pre-tool-use the safety guard (exit 2 blocks the tool call)

event and statusline never block the agent: any internal error is ignored (exit 0).
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function readJson(io: CliIO): Promise<Record<string, unknown>> {
  const text = await readAll(io.stdin);
  const v: unknown = text.trim() ? JSON.parse(text) : {};
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function pct(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? `${Math.round(v)}%` : '–';
}

export async function hookCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    io.stdout.write(HELP);
    return sub === undefined ? 1 : 0;
  }
  if (sub === 'pre-tool-use') {
    // The safety guard: fails closed (see docs/security.md). The deployed launcher calls
    // dist/guard/guard-hook.cjs (a bundled, code-cached build) directly for speed; this is the same code for manual use.
    const { hookPreToolUseCommand } = await import('./guard.js');
    return hookPreToolUseCommand(rest, io);
  }
  const session = flag(rest, '--session');
  const stateDir = flag(rest, '--state-dir');
  if (sub === 'event') {
    try {
      const input = await readJson(io);
      if (session && stateDir) {
        const record = eventRecord(input, Date.now());
        appendSessionEvent(stateDir, session, record);
        if (record.taskId) writeTask(stateDir, session, record.taskId);
      }
    } catch (err) {
      io.stderr.write(`claude-failover hook event: ${(err as Error).message}\n`);
    }
    return 0;
  }
  if (sub === 'statusline') {
    let line = `${session ?? 'claude'}`;
    try {
      const input = await readJson(io);
      const rl = input.rate_limits as Record<string, { used_percentage?: number }> | undefined;
      const account = flag(rest, '--account');
      // The same record the events reader makes of the shell observer's status line lines.
      const record = recordFromLine({ t: Date.now(), via: 'statusline', ...(account ? { account } : {}), raw: input });
      if (session && stateDir && record) appendSessionEvent(stateDir, session, record);
      const task = session && stateDir ? readTask(stateDir, session) : undefined;
      line = [session ?? 'claude', account, `5h ${pct(rl?.five_hour?.used_percentage)}`, `7d ${pct(rl?.seven_day?.used_percentage)}`, task ? `task ${task}` : undefined].filter(Boolean).join(' · ');
    } catch (err) {
      io.stderr.write(`claude-failover hook statusline: ${(err as Error).message}\n`);
    }
    io.stdout.write(`${line}\n`);
    return 0;
  }
  io.stderr.write(`claude-failover hook: unknown hook "${sub}" (event, statusline, pre-tool-use)\n`);
  return 0;
}

function writeTask(stateDir: string, session: string, taskId: string): void {
  const file = join(sessionDir(stateDir, session), 'task');
  writeFileSync(`${file}.tmp`, taskId);
  renameSync(`${file}.tmp`, file);
}

function readTask(stateDir: string, session: string): string | undefined {
  try {
    return readFileSync(join(sessionDir(stateDir, session), 'task'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
