/**
 * A Project's queue directory: one derivation (src/api/queue-root.ts) for the controllers, the
 * daemon's inbox watch, the API, the CLI and the migration. An absolute `queueDir` is used as it is.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationProjects } from '../../src/adapters/go-migration.js';
import { desiredFromObjects, type DesiredState } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import { queueRootOf } from '../../src/api/queue-root.js';
import { projectQueueRoot } from '../../src/cli/commands/task.js';
import type { CliIO } from '../../src/cli/io.js';
import { QueueReader } from '../../src/server/queues.js';
import { tempDir } from '../support/manifests.js';

const project = (path: string, queueDir?: string): string =>
  `apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: web\nspec:\n  path: ${path}\n${queueDir !== undefined ? `  queueDir: ${JSON.stringify(queueDir)}\n` : ''}`;

function desired(path: string, queueDir?: string, file = '/m/set.yaml'): DesiredState {
  const r = parseManifestText(file, project(path, queueDir), { homeDir: '/home/op' });
  expect(r.diagnostics).toEqual([]);
  return desiredFromObjects(r.objects);
}

describe('queueRootOf', () => {
  it.each([
    ['the default', '/src/web', undefined, '/src/web/.agent-queue'],
    ['a relative queueDir', '/src/web', 'queue', '/src/web/queue'],
    ['a nested relative queueDir with ./ and a trailing slash', '/src/web', './ops/queue/', '/src/web/ops/queue'],
    ['a queueDir beside the project', '/src/web', '../shared-queue', '/src/shared-queue'],
    ['an absolute queueDir (used as it is)', '/src/web', '/var/queues/web', '/var/queues/web'],
    ['an absolute queueDir with a trailing slash', '/src/web', '/var/queues/web/', '/var/queues/web'],
    ['a project path relative to the manifest file', '../src/web', '.agent-queue', '/src/web/.agent-queue'],
    ['a ~ project path', '~/web', 'q', '/home/op/web/q'],
    ['~ in queueDir is not expanded', '/src/web', '~/q', '/src/web/~/q'],
  ])('%s', (_name, path, queueDir, want) => {
    const p = desired(path, queueDir).projects[0];
    if (!p) throw new Error('no project');
    expect(queueRootOf(p)).toBe(want);
  });
});

describe('every consumer of an absolute queueDir uses the same directory', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  it('API counts, the CLI --project lookup and the migration all read <queueDir>, not <path>/<queueDir>', async () => {
    root = tempDir('queue-root');
    const queue = join(root, 'elsewhere', 'queue');
    mkdirSync(join(queue, 'inbox'), { recursive: true });
    writeFileSync(join(queue, 'inbox', 't-1.md'), 'a task\n');
    const manifest = join(root, 'set.yaml');
    writeFileSync(manifest, project(join(root, 'web'), queue));
    const d = desired(join(root, 'web'), queue, manifest);

    expect((await new QueueReader({ ttlMs: 0 }).counts(d)).web?.inbox).toBe(1);
    expect(migrationProjects(d).map((p) => p.root)).toEqual([queue]);
    const io = { stdout: { write: () => true }, stderr: { write: () => true }, stdin: Readable.from([]), env: {}, cwd: root } as unknown as CliIO;
    expect(await projectQueueRoot('web', [manifest], io)).toBe(queue);
  });
});
