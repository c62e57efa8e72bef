/**
 * manifests/ (the ready-to-edit set for a real pool) validates and plans on a machine where none of
 * its paths exist: HOME is an empty temp dir, the tmux server is a private name that never starts.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/core/plan.js';
import { REPO, runCli } from '../support/cli.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const MANIFESTS = join(REPO, 'manifests');
const home = mkdtempSync(join(tmpdir(), 'cf-home-'));
const tmux = new PrivateTmuxServer();
const env = { HOME: home, XDG_STATE_HOME: join(home, 'state'), CF_JOBS_API_KEY: '' };
afterAll(() => {
  tmux.kill();
  rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

const yamlFiles = readdirSync(MANIFESTS).filter((f) => f.endsWith('.yaml')).sort();

describe('manifests/ (ready-to-edit set)', () => {
  it('has one kind per file, each starting with the yaml-language-server modeline of its schema', () => {
    expect(yamlFiles).toEqual(['accounts.yaml', 'delegation.yaml', 'notifiers.yaml', 'projects.yaml', 'sessions.yaml']);
    for (const f of yamlFiles) {
      const text = readFileSync(join(MANIFESTS, f), 'utf8');
      const kinds = [...new Set([...text.matchAll(/^kind: (\w+)$/gm)].map((m) => m[1]))];
      expect(kinds, f).toHaveLength(1);
      const schema = `${(kinds[0] as string).toLowerCase()}.schema.json`;
      expect(text.split('\n')[0], f).toBe(`# yaml-language-server: $schema=../schemas/${schema}`);
      expect(existsSync(join(REPO, 'schemas', schema)), schema).toBe(true);
      // Commented for an operator: every file says what to edit.
      expect(text, f).toMatch(/EDIT/);
    }
  });

  it('passes validate (exit 0) with the expected objects', async () => {
    const r = await runCli(['validate', '-f', MANIFESTS, '-o', 'json'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { valid: boolean; objects: Record<string, number>; diagnostics: unknown[] };
    expect(v.valid).toBe(true);
    expect(v.diagnostics).toEqual([]);
    expect(v.objects).toEqual({ Account: 3, DelegationPolicy: 1, Notifier: 1, Project: 2, Session: 6 });
  });

  it('uses env/file references for every secret, never an inline value', () => {
    const all = yamlFiles.map((f) => readFileSync(join(MANIFESTS, f), 'utf8')).join('\n');
    expect(all).toMatch(/apiKey:\n\s+env: CF_JOBS_API_KEY/);
    expect(all).toMatch(/botToken:\n\s+file: ~\/\.config\/claude-failover\/telegram-bot-token/);
    expect(all).not.toMatch(/sk-ant-|\d{6,}:[A-Za-z0-9_-]{20,}/);
  });

  it('reconcile --once --dry-run --detailed-exitcode -o json exits 2 with a parsable plan, and touches nothing', async () => {
    const stateBefore = existsSync('/var/lib/claude-failover');
    const r = await runCli(['reconcile', '--once', '--dry-run', '--detailed-exitcode', '-o', 'json', '-f', MANIFESTS, '--tmux-socket', tmux.socket], { env });
    expect(r.code, r.stderr).toBe(2);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.formatVersion).toBe(1);
    expect(plan.dryRun).toBe(true);
    const keys = plan.changes.map((c) => `${c.action} ${c.key}`);
    expect(keys).toContain('create Project/webapp');
    expect(keys).toContain('create Account/main');
    // Paths resolve under the (empty) home: `~/` expanded, nothing relative to the cwd.
    const main = plan.changes.find((c) => c.key === 'Account/main');
    expect(JSON.stringify(main?.diff)).toContain(join(home, '.claude-accounts', 'shared'));
    expect(JSON.stringify(plan.changes.find((c) => c.key === 'Project/webapp'))).toContain(join(home, 'src', 'webapp'));
    expect(plan.summary.add).toBe(plan.changes.filter((c) => c.action === 'create').length);
    // No account is logged in on this machine: the sessions the pool follows are not launched
    // (each says why, and the pool note gives the reason per account); reported, not fatal.
    const notes = plan.notes.map((n) => `${n.key}: ${n.message}`).join('\n');
    expect(notes).toMatch(/Account\/\*: no account can take the pool, so no session is launched: .*main: credentials invalid .*no credentials at/);
    for (const s of ['ccl-0', 'ccl-1', 'ccl-2', 'ccl-3']) expect(notes).toContain(`Session/${s}: tmux session "${s}" is not launched: no account can take the pool`);
    // Dry-run wrote nothing and started no tmux server.
    expect(readdirSync(home)).toEqual([]);
    expect(existsSync('/var/lib/claude-failover')).toBe(stateBefore);
    expect(tmux.serverRunning()).toBe(false);
  });
});
