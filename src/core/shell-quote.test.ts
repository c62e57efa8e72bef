import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shellQuote } from './shell-quote.js';

const CASES: [string, string, string][] = [
  ['a plain word', 'claude', 'claude'],
  ['an absolute path', '/usr/bin/node', '/usr/bin/node'],
  ['an option with a value', '--state-dir=/var/lib/cf', '--state-dir=/var/lib/cf'],
  ['every plain punctuation', 'a@b%c+d=e:f,g.h/i-j_k', 'a@b%c+d=e:f,g.h/i-j_k'],
  ['the empty string', '', "''"],
  ['a space', 'my project', "'my project'"],
  ['a single quote', "it's", "'it'\\''s'"],
  ['only a single quote', "'", "''\\'''"],
  ['double quotes', 'say "hi"', `'say "hi"'`],
  ['a newline', 'line 1\nline 2', "'line 1\nline 2'"],
  ['a tab', 'a\tb', "'a\tb'"],
  ['non-ASCII', 'résumé ✓ 日本語', "'résumé ✓ 日本語'"],
  ['non-ASCII letters only', 'café', "'café'"],
  ['expansions', '$HOME `id` $(id) ${x}', "'$HOME `id` $(id) ${x}'"],
  ['globs and history', '*.md ?x [a] !1', "'*.md ?x [a] !1'"],
  ['a backslash', 'a\\b', "'a\\b'"],
  ['a tilde', '~/x', "'~/x'"],
  ['operators', 'a;b&&c|d>e<f', "'a;b&&c|d>e<f'"],
  ['a comment sign', '#x', "'#x'"],
  ['an assignment-shaped word', 'PATH=/tmp', "'PATH=/tmp'"],
  ['a leading = (no assignment)', '=x', '=x'],
  ['a path with = (no assignment)', '/opt/a=b', '/opt/a=b'],
];

describe('shellQuote', () => {
  it.each(CASES)('%s', (_name, word, want) => {
    expect(shellQuote(word)).toBe(want);
  });

  const shells = ['/bin/sh', '/bin/bash', '/bin/dash'].filter((s) => existsSync(s));
  it.each(shells)('%s reads every quoted word back exactly', (shell) => {
    for (const [, word] of CASES) {
      const r = spawnSync(shell, ['-c', `printf '%s' ${shellQuote(word)}`], { encoding: 'utf8', env: { HOME: '/home/nobody', PATH: process.env.PATH } });
      expect(r.status, word).toBe(0);
      expect(r.stdout, word).toBe(word);
    }
  });

  it.each(shells)('%s runs an assignment-shaped first word as a command, not an assignment', (shell) => {
    const r = spawnSync(shell, ['-c', `${shellQuote('CF_X=1')}; echo "[$CF_X]"`], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.stdout).toBe('[]\n');
    expect(r.stderr).toMatch(/not found/);
  });
});
