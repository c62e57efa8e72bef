/** The last applied set is recorded as the files' texts and parsed again at start-up: same objects, files gone or not. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadManifests, loadRecordedManifests, toDesired } from '../../src/adapters/manifest-files.js';
import { fingerprint } from '../../src/runtime/manifest-set.js';
import { tempDir } from '../support/manifests.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('loadRecordedManifests', () => {
  it('parses recorded texts exactly as the files were parsed (relative paths, defaults, generations), after the files are gone', async () => {
    const root = tempDir('recorded');
    dirs.push(root);
    const m = join(root, 'm');
    mkdirSync(join(m, 'sub'), { recursive: true });
    writeFileSync(join(m, 'accounts.yaml'), 'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: ../accounts/a, sharedStateDir: ~/shared}\n');
    writeFileSync(join(m, 'sub', 'sessions.yaml'), 'apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: ../../proj}\n---\napiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s1, labels: {team: x}}\nspec: {project: p, env: {A: "1"}}\n');
    writeFileSync(join(m, 'notes.txt'), 'not a manifest');
    const loaded = await loadManifests([m], { displayBase: root, gitRevision: false, homeDir: '/home/op' });
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.sources.map((s) => s.path)).toEqual([join(m, 'accounts.yaml'), join(m, 'sub', 'sessions.yaml')]);
    rmSync(m, { recursive: true });
    const again = loadRecordedManifests(JSON.parse(JSON.stringify(loaded.sources)) as typeof loaded.sources, { displayBase: root, homeDir: '/home/op', revision: 'abc' });
    expect(again.diagnostics).toEqual([]);
    expect(again.revision).toBe('abc');
    expect(again.objects).toEqual(loaded.objects);
    expect(fingerprint(toDesired(again))).toBe(fingerprint(toDesired(loaded)));
    const account = again.objects.find((o) => o.kind === 'Account');
    expect(account?.kind === 'Account' && account.spec.configDir).toBe(join(root, 'accounts', 'a'));
  });

  it('reports a recorded set this version finds invalid like any other', () => {
    const r = loadRecordedManifests([{ path: '/etc/cf/m/s.yaml', text: 'apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: s}\nspec: {projekt: p}\n' }], { displayBase: '/etc/cf' });
    expect(r.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`)).toContain('m/s.yaml:4:8: unknown field `projekt` in `spec` (did you mean `project`?)');
  });
});
