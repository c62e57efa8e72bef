import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionEventsReader, sessionEventsPath } from './session-events.js';

const dirs: string[] = [];
afterEach(() => {
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function setup() {
  const state = mkdtempSync(join(tmpdir(), 'cf-events-'));
  dirs.push(state);
  mkdirSync(join(state, 'sessions', 's1'), { recursive: true });
  const file = sessionEventsPath(state, 's1');
  return { state, file, append: (o: unknown) => appendFileSync(file, `${JSON.stringify(o)}\n`) };
}

describe('SessionEventsReader', () => {
  it('reading never takes events away: only commit moves the cursor (a plan preview must not eat hook events)', async () => {
    const { state, append } = setup();
    append({ t: 1, event: 'SessionStart' });
    const r = new SessionEventsReader(state);
    const first = await r.read('s1');
    expect(first.records.map((e) => e.event)).toEqual(['SessionStart']);
    // Not committed (a dry-run, or an apply that did not happen): the next read sees it again.
    expect((await r.read('s1')).records.map((e) => e.event)).toEqual(['SessionStart']);
    r.commit('s1', first.cursor!);
    expect((await r.read('s1')).records).toEqual([]);
    append({ t: 2, via: 'hook', raw: { hook_event_name: 'Notification', notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' } });
    const second = await r.read('s1');
    expect(second.records).toEqual([{ t: 2, event: 'Notification', notificationType: 'permission_prompt', errorMessage: 'Claude needs your permission to use Bash' }]);
    expect((await r.read('s1')).records).toEqual(second.records);
    r.commit('s1', second.cursor!);
    expect((await r.read('s1')).records).toEqual([]);
  });

  it('a torn last line is completed by the next append; a rotated file is read from its start', async () => {
    const { state, file, append } = setup();
    const r = new SessionEventsReader(state);
    appendFileSync(file, '{"t":1,"event":"Sess');
    const torn = await r.read('s1');
    expect(torn.records).toEqual([]);
    r.commit('s1', torn.cursor!);
    appendFileSync(file, 'ionStart"}\n');
    const whole = await r.read('s1');
    expect(whole.records.map((e) => e.event)).toEqual(['SessionStart']);
    r.commit('s1', whole.cursor!);
    renameSync(file, `${file}.1`);
    append({ t: 3, event: 'Stop' });
    expect((await r.read('s1')).records.map((e) => e.event)).toEqual(['Stop']);
  });

  it('no events file: nothing, and no cursor', async () => {
    const { state } = setup();
    expect(await new SessionEventsReader(state).read('s1')).toEqual({ records: [], cursor: undefined });
  });
});
