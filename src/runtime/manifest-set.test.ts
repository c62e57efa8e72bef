import { describe, expect, it } from 'vitest';
import { desiredFromObjects, emptyDesiredState, type AnyObject, type DesiredState } from '../api/objects.js';
import { parseManifestText } from '../api/parse.js';
import { deletionVerdict, fingerprint, holdId } from './manifest-set.js';

/** A desired state with an Account, a Project and the named Sessions. */
function set(...sessions: string[]): DesiredState {
  const docs = [
    'apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata: {name: a}\nspec: {configDir: /acc/a}\n',
    'apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec: {path: /p}\n',
    ...sessions.map((s) => `apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata: {name: ${s}}\nspec: {project: p}\n`),
  ];
  const r = parseManifestText('/m/x.yaml', docs.join('---\n'), { homeDir: '/h' });
  expect(r.diagnostics).toEqual([]);
  return desiredFromObjects(r.objects as AnyObject[]);
}

const ten = Array.from({ length: 10 }, (_, i) => `s${i}`);

describe('deletionVerdict', () => {
  it.each([
    // name, baseline sessions, baseline objects, next, expected hold reason (or false), removed
    ['an unchanged set', ['s1', 's2'], 4, set('s1', 's2'), false, []],
    ['a set that adds sessions', ['s1'], 3, set('s1', 's2', 's3'), false, []],
    ['one of two sessions removed (50% is not more than 50%)', ['s1', 's2'], 4, set('s1'), false, ['s2']],
    ['two of three removed', ['s1', 's2', 's3'], 5, set('s1'), 'TooManySessionsRemoved', ['s2', 's3']],
    ['five of ten removed', ten, 12, set(...ten.slice(5)), false, ten.slice(0, 5)],
    ['six of ten removed', ten, 12, set(...ten.slice(6)), 'TooManySessionsRemoved', ten.slice(0, 6)],
    ['the last session removed', ['s1'], 3, set(), 'AllSessionsRemoved', ['s1']],
    ['every session removed, accounts kept', ['s1', 's2'], 4, set(), 'AllSessionsRemoved', ['s1', 's2']],
    ['the whole set emptied', ['s1', 's2'], 4, emptyDesiredState(), 'EmptySet', ['s1', 's2']],
    ['a set of accounts only emptied', [], 2, emptyDesiredState(), 'EmptySet', []],
    ['an empty set on a first start (nothing applied, nothing owned)', [], 0, emptyDesiredState(), false, []],
    ['sessions replaced one for one (renamed)', ['s1', 's2', 's3'], 5, set('t1', 't2', 't3'), 'AllSessionsRemoved', ['s1', 's2', 's3']],
  ] as const)('%s', (_name, baseline, objects, next, hold, removed) => {
    const v = deletionVerdict(baseline, objects, next, { maxShare: 0.5, prune: true });
    expect(v.hold ? v.reason : false).toBe(hold);
    expect(v.removed).toEqual(removed);
    expect(v.total).toBe(baseline.length);
  });

  it('the share is configurable: 0 holds any removal, 1 holds only "all" and "empty"', () => {
    expect(deletionVerdict(ten, 12, set(...ten.slice(1)), { maxShare: 0, prune: true }).hold).toBe(true);
    expect(deletionVerdict(ten, 12, set('s9'), { maxShare: 1, prune: true }).hold).toBe(false);
    expect(deletionVerdict(ten, 12, set(), { maxShare: 1, prune: true }).hold).toBe(true);
  });

  it('says what would happen to the dropped sessions, with and without --prune', () => {
    const pruned = deletionVerdict(['s1', 's2', 's3'], 5, set('s1'), { maxShare: 0.5, prune: true });
    const kept = deletionVerdict(['s1', 's2', 's3'], 5, set('s1'), { maxShare: 0.5, prune: false });
    expect(pruned.hold && pruned.message).toBe('the manifest set drops 2 of 3 Sessions (s2, s3), more than 50%; they would be stopped (--prune)');
    expect(kept.hold && kept.message).toMatch(/would be left running unmanaged \(orphaned\)$/);
    const many = deletionVerdict(ten, 12, set(), { maxShare: 0.5, prune: true });
    expect(many.hold && many.message).toContain('(10: s0, s1, s2, s3, s4 and 5 more)');
  });
});

describe('fingerprint and hold id', () => {
  it('are equal for equal sets, whatever the order of documents, and differ otherwise', () => {
    expect(fingerprint(set('s1', 's2'))).toBe(fingerprint(set('s2', 's1')));
    expect(holdId(fingerprint(set('s1')))).toMatch(/^[0-9a-f]{12}$/);
    expect(holdId(fingerprint(set('s1')))).not.toBe(holdId(fingerprint(set('s2'))));
  });
});
