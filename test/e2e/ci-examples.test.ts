/**
 * examples/ci: plan.sh and the GitHub Actions workflow's `run:` steps, executed for real against a
 * copy of manifests/ on a machine where none of its paths exist (empty HOME, private tmux name).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Plan } from '../../src/core/plan.js';
import { CLI, REPO } from '../support/cli.js';
import { PrivateTmuxServer } from '../support/tmux.js';

const PLAN_SH = join(REPO, 'examples', 'ci', 'plan.sh');
const WORKFLOW = join(REPO, 'examples', 'ci', 'claude-failover-plan.yml');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A CI workspace: a manifests repo checkout (copy of manifests/), an empty HOME, `claude-failover` on PATH. */
function workspace() {
  const root = mkdtempSync(join(tmpdir(), 'cf-ci-'));
  const tmux = new PrivateTmuxServer();
  cleanups.push(() => rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }), () => tmux.kill());
  const repo = join(root, 'repo');
  const home = join(root, 'home');
  const bin = join(root, 'bin');
  const tmuxDir = join(root, 'tmux');
  mkdirSync(home);
  mkdirSync(bin);
  mkdirSync(tmuxDir);
  cpSync(join(REPO, 'manifests'), join(repo, 'manifests'), { recursive: true });
  // The installed bin, as `npm install -g` would put it on PATH.
  writeFileSync(join(bin, 'claude-failover'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'claude-failover'), 0o755);
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: home,
    XDG_STATE_HOME: join(home, '.local', 'state'),
    NO_COLOR: '1',
    RECONCILE_ARGS: `--tmux-socket ${tmux.socket}`,
    // The workflow's steps use the default tmux server name: keep its socket in a private dir.
    TMUX_TMPDIR: tmuxDir,
  };
  return { root, repo, home, env, tmux, tmuxDir };
}

function bash(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  const r = spawnSync('bash', ['-e', script, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('examples/ci/plan.sh', () => {
  it('valid manifests with changes: exit 2 with --detailed-exitcode (0 without), text plan, JSON plan and Markdown summary', () => {
    const { repo, home, env, tmux } = workspace();
    const summaryFile = join(repo, 'step-summary.md');
    const r = bash(PLAN_SH, ['--detailed-exitcode', 'manifests'], repo, { ...env, GITHUB_STEP_SUMMARY: summaryFile });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/^valid: 13 objects/m);
    // No account is logged in on a CI runner: the sessions are not planned, and the notes say why.
    expect(r.stdout).toMatch(/! Session\/ccl-0: tmux session "ccl-0" is not launched: no account can take the pool/);
    expect(r.stdout).toMatch(/^Plan: 5 to add, 0 to change, 0 to destroy\.$/m);
    const out = join(repo, 'claude-failover-plan');
    const plan = JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')) as Plan;
    expect(plan.summary).toEqual({ add: 5, change: 0, destroy: 0 });
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toContain('## claude-failover plan: `manifests`');
    expect(summary).toContain('**Plan: 5 to add, 0 to change, 0 to destroy.**');
    expect(summary).toContain('| `+` | Project/webapp |');
    expect(summary).toContain('- ⚠️ **Session/reviewer**: tmux session "reviewer" is not launched: no account can take the pool (the reasons: Account/*)');
    expect(summary).toMatch(/- ⚠️ \*\*Account\/\*\*\*: no account can take the pool, so no session is launched: .*main: credentials invalid/);
    expect(summary).toMatch(/<details><summary>Text plan<\/summary>\n\n```text\nclaude-failover would perform the following actions:/);
    expect(readFileSync(summaryFile, 'utf8')).toBe(summary);
    // The dry-run touched nothing.
    expect(existsSync(join(home, '.claude-accounts'))).toBe(false);
    expect(existsSync(join(home, 'src'))).toBe(false);
    expect(tmux.serverRunning()).toBe(false);

    const again = bash(PLAN_SH, ['--out', 'o2', 'manifests'], repo, env);
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(join(repo, 'o2', 'summary.md'))).toBe(true);
  });

  it('invalid manifests: exit 1, every problem as FILE:LINE:COL, the problems in the summary, GitHub annotations', () => {
    const { repo, env } = workspace();
    const f = join(repo, 'manifests', 'sessions.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('  project: infra\n  mode: pool', '  projekt: infra\n  mode: pool'));
    const r = bash(PLAN_SH, ['--detailed-exitcode', 'manifests'], repo, { ...env, GITHUB_ACTIONS: 'true' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/manifests\/sessions\.yaml:\d+:3: unknown field `projekt` in `spec` \(did you mean `project`\?\)/);
    expect(r.stderr).toMatch(/::error file=manifests\/sessions\.yaml,line=\d+,col=3,title=CF_MANIFEST_UNKNOWN_FIELD::unknown field `projekt`/);
    const summary = readFileSync(join(repo, 'claude-failover-plan', 'summary.md'), 'utf8');
    expect(summary).toContain('## claude-failover: `manifests` is invalid');
    expect(summary).toMatch(/\| `manifests\/sessions\.yaml:\d+:3` \| CF_MANIFEST_UNKNOWN_FIELD \|/);
    expect(existsSync(join(repo, 'claude-failover-plan', 'plan.json'))).toBe(false);
  });

  it('fails clearly when claude-failover is not installed', () => {
    const { repo, env } = workspace();
    const r = bash(PLAN_SH, ['manifests'], repo, { ...env, CLAUDE_FAILOVER: 'claude-failover-missing' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('claude-failover-missing not found');
  });
});

interface Step {
  name?: string;
  uses?: string;
  id?: string;
  run?: string;
}

describe('examples/ci/claude-failover-plan.yml', () => {
  const workflow = parse(readFileSync(WORKFLOW, 'utf8')) as { jobs: { plan: { env: Record<string, string>; steps: Step[] } } };
  const steps = workflow.jobs.plan.steps;
  const step = (name: string) => {
    const s = steps.find((x) => x.name === name);
    if (!s?.run) throw new Error(`workflow step "${name}" with run: not found`);
    return s.run;
  };

  /** Runs `run:` steps as GitHub does (bash -e, GITHUB_OUTPUT/GITHUB_STEP_SUMMARY files). */
  function runSteps(names: string[]) {
    const ws = workspace();
    const output = join(ws.root, 'github-output');
    const summary = join(ws.root, 'step-summary.md');
    writeFileSync(output, '');
    writeFileSync(summary, '');
    const env = { ...ws.env, ...workflow.jobs.plan.env, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: 'true' };
    const results = names.map((name) => {
      const file = join(ws.root, `${name.replace(/\W+/g, '-')}.sh`);
      writeFileSync(file, step(name));
      return { name, ...bash(file, [], ws.repo, env) };
    });
    return { ...ws, results, output: () => readFileSync(output, 'utf8'), summary: () => readFileSync(summary, 'utf8') };
  }

  it('installs, validates, plans with --detailed-exitcode -o json, writes a job summary and uploads the plan', () => {
    expect(steps.map((s) => s.name ?? s.uses)).toEqual(['actions/checkout@v4', 'actions/setup-node@v4', 'Install claude-failover', 'Validate', 'Plan (dry-run)', 'Job summary', 'actions/upload-artifact@v4']);
    expect(step('Plan (dry-run)')).toContain('claude-failover reconcile --once --dry-run --detailed-exitcode -o json -f "$MANIFESTS"');
  });

  it('on valid manifests with changes: every step succeeds, changes=true, and the summary holds the plan and the text plan', () => {
    const ws = runSteps(['Validate', 'Plan (dry-run)', 'Job summary']);
    for (const r of ws.results) expect(r.code, `${r.name}: ${r.stderr}`).toBe(0);
    expect(ws.output()).toBe('changes=true\n');
    const summary = ws.summary();
    expect(summary).toContain('## claude-failover plan: `manifests`');
    expect(summary).toContain('**Plan: 5 to add, 0 to change, 0 to destroy.**');
    expect(summary).toContain('- ⚠️ **Session/ccl-0**: tmux session "ccl-0" is not launched: no account can take the pool (the reasons: Account/*)');
    expect(summary).toMatch(/```text\nclaude-failover would perform the following actions:[\s\S]*Plan: 5 to add/);
    expect(JSON.parse(readFileSync(join(ws.repo, 'plan.json'), 'utf8')).summary).toEqual({ add: 5, change: 0, destroy: 0 });
    // No tmux server was started: no socket in TMUX_TMPDIR/tmux-<uid>/ (a tmux client creates the directory).
    const sockets = readdirSync(ws.tmuxDir).flatMap((d) => readdirSync(join(ws.tmuxDir, d)));
    expect(sockets).toEqual([]);
    expect(existsSync(join(ws.home, '.claude-accounts'))).toBe(false);
  });

  it('on invalid manifests: the Validate step fails with an annotation per problem', () => {
    const ws = workspace();
    const f = join(ws.repo, 'manifests', 'accounts.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('pollInterval: 5m', 'pollInterval: 5 minutes'));
    const script = join(ws.root, 'validate.sh');
    writeFileSync(script, step('Validate'));
    const r = bash(script, [], ws.repo, { ...ws.env, ...workflow.jobs.plan.env });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^::error file=manifests\/accounts\.yaml,line=\d+,col=\d+,title=CF_MANIFEST_DURATION::`spec\.quota\.pollInterval`: invalid duration/m);
  });
});
