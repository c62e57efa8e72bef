import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findRealClaude, pinnedClaudeVersion, platformSuffix, realClaudeEnv } from '../../src/demo/real-claude.js';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

/** A project root pinning the CLI, with what is installed under node_modules. */
function root(installed: Record<string, string | number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cf-real-claude-'));
  roots.push(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', devDependencies: { '@anthropic-ai/claude-code': '9.9.9' } }));
  for (const [path, content] of Object.entries(installed)) {
    mkdirSync(join(dir, 'node_modules', path, '..'), { recursive: true });
    writeFileSync(join(dir, 'node_modules', path), typeof content === 'number' ? Buffer.alloc(content) : content);
  }
  return dir;
}

const suffix = platformSuffix();
const pkg = (name: string) => JSON.stringify({ name, version: '9.9.9' });

describe('findRealClaude', () => {
  it('finds the platform package\'s binary', () => {
    const dir = root({ [`@anthropic-ai/claude-code-${suffix}/package.json`]: pkg(`@anthropic-ai/claude-code-${suffix}`), [`@anthropic-ai/claude-code-${suffix}/claude`]: 2_000_000 });
    expect(findRealClaude(dir)).toEqual({ path: join(dir, 'node_modules', `@anthropic-ai/claude-code-${suffix}`, 'claude'), version: '9.9.9' });
  });

  it('falls back to the wrapper\'s bin/claude.exe once its postinstall put the binary there', () => {
    const dir = root({ '@anthropic-ai/claude-code/package.json': pkg('@anthropic-ai/claude-code'), '@anthropic-ai/claude-code/bin/claude.exe': 2_000_000 });
    expect(findRealClaude(dir).path).toBe(join(dir, 'node_modules', '@anthropic-ai/claude-code', 'bin', 'claude.exe'));
  });

  it('fails loudly, naming the fix, when the CLI is missing or only the placeholder is there', () => {
    expect(() => findRealClaude(root({}))).toThrow(/the real Claude Code CLI \(@anthropic-ai\/claude-code@9\.9\.9.*is not installed.*run `npm ci`/s);
    const placeholder = root({ '@anthropic-ai/claude-code/package.json': pkg('@anthropic-ai/claude-code'), '@anthropic-ai/claude-code/bin/claude.exe': '#!/bin/sh\necho placeholder\n' });
    expect(() => findRealClaude(placeholder)).toThrow(/a placeholder \(its postinstall did not run\)/);
  });

  it('reads the exact pinned version from package.json', () => {
    expect(pinnedClaudeVersion()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('realClaudeEnv', () => {
  it('points the CLI at the stand-in, keeps it off other hosts, and sets IS_SANDBOX only as root', () => {
    expect(realClaudeEnv('http://127.0.0.1:1', false)).toEqual({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' });
    expect(realClaudeEnv('http://127.0.0.1:1', true).IS_SANDBOX).toBe('1');
  });
});
