/** A real controller (wiring, Manager, Store, private tmux, temp state dir) behind buildServer, for inject() tests. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { loadManifests, toDesired } from '../../src/adapters/manifest-files.js';
import { failoverVia, restartSessionVia } from '../../src/runtime/control-plane.js';
import type { CfEvent } from '../../src/runtime/events.js';
import { sendToSessionVia } from '../../src/runtime/session-send.js';
import { wire, type Wired } from '../../src/runtime/wiring.js';
import { buildServer, type ServerDeps } from '../../src/server/index.js';
import { removeAgentTree, tempDir, writePool, type PoolOptions } from '../support/manifests.js';
import { PrivateTmuxServer } from '../support/tmux.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const AUTH = { authorization: `Bearer ${TOKEN}` };

export interface Harness {
  root: string;
  stateDir: string;
  manifests: string;
  tmux: PrivateTmuxServer;
  wired: Wired;
  app: FastifyInstance;
  cleanup(): Promise<void>;
}

export async function harness(pool: PoolOptions = {}, deps: Partial<ServerDeps> = {}): Promise<Harness> {
  const tmux = new PrivateTmuxServer();
  const root = tempDir('api');
  const manifests = writePool(root, { accounts: ['a', 'b'], projects: ['p'], ...pool });
  // In-process tests run the TypeScript sources, where the guard's hook entry is not built
  // (it is deployed from dist/); the guard is tested elsewhere, so it is off for these projects.
  const poolFile = join(manifests, 'pool.yaml');
  writeFileSync(poolFile, readFileSync(poolFile, 'utf8').replace(/(kind: Project\n(?:.*\n)*? {2}path: .*\n)/g, '$1  safety:\n    mode: off\n'));
  const stateDir = join(root, 'state');
  const wired = wire({ stateDir, dryRun: false, tmuxSocket: tmux.socket, pool: { pollUsage: false } });
  await wired.stateStore.ensure();
  await wired.manager.loadState();
  const loaded = await loadManifests([manifests], { displayBase: root, gitRevision: false });
  if (loaded.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(loaded.diagnostics));
  wired.manager.setDesired(toDesired(loaded));
  const app = buildServer({
    manager: wired.manager,
    stateDir,
    token: TOKEN,
    failover: failoverVia({ manager: wired.manager, requests: wired.requests }),
    restartSession: restartSessionVia({ manager: wired.manager, requests: wired.requests }),
    sendToSession: sendToSessionVia({ manager: wired.manager, tmux: wired.tmux, stateDir }),
    eventsPollMs: 50,
    queueCacheMs: 0,
    ...deps,
  });
  return {
    root,
    stateDir,
    manifests,
    tmux,
    wired,
    app,
    cleanup: async () => {
      await app.close();
      await wired.manager.stop(1000);
      tmux.kill();
      await removeAgentTree(root);
    },
  };
}

/**
 * A `harness` per call, each cleaned up after its test (registers the afterEach; call it at the
 * top of a test file): `const setup = useHarnesses();`.
 */
export function useHarnesses(): (...args: Parameters<typeof harness>) => Promise<Harness> {
  const open: Harness[] = [];
  afterEach(async () => {
    for (const h of open.splice(0)) await h.cleanup();
  });
  return async (...args) => {
    const h = await harness(...args);
    open.push(h);
    return h;
  };
}

/** Writes a task file into a project's inbox (as a producer would: write elsewhere, then rename). */
export function addTask(root: string, project: string, id: string, text: string): void {
  const dir = join(root, 'projects', project, '.agent-queue', 'inbox');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.md`), text);
}

/** The controller's events so far (events.jsonl in the harness's state dir; [] before the first). */
export function events(h: Harness): CfEvent[] {
  try {
    return readFileSync(join(h.stateDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CfEvent);
  } catch {
    return [];
  }
}
