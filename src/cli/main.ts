#!/usr/bin/env node
/**
 * claude-failover: the command-line entry point. The only module (with the standalone hook
 * entries) that calls process.exit. Commands are imported lazily so that quick commands (the
 * hooks run before every tool call) do not load the whole controller.
 */
import { errorCode, errorMessage, UsageError } from '../core/errors.js';
import { exitAfterFlush, processIO, type CliIO } from './io.js';
import { VERSION } from './version.js';

type Command = (args: string[], io: CliIO) => Promise<number>;

interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

const COMMANDS: Record<string, CommandEntry> = {
  validate: { summary: 'Check manifests (schema and cross-references)', load: async () => (await import('./commands/validate.js')).validateCommand },
  reconcile: { summary: 'Plan and converge once (--once), or print the plan (--dry-run)', load: async () => (await import('./commands/reconcile.js')).reconcileCommand },
  run: { summary: 'Run the controller (daemon)', load: async () => (await import('./commands/run.js')).runCommand },
  get: { summary: 'List objects: sessions, accounts, projects', load: async () => (await import('./commands/get.js')).getCommand },
  describe: { summary: 'Show one object: spec, conditions, recent events', load: async () => (await import('./commands/get.js')).describeCommand },
  events: { summary: 'Show the event and decision log', load: async () => (await import('./commands/get.js')).eventsCommand },
  schema: { summary: 'Write JSON Schemas of the manifest kinds (for editors)', load: async () => (await import('./commands/schema.js')).schemaCommand },
  hook: { summary: 'Hook entry points run by Claude Code (event, statusline, pre-tool-use)', load: async () => (await import('./commands/hook.js')).hookCommand },
  guard: { summary: 'Test the safety guard on a command: guard test "<command>"', load: async () => (await import('./commands/guard.js')).guardCommand },
  manifests: { summary: 'Show the manifest set in force; confirm a held change (manifests confirm)', load: async () => (await import('./commands/manifests.js')).manifestsCommand },
  failover: { summary: 'Move the pool to another account now (asks the running controller)', load: async () => (await import('./commands/failover.js')).failoverCommand },
  send: { summary: 'Type text into a session\'s prompt (asks the running controller; audited)', load: async () => (await import('./commands/send.js')).sendCommand },
  mcp: { summary: 'MCP server on stdio for a conductor agent (claude mcp add … -- claude-failover mcp)', load: async () => (await import('./commands/mcp.js')).mcpCommand },
  task: { summary: 'Enqueue a task: task add --queue DIR --file F', load: async () => (await import('./commands/task.js')).taskCommand },
  delegate: { summary: 'Job API for scripts: delegate submit|get|result|decide (alias ccl-delegate)', load: async () => (await import('./commands/delegate.js')).delegateCommand },
  account: { summary: 'Accounts: account add|login|check|link (onboarding, credentials, shared-state links)', load: async () => (await import('./commands/account.js')).accountCommand },
  migrate: { summary: 'Carry the Go system\'s work in flight over: migrate --from-go [--apply]', load: async () => (await import('./commands/migrate.js')).migrateCommand },
  demo: { summary: 'Run the bundled demo pool with a live failover (no account needed)', load: async () => (await import('./commands/demo.js')).demoCommand },
  version: { summary: 'Print the version', load: async () => async (_a, io) => { io.stdout.write(`claude-failover ${VERSION}\n`); return 0; } },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    `claude-failover ${VERSION} — keeps a fleet of Claude Code agents working across several accounts`,
    '',
    'Usage: claude-failover <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `claude-failover <command> --help` for the options and examples of a command.',
    'Docs: README.md and docs/ (manifests.md, operations.md, security.md).',
    '',
  ].join('\n');
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`claude-failover ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    const { closest } = await import('../api/suggest.js');
    const hint = closest(name, Object.keys(COMMANDS));
    io.stderr.write(`claude-failover: unknown command "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}\nRun \`claude-failover --help\` for the list.\n`);
    return 1;
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`claude-failover ${name}: ${err.message}\nRun \`claude-failover ${name} --help\` for usage.\n`);
      return 1;
    }
    const code = errorCode(err);
    io.stderr.write(`claude-failover ${name}: ${code ? `${code}: ` : ''}${errorMessage(err)}\n`);
    if (io.env.CLAUDE_FAILOVER_DEBUG) io.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 1;
  }
}

// Only when run as a program (not when imported by tests).
const invoked = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:main\.(?:js|ts)|claude-failover)$/.test(invoked)) {
  main(process.argv.slice(2), processIO()).then(
    (code) => exitAfterFlush(code),
    (err: unknown) => {
      process.stderr.write(`claude-failover: ${errorMessage(err)}\n`);
      exitAfterFlush(1);
    },
  );
}
