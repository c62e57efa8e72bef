import { spawn } from 'node:child_process';
import type { HookCommand } from './settings.js';

export interface HookRunResult {
  command: string;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Spawn failure (the shell itself could not start). */
  spawnError?: string;
  durationMs: number;
}

const MAX_OUTPUT = 1024 * 1024;

export interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Runs `sh -c <command>` in its own process group, feeds `stdin`, and kills the whole group on
 * timeout or abort. Resolves when the process exits (not when a backgrounded grandchild closes the pipes).
 */
export function runShell(command: string, opts: RunCommandOptions): Promise<HookRunResult> {
  const started = performance.now();
  return new Promise((resolveRun) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const child = spawn('sh', ['-c', command], { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    const onAbort = (): void => killGroup();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (exitCode: number | null, signal: string | null, spawnError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const base = { command, exitCode, signal, stdout, stderr, timedOut, durationMs: performance.now() - started };
      resolveRun(spawnError === undefined ? base : { ...base, spawnError });
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d;
    });
    child.stderr.on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d;
    });
    child.stdin.on('error', () => undefined); // EPIPE when the hook does not read stdin
    child.on('error', (e) => finish(null, null, e.message));
    child.on('exit', (code, sig) => {
      // Give the pipes a moment to drain, but never wait on a backgrounded grandchild.
      const drained = new Promise<void>((r) => {
        let open = 2;
        const done = (): void => {
          open--;
          if (open === 0) r();
        };
        child.stdout.once('close', done);
        child.stderr.once('close', done);
      });
      const grace = new Promise<void>((r) => setTimeout(r, 50));
      void Promise.race([drained, grace]).then(() => finish(code, sig));
    });
    child.stdin.end(opts.stdin);
  });
}

export type HookOutcome =
  | { kind: 'success'; result: HookRunResult; json?: Record<string, unknown> }
  | { kind: 'blocking'; result: HookRunResult; reason: string }
  | { kind: 'error'; result: HookRunResult; message: string };

/** Claude Code's exit-code protocol: 0 success (stdout may carry JSON), 2 blocking error (stderr is the reason), anything else a non-blocking error. */
export function classifyHook(result: HookRunResult): HookOutcome {
  if (result.spawnError !== undefined) return { kind: 'error', result, message: `failed to run: ${result.spawnError}` };
  if (result.timedOut) return { kind: 'error', result, message: `timed out after ${Math.round(result.durationMs)}ms` };
  if (result.exitCode === 2) return { kind: 'blocking', result, reason: result.stderr.trim() === '' ? 'No stderr output' : result.stderr.trim() };
  if (result.exitCode === 0) {
    const trimmed = result.stdout.trim();
    if (trimmed.startsWith('{')) {
      try {
        const json: unknown = JSON.parse(trimmed);
        if (typeof json === 'object' && json !== null) return { kind: 'success', result, json: json as Record<string, unknown> };
      } catch {
        // plain text output
      }
    }
    return { kind: 'success', result };
  }
  const why = result.exitCode === null ? `killed by ${result.signal ?? 'signal'}` : `exited with status ${result.exitCode}`;
  const detail = result.stderr.trim() === '' ? 'No stderr output' : result.stderr.trim();
  return { kind: 'error', result, message: `${why}: ${detail}` };
}

/** Default timeouts in seconds (Claude Code: 600 for command hooks, 30 for UserPromptSubmit, 1.5 for SessionEnd). */
export function defaultHookTimeoutSec(event: string): number {
  if (event === 'UserPromptSubmit') return 30;
  if (event === 'SessionEnd') return 1.5;
  return 600;
}

export interface HookRunContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** Runs all matching hooks of one event in parallel and returns their classified outcomes. */
export async function runHookCommands(event: string, hooks: readonly HookCommand[], input: Record<string, unknown>, ctx: HookRunContext): Promise<HookOutcome[]> {
  const stdin = JSON.stringify(input);
  const results = await Promise.all(
    hooks.map((h) => {
      const seconds = h.timeout ?? defaultHookTimeoutSec(event);
      const opts: RunCommandOptions = { cwd: ctx.cwd, env: ctx.env, stdin, timeoutMs: Math.max(1, Math.round(seconds * 1000)) };
      if (ctx.signal !== undefined) opts.signal = ctx.signal;
      return runShell(h.command, opts);
    }),
  );
  return results.map(classifyHook);
}

/** PreToolUse decision from outcomes: exit 2, or exit 0 with `permissionDecision: "deny"` (or legacy `decision: "block"`), blocks. */
export function preToolDecision(outcomes: readonly HookOutcome[]): { blocked: boolean; reason: string; blockingCommand?: string; errors: string[] } {
  const errors: string[] = [];
  for (const o of outcomes) {
    if (o.kind === 'blocking') return { blocked: true, reason: o.reason, blockingCommand: o.result.command, errors };
    if (o.kind === 'success' && o.json !== undefined) {
      const hso = o.json['hookSpecificOutput'];
      if (typeof hso === 'object' && hso !== null) {
        const h = hso as Record<string, unknown>;
        if (h['permissionDecision'] === 'deny') {
          const reason = typeof h['permissionDecisionReason'] === 'string' ? h['permissionDecisionReason'] : 'Denied by hook';
          return { blocked: true, reason, blockingCommand: o.result.command, errors };
        }
      }
      const decision = o.json['decision'];
      if (decision === 'block' || decision === 'deny') {
        const reason = typeof o.json['reason'] === 'string' ? o.json['reason'] : 'Blocked by hook';
        return { blocked: true, reason, blockingCommand: o.result.command, errors };
      }
    }
  }
  for (const o of outcomes) if (o.kind === 'error') errors.push(`[${o.result.command}]: ${o.message}`);
  return { blocked: false, reason: '', errors };
}
