import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/router.js';
import type { RouteRule, RouterPolicy, RouterProject } from '../../src/core/router.js';
import type { TaskFrontmatter } from '../../src/core/task.js';

const policy: RouterPolicy = { name: 'secutools', providers: ['gemini', 'GPU', 'claude-api'], defaultProvider: 'gemini' };
const withPolicy: RouterProject = { name: 'web', delegationPolicy: 'secutools' };
const noPolicy: RouterProject = { name: 'web' };

type Fm = Pick<TaskFrontmatter, 'needs_claude_code' | 'preferred_ai' | 'allow_delegation'>;

describe('decide: one row per rule', () => {
  const rows: { fm: Fm; project?: RouterProject; policy?: RouterPolicy | undefined; route: 'local' | 'delegate'; rule: RouteRule; provider?: string }[] = [
    { fm: {}, route: 'local', rule: 'plain-local' },
    { fm: { needs_claude_code: true }, route: 'local', rule: 'needs-claude-code' },
    { fm: { needs_claude_code: false }, route: 'local', rule: 'plain-local' },
    { fm: { preferred_ai: 'claude-code' }, route: 'local', rule: 'prefers-claude-code' },
    { fm: { preferred_ai: 'Claude-Code' }, route: 'local', rule: 'prefers-claude-code' },
    { fm: { allow_delegation: false }, route: 'local', rule: 'delegation-disallowed' },
    { fm: { preferred_ai: 'gemini' }, route: 'delegate', rule: 'preferred-provider', provider: 'gemini' },
    { fm: { preferred_ai: 'gpu' }, route: 'delegate', rule: 'preferred-provider', provider: 'GPU' },
    { fm: { preferred_ai: 'openai' }, route: 'local', rule: 'unknown-provider' },
    { fm: { preferred_ai: 'gemini' }, project: noPolicy, route: 'local', rule: 'no-policy' },
    { fm: { preferred_ai: 'gemini' }, policy: undefined, route: 'local', rule: 'no-policy' },
    { fm: { preferred_ai: 'gemini' }, policy: { ...policy, name: 'other' }, route: 'local', rule: 'no-policy' },
    { fm: { allow_delegation: true }, route: 'delegate', rule: 'default-provider', provider: 'gemini' },
    { fm: { allow_delegation: true }, policy: { name: 'secutools', providers: ['gpu'] }, route: 'local', rule: 'unknown-provider' },
    { fm: { allow_delegation: true }, policy: { name: 'secutools', providers: ['gpu'], defaultProvider: 'gemini' }, route: 'local', rule: 'unknown-provider' },
    { fm: { allow_delegation: true }, project: noPolicy, route: 'local', rule: 'no-policy' },
    { fm: { allow_delegation: true, preferred_ai: 'gpu' }, route: 'delegate', rule: 'preferred-provider', provider: 'GPU' },
    { fm: { preferred_ai: 'gemini' }, policy: { name: 'secutools', providers: [] }, route: 'local', rule: 'unknown-provider' },
  ];
  for (const r of rows) {
    const project = r.project ?? withPolicy;
    const pol = 'policy' in r ? r.policy : policy;
    it(`${JSON.stringify(r.fm)} project=${project.delegationPolicy ?? '-'} policy=${pol?.name ?? '-'} → ${r.route} (${r.rule})`, () => {
      const d = decide({ frontmatter: r.fm }, project, pol);
      expect(d.route).toBe(r.route);
      expect(d.rule).toBe(r.rule);
      expect(d.provider).toBe(r.provider);
      expect(d.reason.length).toBeGreaterThan(5);
    });
  }
});

describe('decide: precedence over every combination', () => {
  // The full product of the routing inputs, checked against the precedence written out by hand.
  const needs = [undefined, true, false] as const;
  const preferred = [undefined, 'claude-code', 'gemini', 'openai'] as const;
  const allow = [undefined, true, false] as const;
  const projects = [withPolicy, noPolicy] as const;
  const expected = (fm: Fm, project: RouterProject): RouteRule => {
    if (fm.needs_claude_code === true) return 'needs-claude-code';
    if (fm.preferred_ai === 'claude-code') return 'prefers-claude-code';
    if (fm.allow_delegation === false) return 'delegation-disallowed';
    if (fm.preferred_ai === undefined && fm.allow_delegation !== true) return 'plain-local';
    if (!project.delegationPolicy) return 'no-policy';
    if (fm.preferred_ai === 'gemini') return 'preferred-provider';
    if (fm.preferred_ai === 'openai') return 'unknown-provider';
    return 'default-provider';
  };
  let n = 0;
  for (const a of needs)
    for (const p of preferred)
      for (const d of allow)
        for (const project of projects) {
          const fm: Fm = {};
          if (a !== undefined) fm.needs_claude_code = a;
          if (p !== undefined) fm.preferred_ai = p;
          if (d !== undefined) fm.allow_delegation = d;
          n++;
          it(`combination ${n}: ${JSON.stringify(fm)} ${project.delegationPolicy ?? 'no policy'}`, () => {
            const got = decide({ frontmatter: fm }, project, policy);
            const rule = expected(fm, project);
            expect(got.rule).toBe(rule);
            expect(got.route).toBe(rule === 'preferred-provider' || rule === 'default-provider' ? 'delegate' : 'local');
            if (got.route === 'local') expect(got.provider).toBeUndefined();
          });
        }
  it('covers 72 combinations', () => {
    expect(n).toBe(72);
  });
});

describe('decide: fail-safe properties', () => {
  it('needs_claude_code wins even over an allowed provider', () => {
    expect(decide({ frontmatter: { needs_claude_code: true, preferred_ai: 'gemini', allow_delegation: true } }, withPolicy, policy).route).toBe('local');
  });
  it('whitespace around the provider name is ignored; empty means absent', () => {
    expect(decide({ frontmatter: { preferred_ai: '  gemini ' } }, withPolicy, policy).provider).toBe('gemini');
    expect(decide({ frontmatter: { preferred_ai: '  ' } }, withPolicy, policy).rule).toBe('plain-local');
  });
});
