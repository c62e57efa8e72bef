import { describe, expect, it } from 'vitest';
import { desiredFromObjects, type AnyObject } from '../api/objects.js';
import { specSchemas } from '../api/schemas.js';
import { compatConfig, parseCompat, secutoolsFromEnv, withCompat, COMPAT_ANNOTATION } from './compat.js';
import { generationOf } from '../api/generation.js';
import { UsageError } from './errors.js';

describe('parseCompat', () => {
  const cases: [string, string[] | undefined, string | undefined, string[] | RegExp][] = [
    ['nothing', undefined, undefined, []],
    ['one flag', ['default-tmux'], undefined, ['default-tmux']],
    ['comma list and repeated flags', ['secutools-key,status-delegated', 'default-tmux'], undefined, ['secutools-key', 'status-delegated', 'default-tmux']],
    ['the environment adds to the flags', ['default-tmux'], 'anonymous-compat-read ccl-delegate-env', ['default-tmux', 'anonymous-compat-read', 'ccl-delegate-env']],
    ['duplicates once', ['default-tmux,default-tmux'], 'default-tmux', ['default-tmux']],
    ['unknown name: did you mean', ['status-delegate'], undefined, /unknown compatibility switch "status-delegate" \(did you mean "status-delegated"\?\)/],
    ['no "all"', ['all'], undefined, /unknown compatibility switch "all"/],
  ];
  it.each(cases)('%s', (_n, flags, env, want) => {
    if (want instanceof RegExp) {
      expect(() => parseCompat(flags, { CLAUDE_FAILOVER_COMPAT: env })).toThrow(UsageError);
      expect(() => parseCompat(flags, { CLAUDE_FAILOVER_COMPAT: env })).toThrow(want);
    } else {
      expect([...parseCompat(flags, { CLAUDE_FAILOVER_COMPAT: env })]).toEqual(want);
    }
  });
});

describe('secutoolsFromEnv', () => {
  it('nothing without the key (the Go system delegated nothing then)', () => {
    expect(secutoolsFromEnv({ SECUTOOLS_API_URL: 'http://x' })).toBeUndefined();
  });
  it('the endpoint and the default providers', () => {
    expect(secutoolsFromEnv({ SECUTOOLS_API_KEY: 'k', SECUTOOLS_API_URL: ' https://secutools.internal/api ' })).toEqual({ endpoint: 'https://secutools.internal/api', providers: ['gemini', 'gpu', 'claude-api'] });
  });
  it('providers from SECUTOOLS_PROVIDERS', () => {
    expect(secutoolsFromEnv({ SECUTOOLS_API_KEY: 'k', SECUTOOLS_API_URL: 'http://x', SECUTOOLS_PROVIDERS: 'gpu, gemini' })?.providers).toEqual(['gpu', 'gemini']);
  });
  it('the key without a URL, or a bad URL, is an error naming the variable', () => {
    expect(() => secutoolsFromEnv({ SECUTOOLS_API_KEY: 'k' })).toThrow(/SECUTOOLS_API_URL is not/);
    expect(() => secutoolsFromEnv({ SECUTOOLS_API_KEY: 'k', SECUTOOLS_API_URL: 'secutools.internal' })).toThrow(/must be an http\(s\) URL/);
  });
});

function obj(kind: AnyObject['kind'], name: string, spec: Record<string, unknown>): AnyObject {
  const parsed = specSchemas[kind].parse(spec) as Record<string, unknown>;
  return { apiVersion: 'claudefailover.io/v1alpha1', kind, metadata: { name }, spec: parsed, source: { file: 'm.yaml', line: 1, col: 1 }, generation: generationOf(parsed) } as unknown as AnyObject;
}

describe('withCompat', () => {
  const base = () => desiredFromObjects([
    obj('Project', 'web', { path: '/srv/web' }),
    obj('Project', 'api', { path: '/srv/api', delegationPolicy: 'own' }),
    obj('DelegationPolicy', 'own', { endpoint: 'http://own', apiKey: { env: 'OWN' }, providers: ['gpu'] }),
  ]);
  const env = { SECUTOOLS_API_KEY: 'k', SECUTOOLS_API_URL: 'http://secutools:8080' };

  it('without the switch, or without the key, changes nothing', () => {
    const d = base();
    expect(withCompat(d, compatConfig(parseCompat([], {}), env))).toBe(d);
    expect(withCompat(d, compatConfig(parseCompat(['secutools-key'], {}), {}))).toBe(d);
  });
  it('adds the "secutools" policy (key by reference, never inline) for projects that name none', () => {
    const d = base();
    const out = withCompat(d, compatConfig(parseCompat(['secutools-key'], {}), env));
    const pol = out.delegationPolicies.find((p) => p.metadata.name === 'secutools');
    expect(pol?.spec).toMatchObject({ endpoint: 'http://secutools:8080', apiKey: { env: 'SECUTOOLS_API_KEY' }, providers: ['gemini', 'gpu', 'claude-api'], defaultProvider: 'gemini', maxConcurrentJobs: 4 });
    expect(pol?.metadata.annotations?.[COMPAT_ANNOTATION]).toBe('secutools-key');
    expect(JSON.stringify(pol)).not.toContain('"k"');
    const web = out.projects.find((p) => p.metadata.name === 'web');
    expect(web?.spec.delegationPolicy).toBe('secutools');
    expect(web?.generation).toBe(generationOf(web?.spec));
    expect(web?.generation).not.toBe(d.projects.find((p) => p.metadata.name === 'web')?.generation);
    expect(out.projects.find((p) => p.metadata.name === 'api')?.spec.delegationPolicy).toBe('own');
    // The input is not changed.
    expect(d.projects.find((p) => p.metadata.name === 'web')?.spec.delegationPolicy).toBeUndefined();
  });
  it('a declared policy named "secutools" is used as it is', () => {
    const d = desiredFromObjects([obj('Project', 'web', { path: '/srv/web' }), obj('DelegationPolicy', 'secutools', { endpoint: 'http://declared', apiKey: { env: 'X' }, providers: ['gpu'] })]);
    const out = withCompat(d, compatConfig(parseCompat(['secutools-key'], {}), env));
    expect(out.delegationPolicies.map((p) => p.spec.endpoint)).toEqual(['http://declared']);
    expect(out.projects[0]?.spec.delegationPolicy).toBe('secutools');
  });
});
