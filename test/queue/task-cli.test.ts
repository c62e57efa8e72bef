import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { countTasks, readTask } from '../../src/adapters/queue/index.js';
import { addTaskToQueue, taskCommand } from '../../src/cli/commands/task.js';
import type { CliIO } from '../../src/cli/io.js';
import { UsageError } from '../../src/core/errors.js';
import { tempQueue } from './helpers.js';

let root: string;
let cwd: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ root, cleanup } = await tempQueue());
  cwd = path.dirname(root);
});
afterEach(async () => {
  await cleanup();
});

function io(stdin = ''): CliIO & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    stdout: { write: (s: string) => (o.out += s) },
    stderr: { write: (s: string) => (o.err += s) },
    stdin: Readable.from([Buffer.from(stdin)]),
    env: {},
    cwd: '',
  };
  o.cwd = cwd;
  return o;
}

describe('claude-failover task add', () => {
  it('adds a file and prints the id', async () => {
    await fs.writeFile(path.join(cwd, 'fix.md'), '---\nneeds_claude_code: true\n---\nFix the login\n');
    const x = io();
    expect(await taskCommand(['add', '--queue', '.agent-queue', '--file', 'fix.md', '--priority', 'high', '--title', 'Fix login'], x)).toBe(0);
    const id = x.out.trim();
    expect(id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{6}-fix-login$/);
    const t = await readTask(root, id, 'inbox');
    expect(t.frontmatter).toEqual({ needs_claude_code: true, priority: 'high', title: 'Fix login' });
    expect(t.body).toBe('Fix the login\n');
  });
  it('reads stdin with "-" and prints json with -o json', async () => {
    const body = 'Update the changelog 🎉 $(date) ; "quoted"\r\n';
    const x = io(body);
    expect(await taskCommand(['add', '--queue', root, '-', '-o', 'json'], x)).toBe(0);
    const r = JSON.parse(x.out) as { id: string; path: string };
    expect(r.path).toBe(path.join(root, 'inbox', `${r.id}.md`));
    expect((await readTask(root, r.id)).body).toBe(body);
  });
  it('refuses a malformed task with the reason and writes nothing', async () => {
    await fs.writeFile(path.join(cwd, 'bad.md'), '---\nprefered_ai: gemini\n---\nx\n');
    const x = io();
    expect(await taskCommand(['add', '--queue', root, '-f', 'bad.md'], x)).toBe(1);
    expect(x.err).toContain('CF_ERR_TASK_MALFORMED');
    expect(x.err).toContain('did you mean "preferred_ai"');
    expect((await countTasks(root)).inbox).toBe(0);
  });
  it('refuses invalid UTF-8', async () => {
    await fs.writeFile(path.join(cwd, 'bin.md'), Buffer.from([0x61, 0xff]));
    const x = io();
    expect(await taskCommand(['add', '--queue', root, '-f', 'bin.md'], x)).toBe(1);
    expect(x.err).toContain('not valid UTF-8');
  });
  it.each([
    [['add', '-f', 'x.md'], /--queue DIR is required/],
    [['add', '--queue', 'q'], /no task given/],
    [['add', '--queue', 'q', '-f', 'x.md', '-'], /not both/],
    [['add', '--queue', 'q', 'x.md'], /unexpected argument "x.md"/],
    [['add', '--queue', 'q', '-', '--priority', 'urgent'], /--priority must be one of high, normal, low/],
    [['remove'], /unknown subcommand "remove"/],
    [['add', '--queue', 'q', '-f', 'missing.md'], /cannot read missing.md: ENOENT/],
  ])('usage error: %j', async (args, msg) => {
    await expect(taskCommand(args, io())).rejects.toThrow(UsageError);
    await expect(taskCommand(args, io())).rejects.toThrow(msg);
  });
  it('--help prints examples', async () => {
    const x = io();
    expect(await taskCommand(['add', '--help'], x)).toBe(0);
    expect(x.out).toContain('Examples:');
    expect(x.out).toContain('--queue DIR');
  });
  it('addTaskToQueue is the programmatic entry', async () => {
    const r = await addTaskToQueue(root, { body: 'x', priority: 'low', frontmatter: { session: 'ccl-2' } });
    expect((await readTask(root, r.id)).frontmatter).toEqual({ session: 'ccl-2', priority: 'low' });
  });
});
