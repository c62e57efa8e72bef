/**
 * Secret references (`{env: NAME}` or `{file: PATH}`, see `secretRefSchema`) resolved to their value.
 *
 * - The value is read at the moment it is needed, so a rotated file or a restarted environment is
 *   picked up without reloading the manifests.
 * - A file's trailing line break(s) (`\n`, `\r\n`) are removed; other whitespace is kept.
 * - Failures are {@link SecretError}s (code `CF_ERR_SECRET`) whose message names the environment
 *   variable or the file, never the value (nor any part of the file's content).
 * - Paths are used as given: the manifest loader has already resolved `~/` and relative paths.
 */
import { open } from 'node:fs/promises';
import type { SecretRef } from '../api/schemas.js';
import { CfError } from '../core/errors.js';

export type SecretProblem = 'EnvUnset' | 'EnvEmpty' | 'FileMissing' | 'FileUnreadable' | 'FileEmpty' | 'FileTooLarge' | 'NotAFile';

/** A secret could not be resolved. The message names the reference, never the value. */
export class SecretError extends CfError {
  readonly problem: SecretProblem;
  /** The reference (names only: it never holds a value). */
  readonly ref: SecretRef;
  constructor(problem: SecretProblem, ref: SecretRef, message: string) {
    super('CF_ERR_SECRET', message);
    this.problem = problem;
    this.ref = ref;
  }
}

/** The environment the controller reads secrets from (`process.env` in the daemon). */
export type SecretEnv = Readonly<Record<string, string | undefined>>;

/** Secrets are small (tokens, keys); a larger file is a mistake (wrong path), not a secret. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** A human description of the reference, safe for logs: `env CF_TG_TOKEN`, `file /etc/cf/tg-token`. */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/** Removes trailing line breaks only (an editor's final newline), nothing else. */
export function trimTrailingNewlines(text: string): string {
  return text.replace(/(?:\r?\n)+$/, '');
}

/** Resolves `ref` to the secret's value. Rejects with a {@link SecretError}. */
export async function resolveSecret(ref: SecretRef, env: SecretEnv = process.env): Promise<string> {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined) throw new SecretError('EnvUnset', ref, `secret environment variable ${ref.env} is not set`);
    if (value === '') throw new SecretError('EnvEmpty', ref, `secret environment variable ${ref.env} is empty`);
    return value;
  }
  const path = ref.file;
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new SecretError('NotAFile', ref, `secret file ${path} is not a regular file`);
      if (st.size > MAX_SECRET_FILE_BYTES) throw new SecretError('FileTooLarge', ref, `secret file ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes: wrong path?`);
      text = await fh.readFile({ encoding: 'utf8' });
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof SecretError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw new SecretError('FileMissing', ref, `secret file ${path} does not exist`);
    if (code === 'EISDIR') throw new SecretError('NotAFile', ref, `secret file ${path} is not a regular file`);
    // Only the errno code: a lower layer's message could in theory quote content.
    throw new SecretError('FileUnreadable', ref, `cannot read secret file ${path}: ${code ?? 'error'}`);
  }
  const value = trimTrailingNewlines(text);
  if (value === '') throw new SecretError('FileEmpty', ref, `secret file ${path} is empty`);
  return value;
}
