/**
 * The bundled hook entry (scripts/bundle-guard.mjs: dist/guard/guard-hook.cjs + guard-hook.bundle.cjs +
 * guard-hook.cache): same verdicts as the module entry, works with a missing, damaged or foreign code
 * cache, denies when the bundle itself is missing, and deployGuard falls back to the module entry when
 * the bundle is missing or stale.
 *
 * Experiments on the cache run on a private copy (a temp dir with a node_modules link), never on the
 * shared dist/.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledNodeFlags, deployGuard, pickHookEntry } from '../../src/adapters/guard-deploy.js';
import { shellQuote } from '../../src/core/shell-quote.js';
import type { AuditRecord } from '../../src/guard/audit.js';
import { BUNDLED_HOOK_ENTRY, buildDist, HOOK_ENTRY, ROOT } from './build-dist.js';
import { ALLOW, DENY, ENV, PROJECT, WARN, type CorpusCase } from './corpus.js';

interface Run {
  code: number | null;
  stderr: string;
}

/** The node flags the bundle's code cache was made for (what deployGuard puts into the launcher). */
let flags: string[] = [];

function run(args: string[], input: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args[0] === HOOK_ENTRY ? args : [...flags, ...args], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH, ...ENV } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

function preToolUse(tool: string, toolInput: Record<string, unknown>, cwd = PROJECT): string {
  return JSON.stringify({ session_id: 's-bundle', cwd, hook_event_name: 'PreToolUse', tool_name: tool, tool_input: toolInput, tool_use_id: 'toolu_b' });
}

function caseInput(c: CorpusCase): string {
  const tool = c.tool ?? 'Bash';
  const input = tool === 'Bash' ? { command: c.input } : tool === 'NotebookEdit' ? { notebook_path: c.input } : { file_path: c.input, content: '' };
  return preToolUse(tool, input, c.cwd ?? PROJECT);
}

async function lastAudit(stateDir: string): Promise<AuditRecord> {
  const lines = (await readFile(join(stateDir, 'audit', 'guard.jsonl'), 'utf8')).trim().split('\n');
  return JSON.parse(lines[lines.length - 1] as string) as AuditRecord;
}

let dir: string;
/** Private copy of the bundled entry: <copy>/dist/guard/{guard-hook.cjs,guard-hook.bundle.cjs,guard-hook.cache}. */
let copy: string;
const copyEntry = (): string => join(copy, 'dist', 'guard', 'guard-hook.cjs');
const copyCache = (): string => join(copy, 'dist', 'guard', 'guard-hook.cache');
const hookArgs = (entry: string, stateDir: string): string[] => [entry, '--session', 'b', '--state-dir', stateDir, '--project', PROJECT, '--protect', '/var/lib/claude-failover', '--protect', '/etc/claude-failover/manifests'];

const BASH_ALLOW = preToolUse('Bash', { command: 'cd src && grep -rn "TODO" . | head -20 && npm test -- --run 2>&1 | tail -5' });
const BASH_DENY = preToolUse('Bash', { command: 'FOO=1 sudo env rm -rf "$HOME"' });
const WRITE_DENY = preToolUse('Write', { file_path: `${PROJECT}/.claude/settings.json`, content: '{}' });

beforeAll(async () => {
  await buildDist();
  dir = await mkdtemp(join(tmpdir(), 'cf-guard-bundle-'));
  copy = join(dir, 'copy');
  await mkdir(join(copy, 'dist', 'guard'), { recursive: true });
  await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  flags = bundledNodeFlags(BUNDLED_HOOK_ENTRY);
  for (const f of ['guard-hook.cjs', 'guard-hook.bundle.cjs', 'guard-hook.cache', 'guard-hook.json']) await copyFile(join(ROOT, 'dist', 'guard', f), join(copy, 'dist', 'guard', f));
}, 240_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the three reference calls through an entry and checks the verdicts. */
async function expectVerdicts(entry: string, stateDir: string): Promise<void> {
  const allow = await run(hookArgs(entry, stateDir), BASH_ALLOW);
  expect(allow).toEqual({ code: 0, stderr: '' });
  const deny = await run(hookArgs(entry, stateDir), BASH_DENY);
  expect(deny.code).toBe(2);
  expect(deny.stderr).toContain('blocked this Bash call [sudo]');
  const write = await run(hookArgs(entry, stateDir), WRITE_DENY);
  expect(write.code).toBe(2);
  expect(write.stderr).toContain('blocked this Write call [protected-path]');
}

describe('bundled guard hook', () => {
  it('is self-contained CommonJS whose code cache belongs to it', async () => {
    const bundle = await readFile(join(ROOT, 'dist', 'guard', 'guard-hook.bundle.cjs'), 'utf8');
    const cache = await readFile(join(ROOT, 'dist', 'guard', 'guard-hook.cache'));
    const firstLine = bundle.slice(0, bundle.indexOf('\n') + 1);
    expect(firstLine).toMatch(/^\/\/ cf-guard-bundle [0-9a-f]{64}\n$/);
    expect(cache.subarray(0, firstLine.length).toString('utf8')).toBe(firstLine);
    // V8 checks a code cache's payload only under this flag, which the cache was made with.
    expect(flags).toContain('--verify-snapshot-checksum');
    // No ES module syntax and no dynamic import(): it runs as one CommonJS function.
    expect(bundle).not.toMatch(/\bimport\(/);
    expect(bundle).not.toMatch(/import\.meta/);
  });

  it('gives the same verdicts, rules and messages as the module entry on a sample of the corpus', async () => {
    const sample = [...DENY.filter((_c, i) => i % 3 === 0), ...WARN, ...ALLOW.filter((_c, i) => i % 2 === 0)].filter((c) => c.branch === undefined && c.input.length < 10_000);
    expect(sample.length).toBeGreaterThan(50);
    const stateM = join(dir, 'state-modules');
    const stateB = join(dir, 'state-bundle');
    for (const c of sample) {
      const input = caseInput(c);
      const [m, b] = await Promise.all([run(hookArgs(HOOK_ENTRY, stateM), input), run(hookArgs(BUNDLED_HOOK_ENTRY, stateB), input)]);
      expect({ input: c.input, code: b.code, stderr: b.stderr }).toEqual({ input: c.input, code: m.code, stderr: m.stderr });
      expect({ input: c.input, code: b.code }).toEqual({ input: c.input, code: c.expect === 'deny' ? 2 : 0 });
      const [am, ab] = await Promise.all([lastAudit(stateM), lastAudit(stateB)]);
      expect([ab.decision, ab.rule, ab.command]).toEqual([am.decision, am.rule, am.command]);
    }
  }, 240_000);

  it('works with its cache, without it, and with a damaged or foreign cache (the cache only saves time)', async () => {
    const good = await readFile(copyCache());
    const header = good.subarray(0, good.indexOf(10) + 1);
    const flipped = Buffer.from(good);
    for (let i = header.length + 200; i < flipped.length; i += 997) flipped[i] = (flipped[i] as number) ^ 0xff;
    const cases: [string, Buffer | null][] = [
      ['intact cache', good],
      ['missing cache', null],
      ['empty cache', Buffer.alloc(0)],
      ['truncated cache', good.subarray(0, Math.floor(good.length / 2))],
      ['payload bytes flipped (V8 does not check them: the entry must)', flipped],
      ['random payload behind a valid header', Buffer.concat([header, Buffer.from('0'.repeat(64) + '\n'), Buffer.alloc(4096, 7)])],
      ['cache of another bundle', Buffer.concat([Buffer.from(`// cf-guard-bundle ${'0'.repeat(64)}\n`), good.subarray(header.length)])],
    ];
    try {
      for (const [label, data] of cases) {
        await rm(copyCache(), { force: true });
        if (data !== null) await writeFile(copyCache(), data);
        await expectVerdicts(copyEntry(), join(dir, `state-cache-${label.replace(/\W+/g, '-')}`)).catch((err: unknown) => {
          throw new Error(`${label}: ${err instanceof Error ? err.message : String(err)}`);
        });
      }
    } finally {
      await writeFile(copyCache(), good);
    }
  }, 120_000);

  it('denies (exit 2) when the bundle file is missing or broken', async () => {
    const bundle = join(copy, 'dist', 'guard', 'guard-hook.bundle.cjs');
    const text = await readFile(bundle, 'utf8');
    try {
      await rm(bundle);
      const missing = await run(hookArgs(copyEntry(), join(dir, 'state-nobundle')), BASH_ALLOW);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('internal error');
      await writeFile(bundle, text.slice(0, Math.floor(text.length / 2)));
      const half = await run(hookArgs(copyEntry(), join(dir, 'state-halfbundle')), BASH_ALLOW);
      expect(half.code).toBe(2);
      expect(half.stderr).toContain('denying the call');
    } finally {
      await writeFile(bundle, text);
    }
    await expectVerdicts(copyEntry(), join(dir, 'state-restored'));
  }, 60_000);
});

describe('native parser loading (tree-sitter wrapper run with its binary handed over)', () => {
  it('loads once per process: repeated loads and a later require of the package keep working', async () => {
    const { loadNativeParser } = await import('../../src/guard/parser/tree-sitter.js');
    const trees = [];
    for (let i = 0; i < 3; i++) {
      const p = loadNativeParser();
      expect(p?.backend).toBe('native');
      trees.push(p?.parse('cd src && rm -rf build | tee x'));
    }
    expect(trees[1]).toEqual(trees[0]);
    expect(trees[2]).toEqual(trees[0]);
    // A plain require of the package afterwards gets the initialised module from require's cache, and
    // parsing through the first parser still works (a second run of the wrapper would break it).
    const { createRequire } = await import('node:module');
    const Parser = createRequire(join(ROOT, 'src', 'guard', 'parser', 'tree-sitter.ts'))('tree-sitter') as new () => { setLanguage(l: unknown): void };
    expect(typeof Parser).toBe('function');
    expect(loadNativeParser()?.parse('ls')).toEqual(loadNativeParser()?.parse('ls'));
  });
});

describe('default hook entry (pickHookEntry)', () => {
  it('picks the bundle when it is current, the module entry when the bundle is missing or older', async () => {
    const d = join(dir, 'pick');
    await mkdir(join(d, 'guard'), { recursive: true });
    await mkdir(join(d, 'cli'), { recursive: true });
    const bundled = join(d, 'guard', 'guard-hook.cjs');
    const bundleFile = join(d, 'guard', 'guard-hook.bundle.cjs');
    const modules = join(d, 'cli', 'guard-hook.js');
    await writeFile(modules, '');
    expect(pickHookEntry(bundled, modules)).toBe(modules); // nothing bundled
    await writeFile(bundled, '');
    expect(pickHookEntry(bundled, modules)).toBe(modules); // entry without its bundle
    await writeFile(bundleFile, '');
    const t = new Date();
    await utimes(modules, t, t);
    await utimes(bundleFile, t, new Date(t.getTime() + 1000));
    expect(pickHookEntry(bundled, modules)).toBe(bundled); // built after the modules (npm run build)
    await utimes(bundleFile, t, new Date(t.getTime() - 60_000));
    expect(pickHookEntry(bundled, modules)).toBe(modules); // left over from an earlier build: stale
    await rm(modules);
    expect(pickHookEntry(bundled, modules)).toBe(bundled); // only the bundle exists
  });

  it('deploys the bundled entry and its launcher blocks by policy, not by breakage', async () => {
    const project = join(dir, 'project');
    const d = await deployGuard({ projectDir: project, sessionName: 'bundled', stateDir: join(dir, 'state-deploy'), hookEntry: BUNDLED_HOOK_ENTRY });
    expect(await readFile(d.scriptPath, 'utf8')).toContain(`${shellQuote(process.execPath)} --verify-snapshot-checksum ${shellQuote(BUNDLED_HOOK_ENTRY)} --session bundled`);
    const r = await new Promise<Run>((resolve, reject) => {
      const child = spawn(d.scriptPath, [], { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: process.env.PATH, ...ENV, CLAUDE_PROJECT_DIR: project } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end(preToolUse('Bash', { command: 'cd / && rm -rf *' }, project));
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[recursive-delete]');
  }, 60_000);

  it('drops node flags the node binary rejects (they only serve the cache), keeping the guard working', async () => {
    const project = join(dir, 'project-flags');
    const d = await deployGuard({ projectDir: project, sessionName: 'flags', stateDir: join(dir, 'state-flags'), hookEntry: BUNDLED_HOOK_ENTRY, nodeFlags: ['--no-such-flag-for-node'] });
    const text = await readFile(d.scriptPath, 'utf8');
    expect(text).not.toContain('--no-such-flag');
    expect(text).toContain(`${shellQuote(process.execPath)} ${shellQuote(BUNDLED_HOOK_ENTRY)} --session flags`);
  }, 60_000);

  it('builds and trains its code cache where only the WASM parser loads (no native binding)', async () => {
    // The WASM parser changes a V8 flag at run time; a cache made after it used to be rejected by the
    // next process, which failed the build on a machine where the native binding cannot load.
    const out = join(copy, 'dist-wasm', 'guard');
    const built = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bundle-guard.mjs'), '--out', out, '--parser', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    expect(built, built.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/code cache \d+ KiB/) });
    await expectVerdicts(join(out, 'guard-hook.cjs'), join(dir, 'state-wasm'));
  }, 240_000);

  it('refuses to deploy a hook that denies everything because it is broken', async () => {
    const broken = join(dir, 'broken.cjs');
    await writeFile(broken, "process.stderr.write('claude-failover safety guard: internal error (x); denying the call\\n'); process.exit(2);\n");
    const err = await deployGuard({ projectDir: join(dir, 'project-broken'), sessionName: 's', stateDir: join(dir, 'state-broken'), hookEntry: broken }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('broken');
  });
});
