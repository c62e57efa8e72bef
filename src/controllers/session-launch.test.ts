import { describe, expect, it } from 'vitest';
import { FAST_HOOK_EVENTS, OBSERVED_HOOK_EVENTS, sessionSettings } from './session-launch.js';

type Settings = { hooks: Record<string, { hooks: { command: string }[] }[]>; statusLine: { command: string } };
const commandOf = (s: Settings, event: string) => s.hooks[event]?.[0]?.hooks[0]?.command;

describe('sessionSettings', () => {
  const ctx = { stateDir: '/var/lib/cf', selfCommand: ['/usr/bin/node', '/opt/cf/dist/cli/main.js'] };

  it('routes the frequent hooks and the status line through the shell observer, prompts and turn ends through the CLI', () => {
    const s = sessionSettings({ ...ctx, observeCommand: '/opt/cf/hooks/claude-failover-observe' }, 's1', 'a') as Settings;
    for (const event of OBSERVED_HOOK_EVENTS) {
      const want = FAST_HOOK_EVENTS.has(event)
        ? "/opt/cf/hooks/claude-failover-observe hook /var/lib/cf/sessions/s1 '' a"
        : '/usr/bin/node /opt/cf/dist/cli/main.js hook event --session s1 --state-dir /var/lib/cf';
      expect([event, commandOf(s, event)]).toEqual([event, want]);
    }
    expect(['UserPromptSubmit', 'Stop'].filter((e) => FAST_HOOK_EVENTS.has(e))).toEqual([]);
    expect(s.statusLine.command).toBe("/opt/cf/hooks/claude-failover-observe statusline /var/lib/cf/sessions/s1 's1 · a' a");
  });

  it('quotes paths for the shell', () => {
    const s = sessionSettings({ ...ctx, stateDir: "/srv/it's here", observeCommand: '/opt/my cf/observe' }, 's1', undefined) as Settings;
    expect(commandOf(s, 'SessionStart')).toBe("'/opt/my cf/observe' hook '/srv/it'\\''s here/sessions/s1' '' ''");
    expect(s.statusLine.command).toBe("'/opt/my cf/observe' statusline '/srv/it'\\''s here/sessions/s1' s1 ''");
  });

  it('runs every hook through the CLI when there is no observer', () => {
    const s = sessionSettings(ctx, 's1', 'a') as Settings;
    for (const event of OBSERVED_HOOK_EVENTS) expect(commandOf(s, event)).toContain('main.js hook event');
    expect(s.statusLine.command).toBe('/usr/bin/node /opt/cf/dist/cli/main.js hook statusline --session s1 --state-dir /var/lib/cf --account a');
  });
});
