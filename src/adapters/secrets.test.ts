import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretError, describeSecretRef, resolveSecret, trimTrailingNewlines, type SecretProblem } from './secrets.js';

const VALUE = 'tg-123456:SECRET-VALUE-xyz';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cf-secrets-'));
  await writeFile(join(dir, 'lf'), `${VALUE}\n`);
  await writeFile(join(dir, 'crlf'), `${VALUE}\r\n`);
  await writeFile(join(dir, 'many'), `${VALUE}\n\n\n`);
  await writeFile(join(dir, 'bare'), VALUE);
  await writeFile(join(dir, 'inner-space'), ` ${VALUE} \n`);
  await writeFile(join(dir, 'empty'), '\n');
  await writeFile(join(dir, 'big'), 'x'.repeat(70 * 1024));
  await writeFile(join(dir, 'unreadable'), VALUE);
  await chmod(join(dir, 'unreadable'), 0o000);
  await mkdir(join(dir, 'a-dir'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trimTrailingNewlines', () => {
  it.each([
    ['abc\n', 'abc'],
    ['abc\r\n', 'abc'],
    ['abc\n\r\n\n', 'abc'],
    ['abc', 'abc'],
    [' abc \n', ' abc '],
    ['a\nb\n', 'a\nb'],
    ['abc\t', 'abc\t'],
  ])('%j → %j', (input, want) => {
    expect(trimTrailingNewlines(input)).toBe(want);
  });
});

describe('resolveSecret from the environment', () => {
  it('returns the variable', async () => {
    await expect(resolveSecret({ env: 'CF_TEST_TOKEN' }, { CF_TEST_TOKEN: VALUE })).resolves.toBe(VALUE);
  });
  it('keeps the value exactly (no trimming for env)', async () => {
    await expect(resolveSecret({ env: 'X' }, { X: `${VALUE}\n` })).resolves.toBe(`${VALUE}\n`);
  });
  it.each([
    [{}, 'EnvUnset', 'is not set'],
    [{ CF_TEST_TOKEN: '' }, 'EnvEmpty', 'is empty'],
  ] as const)('%j → %s', async (env, problem, text) => {
    const err = await resolveSecret({ env: 'CF_TEST_TOKEN' }, env).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretError);
    const se = err as SecretError;
    expect(se.code).toBe('CF_ERR_SECRET');
    expect(se.problem).toBe(problem);
    expect(se.message).toContain('CF_TEST_TOKEN');
    expect(se.message).toContain(text);
  });
  it('defaults to process.env', async () => {
    process.env.CF_SECRETS_TEST_DEFAULT = VALUE;
    try {
      await expect(resolveSecret({ env: 'CF_SECRETS_TEST_DEFAULT' })).resolves.toBe(VALUE);
    } finally {
      delete process.env.CF_SECRETS_TEST_DEFAULT;
    }
  });
});

describe('resolveSecret from a file', () => {
  it.each([
    ['lf', VALUE],
    ['crlf', VALUE],
    ['many', VALUE],
    ['bare', VALUE],
    ['inner-space', ` ${VALUE} `],
  ])('%s → value with trailing newlines trimmed', async (name, want) => {
    await expect(resolveSecret({ file: join(dir, name) }, {})).resolves.toBe(want);
  });

  const failures: [string, SecretProblem][] = [
    ['missing', 'FileMissing'],
    ['empty', 'FileEmpty'],
    ['big', 'FileTooLarge'],
    ['a-dir', 'NotAFile'],
  ];
  if (process.getuid?.() !== 0) failures.push(['unreadable', 'FileUnreadable']);
  it.each(failures)('%s → %s, naming the file, never the content', async (name, problem) => {
    const path = join(dir, name);
    const err = await resolveSecret({ file: path }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretError);
    const se = err as SecretError;
    expect(se.code).toBe('CF_ERR_SECRET');
    expect(se.problem).toBe(problem);
    expect(se.message).toContain(path);
    expect(se.message).not.toContain(VALUE);
    expect(se.message).not.toContain('xxxx');
    expect(JSON.stringify({ ...se, message: se.message })).not.toContain(VALUE);
  });
});

describe('describeSecretRef', () => {
  it.each([
    [{ env: 'TG_TOKEN' }, 'environment variable TG_TOKEN'],
    [{ file: '/etc/cf/token' }, 'file /etc/cf/token'],
  ])('%j → %s', (ref, want) => {
    expect(describeSecretRef(ref)).toBe(want);
  });
});
