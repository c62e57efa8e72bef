/**
 * Every case of the evasion corpus (corpus-evasions.ts) through the deployed hook: the launcher that
 * deployGuard writes into a project (the bundled entry with its code cache, as a session gets it),
 * run as a process with Claude Code's PreToolUse JSON on stdin.
 *
 * The corpus's fixed paths are mapped onto a temp dir: the project (PROJECT), the controller's state
 * dir (STATE_DIR, given to the launcher as --state-dir, whose secrets it derives), and real git
 * repositories (REPOS, with .git/HEAD on the branch of their name) that the hook reads from disk.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployGuard, pickHookEntry, type DeployedGuard } from '../../src/adapters/guard-deploy.js';
import { BUNDLED_HOOK_ENTRY, buildDist, HOOK_ENTRY } from './build-dist.js';
import { ENV, MANIFESTS, PROJECT, STATE_DIR, type CorpusCase } from './corpus.js';
import { EVASION_ALLOW, EVASION_DENY, REPO_BRANCHES, REPOS } from './corpus-evasions.js';

let dir: string;
let project: string;
let state: string;
let repos: string;
let deployed: DeployedGuard;

beforeAll(async () => {
  await buildDist();
  dir = await mkdtemp(join(tmpdir(), 'cf-guard-corpus-'));
  project = join(dir, 'proj');
  state = join(dir, 'state');
  repos = join(dir, 'repos');
  for (const [name, branch] of Object.entries(REPO_BRANCHES)) {
    await mkdir(join(repos, name, '.git'), { recursive: true });
    await mkdir(join(repos, name, 'src'), { recursive: true });
    await writeFile(join(repos, name, '.git', 'HEAD'), `ref: refs/heads/${branch}\n`);
  }
  // what the controller deploys from a built checkout: the bundled entry (dist/guard/guard-hook.cjs)
  deployed = await deployGuard({ projectDir: project, sessionName: 'corpus', stateDir: state, protectedPaths: [MANIFESTS], hookEntry: pickHookEntry(BUNDLED_HOOK_ENTRY, HOOK_ENTRY) });
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The corpus's paths in this test's temp dir. */
function local(s: string): string {
  return s.split(STATE_DIR).join(state).split(`${REPOS}/`).join(`${repos}/`).split(PROJECT).join(project);
}

function hookInput(c: CorpusCase): string {
  const tool = c.tool ?? 'Bash';
  const input = local(c.input);
  const toolInput = tool === 'Bash' ? { command: input } : tool === 'Grep' ? { pattern: '.', path: input } : { file_path: input };
  return JSON.stringify({
    session_id: '3b2c8f0e-0000-4000-8000-000000000015', transcript_path: '/tmp/t.jsonl', cwd: local(c.cwd ?? PROJECT), permission_mode: 'bypassPermissions',
    hook_event_name: 'PreToolUse', tool_name: tool, tool_input: toolInput, tool_use_id: 'toolu_corpus',
  });
}

function runLauncher(input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(deployed.scriptPath, [], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH, ...ENV, CLAUDE_PROJECT_DIR: project } });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Runs `cases` through the launcher, two at a time (the machine has two cores). */
async function verdicts(cases: CorpusCase[]): Promise<{ c: CorpusCase; code: number | null; stderr: string }[]> {
  const out: { c: CorpusCase; code: number | null; stderr: string }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++] as CorpusCase;
      out.push({ c, ...(await runLauncher(hookInput(c))) });
    }
  };
  await Promise.all([worker(), worker()]);
  return out;
}

describe('evasion corpus through the deployed hook', () => {
  it('the launcher runs the bundled entry, as deployed for a session', async () => {
    expect(deployed.scriptPath).toBe(join(project, '.claude', 'hooks', 'claude-failover-guard-corpus'));
    expect(await readFile(deployed.scriptPath, 'utf8')).toContain(BUNDLED_HOOK_ENTRY);
  });

  it('denies every evasion with its rule (exit 2, the rule on stderr)', async () => {
    const wrong = (await verdicts(EVASION_DENY))
      .filter(({ c, code, stderr }) => code !== 2 || !stderr.includes(`[${c.rule as string}]`))
      .map(({ c, code, stderr }) => ({ input: c.input.slice(0, 120), rule: c.rule, code, stderr: stderr.slice(0, 300) }));
    expect(wrong).toEqual([]);
  }, 600_000);

  it('allows every look-alike (exit 0, nothing on stderr)', async () => {
    const wrong = (await verdicts(EVASION_ALLOW))
      .filter(({ code, stderr }) => code !== 0 || stderr !== '')
      .map(({ c, code, stderr }) => ({ input: c.input.slice(0, 120), code, stderr: stderr.slice(0, 300) }));
    expect(wrong).toEqual([]);
  }, 600_000);

  it('takes the state dir\'s secrets from --state-dir, including a token file that control-plane.json names', async () => {
    const elsewhere = join(dir, 'etc-cf', 'api-token');
    await writeFile(join(state, 'control-plane.json'), JSON.stringify({ url: 'http://127.0.0.1:7777', pid: 1, tokenFile: elsewhere, startedAt: new Date().toISOString() }));
    const read = await runLauncher(hookInput({ input: `cat ${elsewhere}`, expect: 'deny', family: 'secret-read' }));
    expect(read.code).toBe(2);
    expect(read.stderr).toContain('[secret-read]');
    const tool = await runLauncher(hookInput({ input: elsewhere, tool: 'Read', expect: 'deny', family: 'secret-read' }));
    expect(tool.code).toBe(2);
    const audit = await runLauncher(hookInput({ input: `cat ${join(state, 'audit', 'guard.jsonl')}`, expect: 'allow', family: 'secret-benign' }));
    expect(audit.code).toBe(0);
  }, 60_000);
});
