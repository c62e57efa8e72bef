/** Writes manifest sets into temp dirs for e2e tests. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIM_BIN } from './cli.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cf-${prefix}-`));
}

/**
 * Removes a temp tree that agents killed a moment ago may still write into (their exit hooks, the
 * simulator's exit log): a removal that meets a freshly written file (ENOTEMPTY) is tried again
 * after a pause, up to ~3 s. Kill the agents' tmux server first.
 */
export async function removeAgentTree(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/**
 * Logs an account in, for tests: `<configDir>/.credentials.json` (0600) with a refresh token.
 * By default the access token has expired, like an idle account's: the account can take the pool
 * (Claude Code refreshes the token at launch) and the controller does not poll its usage, so no
 * test reaches the real usage endpoint. Pass `expiresAt` in the future for a polled account.
 */
export function writeCredentials(configDir: string, opts: { accessToken?: string; expiresAt?: number } = {}): void {
  mkdirSync(configDir, { recursive: true });
  const oauth = { accessToken: opts.accessToken ?? 'sk-ant-oat01-test-only', refreshToken: 'sk-ant-ort01-test-only', expiresAt: opts.expiresAt ?? Date.now() - 3_600_000, scopes: ['user:inference'], subscriptionType: 'max' };
  writeFileSync(join(configDir, '.credentials.json'), JSON.stringify({ claudeAiOauth: oauth }), { mode: 0o600 });
}

export interface PoolOptions {
  accounts?: string[];
  sessions?: { name: string; project?: string; command?: string[]; extra?: string }[];
  projects?: string[];
  /** Accounts logged in (see writeCredentials); default all. Without credentials no account can take the pool. */
  loggedIn?: string[];
}

/** A small pool: accounts, projects and sessions under `root` (manifests in root/manifests). */
export function writePool(root: string, opts: PoolOptions = {}): string {
  const dir = join(root, 'manifests');
  mkdirSync(dir, { recursive: true });
  const accounts = opts.accounts ?? ['a'];
  const projects = opts.projects ?? ['p'];
  const docs: string[] = [];
  for (const a of opts.loggedIn ?? accounts) writeCredentials(join(root, 'accounts', a));
  accounts.forEach((a, i) => docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: ${a}\nspec:\n  configDir: ${root}/accounts/${a}\n  priority: ${(i + 1) * 10}\n`));
  for (const p of projects) docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: ${p}\nspec:\n  path: ${root}/projects/${p}\n`);
  writeFileSync(join(dir, 'pool.yaml'), docs.join('---\n'));
  const sessions = opts.sessions ?? [];
  writeFileSync(
    join(dir, 'sessions.yaml'),
    sessions
      .map((s) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${s.name}\nspec:\n  project: ${s.project ?? projects[0]}\n  command: ${JSON.stringify(s.command ?? [SIM_BIN, '--dangerously-skip-permissions'])}\n${s.extra ?? ''}`)
      .join('---\n'),
  );
  return dir;
}
