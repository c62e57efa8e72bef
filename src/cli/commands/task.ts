/**
 * `claude-failover task add`: enqueue a task atomically (docs/queue-protocol.md) and print its id.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { enqueueTask } from '../../adapters/queue/index.js';
import { loadManifests } from '../../adapters/manifest-files.js';
import { formatDiagnostic, type Diagnostic, type ManifestObject } from '../../api/objects.js';
import { queueRootOf } from '../../api/queue-root.js';
import type { EnqueueOptions } from '../../adapters/queue/index.js';
import { UsageError } from '../../core/errors.js';
import { PRIORITIES, TaskParseError } from '../../core/task.js';
import type { Priority } from '../../core/task.js';
import { oneOf, parse } from '../args.js';
import type { CliIO } from '../io.js';
import { readAll } from '../io.js';

const HELP = `Usage: claude-failover task add (--queue DIR | --project NAME [--manifests PATH...]) (--file FILE | -)
                                [--priority high|normal|low] [--title TEXT] [-o text|json]

Adds a task to a project's queue and prints its id. The file is validated first (frontmatter,
UTF-8, non-empty body): a malformed task is refused and nothing is written. It is written to
DIR/.tmp/, fsynced, then linked into DIR/inbox/ in one step, so the controller never sees a
partial file. The task id is the file name without .md: YYYYMMDD-HHMMSS-<hex>[-<title slug>].

Options:
  --queue DIR           The project's queue directory (e.g. /srv/web/.agent-queue); created if missing
  --project NAME        The Project's queue, found in the manifests (<spec.path>/<spec.queueDir>;
                        an absolute queueDir as it is)
  --manifests PATH      Manifest file or directory for --project; repeatable (default
                        $CLAUDE_FAILOVER_MANIFESTS). (-f is the task file here, not manifests.)
  --file FILE, -f FILE  Read the task from FILE; "-" (or a lone "-") reads standard input
  --priority P          high, normal (default) or low; written into the frontmatter
  --title TEXT          Title written into the frontmatter (also used in the task id)
  -o, --output FORMAT   text (default: the id alone) or json ({"id", "path"})

The task may carry frontmatter (see docs/queue-protocol.md):
  ---
  priority: high
  needs_claude_code: true
  ---
  Fix the flaky login test in tests/e2e/login.spec.ts.

Exit codes: 0 added, 1 error (malformed task, unreadable file, usage).

Examples:
  claude-failover task add --queue ~/src/web/.agent-queue --file fix-login.md
  claude-failover task add --project web --manifests /etc/claude-failover/manifests -f fix-login.md
  echo "Update the changelog for 1.4" | claude-failover task add --queue .agent-queue - --priority low
  id=$(claude-failover task add --queue .agent-queue -f task.md --title "Nightly audit")
`;

const TASK_HELP = `Usage: claude-failover task <subcommand> [options]

Subcommands:
  add    Add a task to a project's queue atomically and print its id

Run \`claude-failover task add --help\` for options and examples.
`;

export interface AddTaskInput {
  /** Markdown body; may start with frontmatter. */
  body: string;
  title?: string;
  priority?: Priority;
  /** Extra frontmatter fields. */
  frontmatter?: Record<string, unknown>;
}

/**
 * Enqueues a task into the queue at `queueRoot` (atomic; validated first). For callers that
 * resolved a Project to its queue directory (`<spec.path>/<spec.queueDir>`).
 */
export async function addTaskToQueue(queueRoot: string, input: AddTaskInput, opts: EnqueueOptions = {}): Promise<{ id: string; path: string }> {
  return enqueueTask(
    queueRoot,
    {
      body: input.body,
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.frontmatter !== undefined ? { frontmatter: input.frontmatter } : {}),
    },
    opts,
  );
}

export async function taskCommand(args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(TASK_HELP);
    return sub === undefined ? 1 : 0;
  }
  if (sub !== 'add') throw new UsageError(`unknown subcommand "${sub}" (available: add)`);
  return taskAdd(rest, io);
}

async function taskAdd(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<{ help?: boolean; queue?: string; project?: string; manifests?: string[]; file?: string; priority?: string; title?: string; output?: string }>(
    args,
    {
      queue: { type: 'string' },
      project: { type: 'string' },
      manifests: { type: 'string', multiple: true },
      file: { type: 'string', short: 'f' },
      priority: { type: 'string' },
      title: { type: 'string' },
      output: { type: 'string', short: 'o' },
    },
    { allowPositionals: true },
  );
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  if (values.queue && values.project) throw new UsageError('give either --queue DIR or --project NAME, not both');
  if (!values.queue && !values.project) throw new UsageError('--queue DIR is required (the project queue directory, e.g. <project>/.agent-queue), or --project NAME with --manifests');
  if (values.manifests && !values.project) throw new UsageError('--manifests is used with --project NAME');
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== '-')) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals.find((p) => p !== '-') ?? positionals[1])}; pass the task with --file FILE or - for stdin`);
  }
  if (values.file !== undefined && positionals.length === 1) throw new UsageError('give the task either with --file or as "-" (stdin), not both');
  const source = values.file ?? positionals[0];
  if (source === undefined) throw new UsageError('no task given: pass --file FILE, or - to read standard input');
  const priority = values.priority === undefined ? undefined : oneOf('--priority', values.priority.toLowerCase(), PRIORITIES, 'normal');
  let body: string;
  if (source === '-') {
    body = await readAll(io.stdin);
  } else {
    const p = path.resolve(io.cwd, source);
    const bytes = await fs.readFile(p).catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${source}: ${err.code ?? err.message}`);
    });
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      io.stderr.write(`claude-failover task add: ${source} is not valid UTF-8; not added\n`);
      return 1;
    }
  }
  const queueRoot = values.queue ? path.resolve(io.cwd, values.queue) : await projectQueueRoot(values.project as string, values.manifests, io);
  try {
    const r = await addTaskToQueue(queueRoot, { body, ...(values.title !== undefined ? { title: values.title } : {}), ...(priority ? { priority } : {}) });
    io.stdout.write(output === 'json' ? `${JSON.stringify({ id: r.id, path: r.path })}\n` : `${r.id}\n`);
    return 0;
  } catch (err) {
    if (err instanceof TaskParseError) {
      io.stderr.write(`claude-failover task add: ${err.code}: task not added: ${err.reason}${err.line !== undefined ? ` (line ${err.line})` : ''}\n`);
      return 1;
    }
    throw err;
  }
}

/** The queue root (src/api/queue-root.ts) of the named Project in the manifests (validated as a whole). */
export async function projectQueueRoot(project: string, manifests: string[] | undefined, io: CliIO): Promise<string> {
  const files = manifests && manifests.length > 0 ? manifests : (io.env.CLAUDE_FAILOVER_MANIFESTS ?? '').split(':').filter(Boolean);
  if (files.length === 0) throw new UsageError('--project needs the manifests: pass --manifests PATH (repeatable) or set CLAUDE_FAILOVER_MANIFESTS');
  const loaded = await loadManifests(files.map((f) => path.resolve(io.cwd, f)), { displayBase: io.cwd, gitRevision: false });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new UsageError(`the manifests have ${errors.length} problem(s); first: ${formatDiagnostic(errors[0] as Diagnostic)}`);
  const p = loaded.objects.find((o): o is ManifestObject<'Project'> => o.kind === 'Project' && o.metadata.name === project);
  if (!p) {
    const names = loaded.objects.filter((o) => o.kind === 'Project').map((o) => o.metadata.name);
    throw new UsageError(`no Project named ${JSON.stringify(project)} in the manifests${names.length > 0 ? ` (projects: ${names.join(', ')})` : ''}`);
  }
  return queueRootOf(p);
}
