import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/api/objects.js';
import { parseManifestText } from '../../src/api/parse.js';
import { loadManifests } from '../../src/adapters/manifest-files.js';

const BROKEN = join(import.meta.dirname, '..', 'fixtures', 'broken');

describe('manifest diagnostics (test/fixtures/broken)', async () => {
  const r = await loadManifests([BROKEN], { displayBase: BROKEN, gitRevision: false, homeDir: '/home/op' });
  const lines = r.diagnostics.map(formatDiagnostic);

  it.each([
    ['YAML syntax error', /^01-syntax\.yaml:7:1: YAML syntax error: Missing closing "quote/],
    ['type error', /^02-type\.yaml:7:13: `spec\.priority`: expected number, received string$/],
    ['unknown field with a suggestion', /^03-unknown-field\.yaml:7:3: unknown field `comand` in `spec` \(did you mean `command`\?\)$/],
    ['missing required field', /^04-missing\.yaml:6:3: missing required field `spec\.path`$/],
    ['invalid duration', /^05-duration\.yaml:8:19: `spec\.quota\.pollInterval`: invalid duration/],
    ['duplicate kind/name', /^06-duplicate\.yaml:11:9: duplicate Project\/web: already defined at 06-duplicate\.yaml:1:1$/],
    ['dangling Session.project', /^07-dangling\.yaml:6:12: Session\/dangling refers to Project "wbe", which is not defined \(did you mean "web"\?\)$/],
    ['dangling Session.account', /^07-dangling\.yaml:7:12: Session\/dangling refers to Account "nobody"/],
    ['dangling Project.delegationPolicy', /^07-dangling\.yaml:15:21: Project\/delegating refers to DelegationPolicy "gpu-farm"/],
    ['dangling Notifier ref', /^07-dangling\.yaml:25:9: Notifier\/ops refers to Account "ghost"/],
    ['two accounts with one configDir', /^08-configdir\.yaml:13:14: Account\/two uses configDir \/srv\/accounts\/shared, already used by Account\/one/],
    ['inline secret', /^09-inline-secret\.yaml:7:11: `spec\.apiKey`: expected a secret reference/],
  ])('%s', (_name, pattern) => {
    expect(lines.filter((l) => pattern.test(l)), lines.join('\n')).toHaveLength(1);
  });

  it('reports every problem, one line each, and nothing else', () => {
    expect(lines, lines.join('\n')).toHaveLength(12);
    expect(r.diagnostics.every((d) => d.severity === 'error')).toBe(true);
  });
});

describe('parseManifestText', () => {
  const ok = (spec: string, kind = 'Account', name = 'a') => `apiVersion: claudefailover.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}`;

  it('applies defaults and resolves paths against the file and home', () => {
    const r = parseManifestText('/etc/cf/accounts.yaml', ok('  configDir: ~/.claude-a\n  sharedStateDir: ../shared\n'), { homeDir: '/home/op' });
    expect(r.diagnostics).toEqual([]);
    const a = r.objects[0];
    expect(a?.kind).toBe('Account');
    if (a?.kind !== 'Account') return;
    expect(a.spec.configDir).toBe('/home/op/.claude-a');
    expect(a.spec.sharedStateDir).toBe('/etc/shared');
    expect(a.spec.quota).toEqual({ fiveHourThreshold: 90, weeklyThreshold: 95, pollInterval: '5m', usageEndpoint: 'https://api.anthropic.com/api/oauth/usage' });
    expect(a.spec.sharedDirs).toContain('file-history');
    expect(a.generation).toMatch(/^[0-9a-f]{12}$/);
  });

  it('gives the same generation to the same spec written differently', () => {
    const x = parseManifestText('/m/a.yaml', ok('  configDir: /a\n  priority: 1\n'), { homeDir: '/h' }).objects[0];
    const y = parseManifestText('/m/b.yaml', ok('  priority: 1\n  configDir: /a\n'), { homeDir: '/h' }).objects[0];
    const z = parseManifestText('/m/b.yaml', ok('  priority: 2\n  configDir: /a\n'), { homeDir: '/h' }).objects[0];
    expect(x?.generation).toBe(y?.generation);
    expect(x?.generation).not.toBe(z?.generation);
  });

  it.each([
    ['a CI config', 'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n', true],
    ['a list', '- a\n- b\n', true],
    ['an empty file', '', true],
    ['a document with only a kind', 'kind: Session\n', false],
  ])('skips files that are not manifests: %s', (_n, text, skipped) => {
    const r = parseManifestText('/m/x.yaml', text, { homeDir: '/h' });
    expect(r.skipped).toBe(skipped);
    expect(r.diagnostics.length === 0).toBe(skipped);
  });

  it.each([
    ['apiVersion: v1\nkind: Session\nmetadata: {name: a}\nspec: {}\n', /1:13: unsupported apiVersion "v1"/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Sesion\nmetadata: {name: a}\nspec: {}\n', /2:7: unknown kind "Sesion".*did you mean "Session"/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: Bad_Name}\nspec: {path: /p}\n', /3:18: `metadata\.name`: must be a DNS-1123 label/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s}\nspec: {project: p, mode: swarm}\n', /4:26: `spec\.mode`: expected one of "pool"\|"dedicated"/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Notifier\nmetadata: {name: n}\nspec: {type: telegram}\n', /4:7: `spec\.telegram`: type telegram needs a `telegram` block/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: /p, path: /q}\n', /4:18: YAML syntax error: Map keys must be unique/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s}\nspec:\n  project: p\n  env:\n    HTTP-PORT: "1"\n', /7:5: `spec\.env`: key `HTTP-PORT` is not allowed: an environment variable name: letters, digits and `_`/],
    ['apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s}\nspec:\n  project: p\n  env:\n    OK: "1"\n    TMUX_PANE: "%1"\n', /8:5: `spec\.env`: key `TMUX_PANE` is not allowed: TMUX and TMUX_PANE are set by tmux itself/],
  ])('diagnoses %#', (text, pattern) => {
    const r = parseManifestText('/m/x.yaml', text, { homeDir: '/h' });
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(pattern);
  });
});
