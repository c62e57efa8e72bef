import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionEventsReader, sessionEventsPath } from './session-events.js';

const dirs: string[] = [];
afterEach(() => {
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

describe('SessionEventsReader', () => {
  it('peek returns what is new without taking it from the next read (a plan preview must not eat hook events)', async () => {
    const state = mkdtempSync(join(tmpdir(), 'cf-events-'));
    dirs.push(state);
    mkdirSync(join(state, 'sessions', 's1'), { recursive: true });
    const file = sessionEventsPath(state, 's1');
    appendFileSync(file, `${JSON.stringify({ t: 1, event: 'SessionStart' })}\n`);
    const r = new SessionEventsReader(state);
    expect((await r.readNew('s1')).map((e) => e.event)).toEqual(['SessionStart']);
    appendFileSync(file, `${JSON.stringify({ t: 2, via: 'hook', raw: { hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' } })}\n`);
    const peeked = await r.readNew('s1', { peek: true });
    expect(peeked).toEqual([{ t: 2, event: 'Notification', notificationType: 'permission_prompt', errorMessage: 'Claude needs your permission to use Bash' }]);
    expect(await r.readNew('s1', { peek: true })).toEqual(peeked);
    expect(await r.readNew('s1')).toEqual(peeked);
    expect(await r.readNew('s1')).toEqual([]);
    expect(await r.readNew('s1', { peek: true })).toEqual([]);
  });
});
