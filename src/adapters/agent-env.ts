/**
 * The environment agents get. The tmux server the controller starts, and every pane it launches,
 * run with an explicit environment built here — never the controller's own, which may hold the
 * secrets it reads (`{env: NAME}` references of DelegationPolicies and Notifiers, the API token).
 *
 * What passes from the controller's environment is a fixed allowlist of what a program needs to
 * run as its user on this host: PATH, HOME, the user and shell, the locale, the time zone, the
 * temp dirs, the XDG base directories, and the proxy/CA settings Claude Code needs to reach the
 * API. Everything else a session needs is declared in its manifest (`spec.env`); the controller
 * adds CLAUDE_CONFIG_DIR, and tmux adds its own TERM, TMUX and TMUX_PANE. See docs/security.md.
 */
import { homedir } from 'node:os';
import type { DesiredState } from '../api/objects.js';
import type { SecretRef } from '../api/schemas.js';

/** Variables passed from the controller's environment to the tmux server and to agents. */
export const AGENT_ENV_NAMES: readonly string[] = [
  'PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL',
  'LANG', 'LANGUAGE', 'TZ',
  'TMPDIR', 'TMUX_TMPDIR',
  'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR',
  'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy',
  'NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR',
];

/** Locale categories (`LC_ALL`, `LC_CTYPE`, …) pass too. */
const AGENT_ENV_PREFIX = /^LC_[A-Z_]+$/;

/** Set by tmux for each pane; a Session's `env` may not declare them. */
export const TMUX_OWN_ENV: readonly string[] = ['TMUX', 'TMUX_PANE'];

/** Whether the variable `name` passes from the controller's environment to agents. */
export function isAgentEnvName(name: string): boolean {
  return AGENT_ENV_NAMES.includes(name) || AGENT_ENV_PREFIX.test(name);
}

/** Used when the controller itself runs without PATH (a bare `env -i` or a unit without Environment=PATH). */
export const DEFAULT_AGENT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The allowlisted part of `env` (empty values are dropped). PATH and HOME are always there: the
 * controller's, else a default PATH and the user's home directory.
 */
export function agentBaseEnv(env: Readonly<Record<string, string | undefined>> = process.env, home: () => string = homedir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && isAgentEnvName(k)) out[k] = v;
  out.PATH ??= DEFAULT_AGENT_PATH;
  out.HOME ??= home();
  return out;
}

/** Variable names the controller reads secrets from: the manifests' `{env: NAME}` references and the CLI's token variable. */
export function secretEnvNames(desired: DesiredState): string[] {
  const refs: (SecretRef | undefined)[] = [];
  for (const p of desired.delegationPolicies) refs.push(p.spec.apiKey);
  for (const n of desired.notifiers) refs.push(n.spec.telegram?.botToken, n.spec.webhook?.secret);
  const names = new Set<string>(['CLAUDE_FAILOVER_TOKEN']);
  for (const r of refs) if (r && 'env' in r) names.add(r.env);
  return [...names].sort();
}
