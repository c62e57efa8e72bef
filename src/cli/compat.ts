/** The `--compat` flag of run, reconcile, migrate and delegate (switches: src/core/compat.ts). */
import { compatConfig, parseCompat, type CompatConfig } from '../core/compat.js';
import type { OptionSpec } from './args.js';

export const COMPAT_OPTION = { compat: { type: 'string', multiple: true } } as const satisfies OptionSpec;

/** The switches from `--compat` and CLAUDE_FAILOVER_COMPAT, resolved against the environment. */
export function compatFrom(values: { compat?: string[] }, env: NodeJS.ProcessEnv): CompatConfig {
  return compatConfig(parseCompat(values.compat, env), env);
}

/** `--tmux-socket` when given; else the default tmux server with `default-tmux` (`-L default` is it). */
export function tmuxSocketFor(flag: string | undefined, c: CompatConfig): string | undefined {
  return flag ?? (c.switches.has('default-tmux') ? 'default' : undefined);
}

/** One line per switch that is on, for the log and the plan's notes. */
export function compatSummary(c: CompatConfig): string[] {
  return [...c.switches].map((s) => (s === 'secutools-key' ? `secutools-key (${c.secutools ? `policy "secutools" on ${c.secutools.endpoint}` : 'SECUTOOLS_API_KEY not set: no effect'})` : s));
}
