/**
 * Where a Project's task queue lives: `spec.queueDir` resolved against `spec.path`. A relative
 * queueDir (the default `.agent-queue`) is inside the project; an absolute one is used as it is
 * (the project path does not prefix it). The one derivation for the controllers, the daemon's
 * inbox watch, the API, the CLI and the migration.
 */
import { posix } from 'node:path';

/** `Project.spec.queueDir` when the manifest gives none. */
export const DEFAULT_QUEUE_DIR = '.agent-queue';

/** A Project (its spec as parsed: `path` absolute, `queueDir` defaulted). */
export interface QueueRootSpec {
  spec: { path: string; queueDir: string };
}

export function queueRootOf(project: QueueRootSpec): string {
  return posix.resolve(project.spec.path, project.spec.queueDir);
}
