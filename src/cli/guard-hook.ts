#!/usr/bin/env node
/**
 * Standalone PreToolUse hook entry of the safety guard. Loads only src/guard/** and node builtins
 * (not the CLI), because Claude Code runs it before every tool call.
 *
 *   node dist/cli/guard-hook.js [--session NAME] [--state-dir DIR] [--mode enforce|warn|off]
 *                               [--project DIR] [--protect PATH]... [--config FILE] < PreToolUse-JSON
 *
 * Exit 2 with the reason on stderr denies; exit 0 allows. Any failure denies (exit 2) — including a
 * guard module that fails to load (a half-written build), which is why it is imported dynamically
 * inside the error handling rather than statically.
 *
 * The deployed launcher runs the same code from a single-file bundle with a V8 code cache
 * (dist/guard/guard-hook.cjs, built by scripts/bundle-guard.mjs); this module is its source and the
 * fallback when the bundle is missing.
 */
import { EventEmitter } from 'node:events';
import { read, writeSync } from 'node:fs';

let stderrStream = false;

/**
 * stderr, written with a synchronous write(2) on fd 2: process.stderr on a pipe is a stream whose
 * set-up costs milliseconds (and an allowed call writes nothing at all). Falls back to the stream if
 * the direct write fails (e.g. EAGAIN on a full non-blocking pipe).
 */
const stderr = {
  write(chunk: string): boolean {
    if (!stderrStream) {
      try {
        const buf = Buffer.from(chunk);
        let off = 0;
        while (off < buf.length) off += writeSync(2, buf, off);
        return true;
      } catch {
        stderrStream = true;
      }
    }
    return process.stderr.write(chunk);
  },
};

function exit(code: number): void {
  // Let the stderr stream drain (pipes are asynchronous on some platforms) before exiting.
  if (stderrStream) process.stderr.write('', () => process.exit(code));
  else process.exit(code);
}

function fail(err: unknown): void {
  const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0] ?? ''}` : String(err);
  stderr.write(`claude-failover safety guard: internal error (${what.slice(0, 300)}); denying the call\n`);
  exit(2);
}

/**
 * Standard input as the few stream events the hook reads ('data', 'end', 'error', pause), read from
 * fd 0 with fs.read. `process.stdin` would build a net.Socket or fs.ReadStream, loading ~30 internal
 * modules (~4 ms, a tenth of Node's whole start-up); the reads go through libuv's thread pool, so the
 * hook's input time limit still fires while a read waits.
 */
function fdInput(fd = 0): NodeJS.ReadableStream {
  const input = new EventEmitter() as EventEmitter & { pause(): void };
  let stopped = false;
  const buf = Buffer.allocUnsafe(64 * 1024);
  const next = (): void => {
    read(fd, buf, 0, buf.length, null, (err, n) => {
      if (stopped) return;
      if (err !== null) {
        // A non-blocking pipe with nothing in it yet: try again shortly (the input time limit still applies).
        if (err.code === 'EAGAIN') setTimeout(next, 1);
        else input.emit('error', err);
        return;
      }
      if (n === 0) {
        input.emit('end');
        return;
      }
      input.emit('data', Buffer.from(buf.subarray(0, n)));
      next();
    });
  };
  input.pause = (): void => {
    stopped = true;
  };
  next();
  // Only the members listed above are used by readStdin (src/guard/hook.ts).
  return input as unknown as NodeJS.ReadableStream;
}

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

async function main(): Promise<void> {
  const { HOOK_USAGE, runPreToolUseHook } = await import('../guard/hook.js');
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HOOK_USAGE);
    exit(0);
    return;
  }
  exit(await runPreToolUseHook(argv, { stdin: fdInput(0), stderr, env: process.env }));
}

main().catch(fail);
