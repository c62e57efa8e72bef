/** Command-line parsing on node:util parseArgs, with usage errors that say what to do. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../core/errors.js';
import { closest } from '../api/suggest.js';
import { parseDuration } from '../api/duration.js';
import { resolve } from 'node:path';
import { defaultStateDir } from '../adapters/state-store.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<V> {
  values: V;
  positionals: string[];
}

export function parse<V = Record<string, string | boolean | string[] | undefined>>(args: string[], options: OptionSpec, opts: { allowPositionals?: boolean } = {}): Parsed<V> {
  try {
    const r = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, allowPositionals: opts.allowPositionals ?? false, strict: true });
    return { values: r.values as V, positionals: r.positionals };
  } catch (err) {
    const msg = (err as Error).message;
    const unknown = /Unknown option '(--?[^']+)'/.exec(msg)?.[1];
    if (unknown) {
      const names = Object.entries({ help: { short: 'h' }, ...options }).flatMap(([k, v]) => [`--${k}`, ...((v as { short?: string }).short ? [`-${(v as { short?: string }).short}`] : [])]);
      const hint = closest(unknown, names);
      throw new UsageError(`unknown option ${unknown}${hint ? ` (did you mean ${hint}?)` : ''}`);
    }
    throw new UsageError(msg.replace(/\. To specify a positional argument.*$/s, ''));
  }
}

export function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], def: T): T {
  if (value === undefined) return def;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
}

export function requireFiles(files: string[] | undefined, io: { env: NodeJS.ProcessEnv }): string[] {
  if (files && files.length > 0) return files;
  const fromEnv = io.env.CLAUDE_FAILOVER_MANIFESTS;
  if (fromEnv) return fromEnv.split(':').filter(Boolean);
  throw new UsageError('no manifests given: pass -f PATH (a file or directory; repeatable) or set CLAUDE_FAILOVER_MANIFESTS');
}

/**
 * The state directory: `--state-dir`, else CLAUDE_FAILOVER_STATE_DIR or the default, always made
 * absolute against the command's working directory before anything is planned (it ends up in
 * every session's `--settings` path and hook commands, which run in the project directory).
 */
export function stateDirOf(value: string | undefined, io: { env: NodeJS.ProcessEnv; cwd: string }): string {
  return resolve(io.cwd, value ?? defaultStateDir(io.env));
}

/** Common manifest/state/tmux options. */
export const COMMON = {
  filename: { type: 'string', short: 'f', multiple: true },
  'state-dir': { type: 'string' },
  'tmux-socket': { type: 'string' },
} as const satisfies OptionSpec;

/** Pool behaviour flags shared by `run` and `reconcile`. */
export const POOL = {
  'min-dwell': { type: 'string' },
  'failover-grace': { type: 'string' },
} as const satisfies OptionSpec;

export const POOL_HELP = `      --min-dwell DURATION     Minimum time on an account before a discretionary switch (failback to a
                               preferred account); default 10m. Leaving an account over its threshold,
                               exhausted, suspended or invalid is never held by it
      --failover-grace DURATION How long a working session may finish its turn before failover moves it; default 2m`;

export function poolOptions(values: { 'min-dwell'?: string; 'failover-grace'?: string }): { minDwellMs?: number; failoverGraceMs?: number } {
  const out: { minDwellMs?: number; failoverGraceMs?: number } = {};
  for (const [flag, field] of [['min-dwell', 'minDwellMs'], ['failover-grace', 'failoverGraceMs']] as const) {
    const v = values[flag];
    if (v === undefined) continue;
    const ms = parseDuration(v);
    if (ms === undefined) throw new UsageError(`--${flag} must be a duration, e.g. 90s, 10m`);
    out[field] = ms;
  }
  return out;
}
