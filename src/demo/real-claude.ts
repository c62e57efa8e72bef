/**
 * Finds the real Claude Code CLI that this repository pins as a devDependency
 * (`@anthropic-ai/claude-code`, exact version in package.json), for the conformance tests and
 * `make demo CLAUDE=real`. Its native binary ships in a per-platform optional package
 * (`@anthropic-ai/claude-code-linux-x64/claude`, …); the wrapper package's postinstall copies it
 * over `bin/claude.exe`, but install scripts may not run, so the platform package is looked up
 * first. Never downloads anything: a missing binary is an error that says how to install it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLAUDE_PACKAGE = '@anthropic-ai/claude-code';

/** The repository root (this file is src/demo/ or dist/demo/). */
function repoRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The exact version package.json pins (devDependencies). */
export function pinnedClaudeVersion(root: string = repoRoot()): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const v = pkg.devDependencies?.[CLAUDE_PACKAGE];
  if (!v) throw new Error(`package.json does not pin ${CLAUDE_PACKAGE} in devDependencies`);
  return v;
}

/** The platform package's suffix, as the CLI's own installer names it (linux-x64, linux-x64-musl, darwin-arm64, …). */
export function platformSuffix(platform: string = process.platform, arch: string = process.arch, musl: boolean = isMusl()): string {
  const os = platform === 'win32' ? 'win32' : platform;
  return `${os}-${arch}${platform === 'linux' && musl ? '-musl' : ''}`;
}

function isMusl(): boolean {
  if (process.platform !== 'linux') return false;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime === undefined;
}

export interface RealClaude {
  /** Absolute path of the native binary. */
  path: string;
  /** The version package.json pins. */
  version: string;
}

/**
 * Locates the pinned CLI's binary under `root`'s node_modules. Throws (never skips) when it is
 * missing or is the wrapper's placeholder, naming the install command.
 */
export function findRealClaude(root: string = repoRoot()): RealClaude {
  const version = pinnedClaudeVersion(root);
  const require = createRequire(join(root, 'package.json'));
  const suffix = platformSuffix();
  const tried: string[] = [];
  const candidates: (() => string)[] = [
    () => join(dirname(require.resolve(`${CLAUDE_PACKAGE}-${suffix}/package.json`)), process.platform === 'win32' ? 'claude.exe' : 'claude'),
    () => join(dirname(require.resolve(`${CLAUDE_PACKAGE}/package.json`)), 'bin', 'claude.exe'),
  ];
  for (const candidate of candidates) {
    let path: string;
    try {
      path = candidate();
    } catch (err) {
      tried.push((err as Error).message.split('\n')[0] ?? 'not found');
      continue;
    }
    // The wrapper's bin/claude.exe is a small placeholder until its postinstall ran.
    if (existsSync(path) && statSync(path).size > 1_000_000) return { path, version };
    tried.push(`${path}: ${existsSync(path) ? 'a placeholder (its postinstall did not run)' : 'missing'}`);
  }
  throw new Error(`the real Claude Code CLI (${CLAUDE_PACKAGE}@${version}, package ${CLAUDE_PACKAGE}-${suffix}) is not installed under ${root}/node_modules: run \`npm ci\` (it is a devDependency; optional dependencies must not be omitted).\nLooked for: ${tried.join('; ')}`);
}

/** `claude --version` of a binary, e.g. `2.1.332 (Claude Code)`. */
export function claudeVersionOutput(path: string): string {
  return execFileSync(path, ['--version'], { encoding: 'utf8', env: { ...process.env, DISABLE_AUTOUPDATER: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' }, timeout: 60_000 }).trim();
}

/**
 * The environment a real CLI session needs to talk to a local API stand-in and nothing else:
 * the base URL, no non-essential traffic, no auto-update, and, as root, `IS_SANDBOX=1` (the CLI
 * refuses `--dangerously-skip-permissions` as root otherwise).
 */
export function realClaudeEnv(baseUrl: string, isRoot: boolean = process.getuid?.() === 0): Record<string, string> {
  return {
    ANTHROPIC_BASE_URL: baseUrl,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    ...(isRoot ? { IS_SANDBOX: '1' } : {}),
  };
}
