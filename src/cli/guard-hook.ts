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
 */

function exit(code: number): void {
  // Let stderr drain (pipes are asynchronous on some platforms) before exiting.
  process.stderr.write('', () => process.exit(code));
}

function fail(err: unknown): void {
  const what = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0] ?? ''}` : String(err);
  process.stderr.write(`claude-failover safety guard: internal error (${what.slice(0, 300)}); denying the call\n`);
  exit(2);
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
  exit(await runPreToolUseHook(argv, { stdin: process.stdin, stderr: process.stderr, env: process.env }));
}

main().catch(fail);
