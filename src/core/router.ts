/**
 * The router: where a task runs. One pure function with a strict precedence (the rules below and
 * docs/delegation-api.md, "Which tasks are delegated"); it
 * returns the decision and the rule that fired, so `delegate decide`, the plan and the logs can
 * say why. Fail-safe: whenever delegation is not clearly asked for and allowed, the task is local.
 */
import type { TaskFrontmatter } from './task.js';

/** What the router needs of a task: its routing fields. */
export interface RoutableTask {
  id?: string;
  frontmatter: Pick<TaskFrontmatter, 'needs_claude_code' | 'preferred_ai' | 'allow_delegation' | 'complexity_hint'>;
}

/** What the router needs of a Project (mapped from the API object by the controller). */
export interface RouterProject {
  name: string;
  /** Name of the project's DelegationPolicy, when it has one. */
  delegationPolicy?: string;
}

/** What the router needs of a DelegationPolicy. */
export interface RouterPolicy {
  name: string;
  /** Providers tasks may be delegated to. */
  providers: readonly string[];
  defaultProvider?: string;
}

export type RouteRule =
  /** needs_claude_code: true */
  | 'needs-claude-code'
  /** preferred_ai: claude-code */
  | 'prefers-claude-code'
  /** allow_delegation: false */
  | 'delegation-disallowed'
  /** preferred_ai names a provider the project's policy allows */
  | 'preferred-provider'
  /** allow_delegation: true, no preferred_ai, the policy has a defaultProvider it allows */
  | 'default-provider'
  /** preferred_ai names a provider the policy does not allow */
  | 'unknown-provider'
  /** delegation asked for, but the project has no (resolvable) policy */
  | 'no-policy'
  /** no routing fields: the plain local behaviour */
  | 'plain-local';

export interface RouteDecision {
  route: 'local' | 'delegate';
  /** Set when route = delegate: the provider name as spelled in the policy. */
  provider?: string;
  rule: RouteRule;
  reason: string;
}

/** The name that always means "a local Claude Code session". Compared case-insensitively. */
export const LOCAL_AI = 'claude-code';

const norm = (s: string) => s.trim().toLowerCase();

/**
 * Decides where a task runs. Precedence, first match wins:
 * 1. `needs_claude_code: true` → local
 * 2. `preferred_ai: claude-code` → local
 * 3. `allow_delegation: false` → local
 * 4. `preferred_ai: <provider>` and the project's policy allows it → delegate to it
 *    (no policy → local `no-policy`; provider not allowed → local `unknown-provider`)
 * 5. `allow_delegation: true` without `preferred_ai`, and the policy has a `defaultProvider`
 *    that it allows → delegate to it (otherwise local)
 * 6. nothing of the above → local (`plain-local`).
 * `policy` is used only when it is the project's policy (same name); anything else counts as no
 * policy. Provider names compare case-insensitively.
 */
export function decide(task: RoutableTask, project: RouterProject, policy: RouterPolicy | undefined): RouteDecision {
  const fm = task.frontmatter;
  if (fm.needs_claude_code === true) {
    return { route: 'local', rule: 'needs-claude-code', reason: 'needs_claude_code is true' };
  }
  const preferred = fm.preferred_ai !== undefined && fm.preferred_ai.trim() !== '' ? fm.preferred_ai.trim() : undefined;
  if (preferred !== undefined && norm(preferred) === LOCAL_AI) {
    return { route: 'local', rule: 'prefers-claude-code', reason: `preferred_ai is ${LOCAL_AI}` };
  }
  if (fm.allow_delegation === false) {
    return { route: 'local', rule: 'delegation-disallowed', reason: 'allow_delegation is false' };
  }
  const wantsDelegation = preferred !== undefined || fm.allow_delegation === true;
  if (!wantsDelegation) {
    return { route: 'local', rule: 'plain-local', reason: 'no routing fields ask for delegation' };
  }
  const activePolicy = project.delegationPolicy !== undefined && policy !== undefined && policy.name === project.delegationPolicy ? policy : undefined;
  if (!activePolicy) {
    const why =
      project.delegationPolicy === undefined
        ? `project ${project.name} has no delegationPolicy`
        : `delegationPolicy ${project.delegationPolicy} of project ${project.name} is not available`;
    return { route: 'local', rule: 'no-policy', reason: `${preferred !== undefined ? `preferred_ai is ${preferred} but ` : 'allow_delegation is true but '}${why}; running locally` };
  }
  const allowed = (name: string) => activePolicy.providers.find((p) => norm(p) === norm(name));
  if (preferred !== undefined) {
    const provider = allowed(preferred);
    if (provider !== undefined) {
      return { route: 'delegate', provider, rule: 'preferred-provider', reason: `preferred_ai ${preferred} is allowed by policy ${activePolicy.name}` };
    }
    return {
      route: 'local',
      rule: 'unknown-provider',
      reason: `preferred_ai ${preferred} is not a provider of policy ${activePolicy.name} (${activePolicy.providers.join(', ') || 'none'}); running locally`,
    };
  }
  // allow_delegation: true, no preferred_ai.
  const dflt = activePolicy.defaultProvider !== undefined ? allowed(activePolicy.defaultProvider) : undefined;
  if (dflt !== undefined) {
    return { route: 'delegate', provider: dflt, rule: 'default-provider', reason: `allow_delegation is true; default provider ${dflt} of policy ${activePolicy.name}` };
  }
  return {
    route: 'local',
    rule: 'unknown-provider',
    reason: `allow_delegation is true but policy ${activePolicy.name} has no allowed defaultProvider; running locally`,
  };
}
