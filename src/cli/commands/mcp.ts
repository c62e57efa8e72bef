/**
 * `claude-failover mcp`: an MCP server on stdin/stdout for a conductor agent (src/mcp/server.ts).
 * It runs until its client closes stdin (or SIGTERM/SIGINT). stdout carries only MCP messages;
 * the command writes nothing else there.
 */
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CfError } from '../../core/errors.js';
import { buildMcpServer } from '../../mcp/server.js';
import { connectController, CONTROLLER_HELP, CONTROLLER_OPTIONS } from '../../server/client.js';
import { parse, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';
import { VERSION } from '../version.js';

const HELP = `Usage: claude-failover mcp [--state-dir DIR] [--server URL] [--token-file PATH]

Runs an MCP server on standard input/output (the stdio transport) for an agent that operates the
fleet: list and describe accounts, sessions, projects and tasks; read recent events and the
current plan; add a task; send text to a session; restart a session; force a failover.
Each tool call asks the running controller (claude-failover run) through its control plane,
found like \`get\` finds it; when none runs, the tool answers with an error saying so.

Register it with Claude Code (see docs/conductor.md):
  claude mcp add claude-failover -- claude-failover mcp --state-dir /var/lib/claude-failover

Options:
      --state-dir DIR      State directory of the controller (to find it)
${CONTROLLER_HELP}

Tools: list_accounts, describe_account, list_sessions, describe_session, list_projects,
  describe_project, list_tasks, describe_task, recent_events, get_plan (read-only);
  add_task, send_to_session, restart_session, failover (acting).
`;

interface Values {
  help?: boolean;
  'state-dir'?: string;
  server?: string;
  'token-file'?: string;
}

export async function mcpCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<Values>(args, { 'state-dir': { type: 'string' }, ...CONTROLLER_OPTIONS });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const stateDir = stateDirOf(values['state-dir'], io);
  const connector = {
    connect: async () => {
      const client = await connectController({ server: values.server, tokenFile: values['token-file'], env: io.env, stateDir, userAgent: `claude-failover-mcp/${VERSION}` });
      if (!client) throw new CfError('CF_ERR_NO_CONTROLLER', `no running controller found (state dir ${stateDir}): start it with \`claude-failover run\`, or give the MCP server --server URL / --state-dir DIR`);
      return client;
    },
  };
  const server = buildMcpServer({ connector, version: VERSION });
  const stdin = io.stdin as Readable;
  const transport = new StdioServerTransport(stdin, io.stdout as unknown as Writable);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    stdin.once('end', () => resolve());
    stdin.once('close', () => resolve());
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
  return 0;
}
