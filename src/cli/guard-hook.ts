#!/usr/bin/env node
/**
 * Standalone PreToolUse hook entry of the safety guard. Loads only src/guard/** and node builtins
 * (not the CLI), because Claude Code runs it before every tool call.
 *
 *   node dist/cli/guard-hook.js [--session NAME] [--state-dir DIR] [--mode enforce|warn|off]
 *                               [--project DIR] [--protect PATH]... [--config FILE] < PreToolUse-JSON
 *
 * Exit 2 with the reason on stderr denies; exit 0 allows. Any failure denies (exit 2).
 */
import { HOOK_USAGE, runPreToolUseHook } from '../guard/hook.js';

function exit(code: number): void {
  // Let stderr drain (pipes are asynchronous on some platforms) before exiting.
  process.stderr.write('', () => process.exit(code));
}

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(HOOK_USAGE);
  exit(0);
} else {
  process.on('uncaughtException', (err) => {
    process.stderr.write(`claude-failover safety guard: internal error (${err.name}); denying the call\n`);
    exit(2);
  });
  runPreToolUseHook(argv, { stdin: process.stdin, stderr: process.stderr, env: process.env }).then(exit, (err: unknown) => {
    process.stderr.write(`claude-failover safety guard: internal error (${err instanceof Error ? err.name : 'error'}); denying the call\n`);
    exit(2);
  });
}
