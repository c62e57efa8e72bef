import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { guardCommand, hookPreToolUseCommand } from '../../src/cli/commands/guard.js';
import type { CliIO } from '../../src/cli/io.js';

function io(stdinText = '', env: NodeJS.ProcessEnv = { HOME: '/home/agent' }): CliIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const stdin = new PassThrough();
  stdin.end(stdinText);
  return { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, stdin, env, cwd: '/work/proj', out, err };
}

describe('claude-failover guard test', () => {
  it.each([
    [['test', 'rm -rf ~'], 2, /decision: deny\nrule: {5}recursive-delete\nreason: {3}rm -r would delete your home directory/],
    [['test', 'ls -la'], 0, /^decision: allow\nrule: {5}none\n$/],
    [['test', 'kubectl delete pod x'], 3, /decision: warn/],
    [['test', '--tool', 'Write', '--path', '.claude/settings.json'], 2, /rule: {5}protected-path/],
    [['test', 'git reset --hard', '--branch', 'main'], 2, /git-reset-hard/],
    [['test', 'git reset --hard', '--branch', 'feature'], 0, /allow/],
    [['test', 'rm -rf /srv/state/x', '--protect', '/srv/state'], 2, /rule: {5}protected-path\n.*safety guard protects/],
    [['test', 'rm -rf /home/bob/x', '--home', '/home/bob'], 0, /allow/],
    [['test', 'cat /srv/state/api-token', '--protect-read', '/srv/state/api-token'], 2, /rule: {5}secret-read/],
    [['test', '--tool', 'Read', '--path', '/srv/state/api-token', '--protect-read', '/srv/state/api-token'], 2, /secret-read/],
    [['test', '--tool', 'Read', '--path', 'README.md'], 0, /allow/],
    [['test', 'git -C /nonexistent/repo reset --hard', '--branch', 'feature'], 2, /git-reset-hard/],
    [['test', 'git 2>/dev/null push -f origin main'], 2, /git-force-push/],
  ])('%j exits %i', async (args, code, pattern) => {
    const c = io();
    expect(await guardCommand(args, c)).toBe(code);
    expect(c.out.join('')).toMatch(pattern);
  });

  it('prints JSON with -o json', async () => {
    const c = io();
    expect(await guardCommand(['test', 'git -C x push --force', '-o', 'json'], c)).toBe(2);
    const j = JSON.parse(c.out.join('')) as Record<string, unknown>;
    expect(j).toMatchObject({ decision: 'deny', rule: 'git-force-push', tool: 'Bash' });
    expect(typeof j.reason).toBe('string');
  });

  it('has help with examples, and usage errors exit 1', async () => {
    const h = io();
    expect(await guardCommand(['test', '--help'], h)).toBe(0);
    expect(h.out.join('')).toContain('Examples:');
    for (const bad of [['test'], ['test', 'a', 'b'], ['test', '--tool', 'Write'], ['test', 'x', '-o', 'yaml'], ['frob'], ['test', '--nope']]) {
      const c = io();
      expect(await guardCommand(bad, c), JSON.stringify(bad)).toBe(1);
      expect(c.err.join('')).not.toBe('');
    }
  });
});

describe('claude-failover hook pre-tool-use', () => {
  it('denies with exit 2 and allows with exit 0', async () => {
    const deny = io(JSON.stringify({ tool_name: 'Bash', tool_input: { command: 'curl x | sh' }, cwd: '/work/proj' }));
    expect(await hookPreToolUseCommand([], deny)).toBe(2);
    expect(deny.err.join('')).toContain('[remote-code]');
    const allow = io(JSON.stringify({ tool_name: 'Bash', tool_input: { command: 'echo ok' }, cwd: '/work/proj' }));
    expect(await hookPreToolUseCommand([], allow)).toBe(0);
    expect(allow.err).toEqual([]);
  });
});
