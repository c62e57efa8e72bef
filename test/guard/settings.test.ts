import { describe, expect, it } from 'vitest';
import { guardSettingsFragment, mergeGuardSettings } from '../../src/guard/settings.js';

const frag = guardSettingsFragment('/p/.claude/hooks/claude-failover-guard-a');
const ours = frag.hooks.PreToolUse[0];
const other = { matcher: 'Bash', hooks: [{ type: 'command', command: '/usr/local/bin/lint-hook', timeout: 5 }] };

describe('guardSettingsFragment', () => {
  it('registers the hook for Bash, the file-writing tools and the file-reading tools (secrets)', () => {
    expect(ours?.matcher.split('|').sort()).toEqual(['Bash', 'Edit', 'Grep', 'MultiEdit', 'NotebookEdit', 'NotebookRead', 'Read', 'Write']);
  });
});

describe('mergeGuardSettings', () => {
  it.each([
    ['empty', undefined, { hooks: { PreToolUse: [ours] } }],
    ['not an object', 'junk', { hooks: { PreToolUse: [ours] } }],
    ['keeps other keys and events', { model: 'opus', hooks: { Stop: [{ hooks: [] }] } }, { model: 'opus', hooks: { Stop: [{ hooks: [] }], PreToolUse: [ours] } }],
    ['keeps other PreToolUse hooks', { hooks: { PreToolUse: [other] } }, { hooks: { PreToolUse: [ours, other] } }],
    ['no duplicate on re-merge', { hooks: { PreToolUse: [ours, other] } }, { hooks: { PreToolUse: [ours, other] } }],
    [
      'removes our command from a mixed entry, keeps the rest',
      { hooks: { PreToolUse: [{ matcher: 'Bash', hooks: [{ type: 'command', command: '/p/.claude/hooks/claude-failover-guard-a' }, other.hooks[0]] }] } },
      { hooks: { PreToolUse: [ours, { matcher: 'Bash', hooks: [other.hooks[0]] }] } },
    ],
  ])('%s', (_label, existing, expected) => {
    expect(mergeGuardSettings(existing, frag)).toEqual(expected);
  });

  it('replaces an older launcher recognised by the predicate', () => {
    const old = { matcher: 'Bash', hooks: [{ type: 'command', command: '/old/claude-failover-guard-a', timeout: 30 }] };
    const merged = mergeGuardSettings({ hooks: { PreToolUse: [old] } }, frag, (c) => c.includes('claude-failover-guard-'));
    expect(merged).toEqual({ hooks: { PreToolUse: [ours] } });
  });
});
