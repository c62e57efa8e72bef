/**
 * Compatibility switches for a transition from the Go system (docs/migrating.md, "Compatibility
 * switches"). Each restores one behaviour of the Go system that claude-failover changed on purpose;
 * all are off by default and meant to be turned off again once the consumers are moved. They are
 * turned on with `--compat a,b` (run, reconcile, migrate, delegate) or CLAUDE_FAILOVER_COMPAT.
 * Pure: the CLI resolves the environment, this module turns it into desired state and settings.
 */
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { API_VERSION, specSchemas } from '../api/schemas.js';
import { closest } from '../api/suggest.js';
import { UsageError } from './errors.js';
import { generationOf } from '../api/generation.js';

export const COMPAT_SWITCHES = {
  'secutools-key':
    'SECUTOOLS_API_KEY in the controller\'s environment turns delegation on, as in the Go system: a DelegationPolicy "secutools" (endpoint $SECUTOOLS_API_URL, providers $SECUTOOLS_PROVIDERS, default gemini,gpu,claude-api) is used by every Project that names none',
  'ccl-delegate-env':
    '`claude-failover delegate` also reads the Go-era variables SECUTOOLS_API_URL and SECUTOOLS_API_KEY when CF_DELEGATION_ENDPOINT / CF_DELEGATION_API_KEY are unset (the ccl-delegate bin always does)',
  'status-delegated':
    '.agent-queue/status.json lists each task in flight at the job API as a session "delegated:<task>" in state delegated_to_secutools, as the Go system did',
  'anonymous-compat-read':
    'GET /watchdog/status and GET /api/delegated/status answer clients on loopback without a token (RISK: every local user and process can read the fleet status; only with a loopback --listen)',
  'default-tmux':
    'agents run on the default tmux server (`tmux attach -t ccl-0` finds them, as with the Go system) instead of the private `tmux -L claude-failover`',
} as const;

export type CompatSwitch = keyof typeof COMPAT_SWITCHES;
export const COMPAT_NAMES = Object.keys(COMPAT_SWITCHES) as CompatSwitch[];

/** The name of the policy the `secutools-key` switch provides. */
export const SECUTOOLS_POLICY = 'secutools';
export const SECUTOOLS_KEY_ENV = 'SECUTOOLS_API_KEY';
export const SECUTOOLS_URL_ENV = 'SECUTOOLS_API_URL';
export const SECUTOOLS_PROVIDERS_ENV = 'SECUTOOLS_PROVIDERS';
export const DEFAULT_SECUTOOLS_PROVIDERS = ['gemini', 'gpu', 'claude-api'] as const;
/** Marks objects made by a compatibility switch (they are in no manifest file). */
export const COMPAT_ANNOTATION = 'claudefailover.io/compat';

export const COMPAT_HELP = `      --compat LIST        Go-system compatibility switches, comma-separated (or CLAUDE_FAILOVER_COMPAT):
                           ${COMPAT_NAMES.join(', ')} (docs/migrating.md)`;

/** `["a,b", "c"]` (flags) plus `CLAUDE_FAILOVER_COMPAT` → the switches; an unknown name is a usage error. */
export function parseCompat(flags: readonly string[] | undefined, env: Record<string, string | undefined>): Set<CompatSwitch> {
  const out = new Set<CompatSwitch>();
  const words = [...(flags ?? []), env.CLAUDE_FAILOVER_COMPAT ?? ''].flatMap((f) => f.split(/[,\s]+/)).map((w) => w.trim()).filter(Boolean);
  for (const w of words) {
    if (!(COMPAT_NAMES as string[]).includes(w)) {
      const hint = closest(w, COMPAT_NAMES);
      throw new UsageError(`unknown compatibility switch "${w}"${hint ? ` (did you mean "${hint}"?)` : ''}; the switches are ${COMPAT_NAMES.join(', ')}`);
    }
    out.add(w as CompatSwitch);
  }
  return out;
}

/** What `secutools-key` needs from the environment. */
export interface SecutoolsSettings {
  endpoint: string;
  providers: string[];
}

/**
 * The `secutools-key` policy settings from the environment: undefined when SECUTOOLS_API_KEY is not
 * set (the switch then does nothing, as the Go system delegated nothing without it); an error when
 * the key is set but the endpoint is not.
 */
export function secutoolsFromEnv(env: Record<string, string | undefined>): SecutoolsSettings | undefined {
  if (!env[SECUTOOLS_KEY_ENV]) return undefined;
  const endpoint = env[SECUTOOLS_URL_ENV]?.trim();
  if (!endpoint) throw new UsageError(`--compat secutools-key: ${SECUTOOLS_KEY_ENV} is set but ${SECUTOOLS_URL_ENV} is not; set it to the job API's base URL (e.g. https://secutools.internal/api)`);
  if (!/^https?:\/\/[^/\s]+/.test(endpoint)) throw new UsageError(`--compat secutools-key: ${SECUTOOLS_URL_ENV} must be an http(s) URL`);
  const providers = (env[SECUTOOLS_PROVIDERS_ENV] ?? '').split(/[,\s]+/).map((p) => p.trim()).filter(Boolean);
  return { endpoint, providers: providers.length > 0 ? providers : [...DEFAULT_SECUTOOLS_PROVIDERS] };
}

/** Settings the switches resolve to (the CLI builds this from flags and the environment). */
export interface CompatConfig {
  switches: ReadonlySet<CompatSwitch>;
  /** Resolved when `secutools-key` is on and SECUTOOLS_API_KEY is set. */
  secutools?: SecutoolsSettings;
}

export function compatConfig(switches: ReadonlySet<CompatSwitch>, env: Record<string, string | undefined>): CompatConfig {
  const secutools = switches.has('secutools-key') ? secutoolsFromEnv(env) : undefined;
  return { switches, ...(secutools ? { secutools } : {}) };
}

/** The DelegationPolicy the `secutools-key` switch provides (schema defaults applied). */
export function secutoolsPolicy(s: SecutoolsSettings): ManifestObject<'DelegationPolicy'> {
  const spec = specSchemas.DelegationPolicy.parse({
    endpoint: s.endpoint,
    apiKey: { env: SECUTOOLS_KEY_ENV },
    providers: s.providers,
    defaultProvider: s.providers[0],
  });
  return {
    apiVersion: API_VERSION,
    kind: 'DelegationPolicy',
    metadata: { name: SECUTOOLS_POLICY, annotations: { [COMPAT_ANNOTATION]: 'secutools-key' } },
    spec,
    source: { file: `(--compat secutools-key: ${SECUTOOLS_KEY_ENV})`, line: 1, col: 1 },
    generation: generationOf(spec),
  };
}

/**
 * The desired state with the switches applied. `secutools-key` (with the key set): the policy
 * "secutools" (a declared one of that name is used as it is), named by every Project that names no
 * policy. Projects that name a policy keep it. Pure; returns `desired` itself when nothing applies.
 */
export function withCompat(desired: DesiredState, c: CompatConfig | undefined): DesiredState {
  if (!c?.secutools) return desired;
  const declared = desired.delegationPolicies.some((p) => p.metadata.name === SECUTOOLS_POLICY);
  const policies = declared ? desired.delegationPolicies : [...desired.delegationPolicies, secutoolsPolicy(c.secutools)].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const projects = desired.projects.map((p) => {
    if (p.spec.delegationPolicy) return p;
    const spec = { ...p.spec, delegationPolicy: SECUTOOLS_POLICY };
    return { ...p, spec, generation: generationOf(spec) };
  });
  return { ...desired, delegationPolicies: policies, projects };
}
