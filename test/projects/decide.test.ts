import { describe, expect, it } from 'vitest';
import { assignTasks, judgeLease, type DispatchTask, type FreeSession, type LeaseContext, type DispatchView } from '../../src/controllers/project-decide.js';
import { taskMarkerId } from '../../src/core/task-marker.js';
import type { Lease } from '../../src/core/task.js';

const T0 = Date.parse('2026-05-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const lease = (over: Partial<Lease> = {}): Lease => ({
  version: 1, taskId: 't1', claimId: 'c1', session: 's1', account: 'a', attempt: 1, claimedAt: iso(T0), deliveredAt: iso(T0 + 300), ...over,
});

const session = (over: Partial<DispatchView> = {}): DispatchView => ({
  name: 's1', project: 'p', mode: 'pool', declared: true, suspended: false, alive: true, ready: true,
  activity: 'working', sinceMs: T0 + 350, lastHeartbeatMs: T0 + 350, currentTask: 't1', account: 'a', ...over,
});

const ctx = (over: Partial<LeaseContext> = {}): LeaseContext => ({ nowMs: T0 + 10_000, staleMs: 3_600_000, fresh: true, replayWindowMs: 600_000, pickupMs: 60_000, ...over });

describe('judgeLease', () => {
  const cases: [string, Lease, DispatchView | undefined, Partial<LeaseContext>, string, RegExp?][] = [
    ['finished turn after the claim → complete', lease(), session({ activity: 'idle', currentTask: undefined, lastCompletedTask: 't1', lastCompletedAtMs: T0 + 5000 }), {}, 'complete'],
    ['completion is judged even on the first pass', lease(), session({ activity: 'idle', lastCompletedTask: 't1', lastCompletedAtMs: T0 + 5000 }), { fresh: false }, 'complete'],
    ['a completion older than the claim (earlier attempt) does not count', lease(), session({ activity: 'idle', currentTask: undefined, lastCompletedTask: 't1', lastCompletedAtMs: T0 - 1, sinceMs: T0 - 1 }), {}, 'keep', /waiting for the turn/],
    ['a completion of another task does not count', lease(), session({ lastCompletedTask: 't2', lastCompletedAtMs: T0 + 5000 }), {}, 'keep', /working on it|is working/],
    ['first pass: keep (status may be stale)', lease(), session({ alive: false }), { fresh: false }, 'keep', /fresh session status/],
    ['working on it → keep', lease(), session(), {}, 'keep', /is working on it/],
    ['waiting for a permission → keep', lease(), session({ activity: 'waitingInput' }), {}, 'keep'],
    ['no activity for longer than staleDispatchAfter → requeue', lease(), session({ lastHeartbeatMs: T0 + 400, sinceMs: T0 + 350 }), { nowMs: T0 + 400 + 3_600_001 }, 'requeue', /without session activity/],
    ['rate-limited → hold', lease(), session({ activity: 'rateLimited' }), {}, 'hold', /usage limit/],
    ['held, replay in progress → keep', lease(), session({ activity: 'working', currentTask: 't1' }), { heldSinceMs: T0 + 1000 }, 'keep', /continues/],
    ['held, session idle after failover, within the window → hold', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 2000 }), { heldSinceMs: T0 + 1000 }, 'hold', /failover replay/],
    ['held and session relaunched (gone for now) → hold', lease(), session({ alive: false }), { heldSinceMs: T0 + 1000 }, 'hold'],
    ['held past the replay window → requeue', lease(), session({ activity: 'idle', currentTask: undefined }), { heldSinceMs: T0, nowMs: T0 + 600_001 }, 'requeue', /not continued/],
    ['session removed from the manifests → requeue', lease(), undefined, {}, 'requeue', /no longer exists/],
    ['session undeclared → requeue', lease(), session({ declared: false }), {}, 'requeue', /no longer exists/],
    ['session moved to another project → requeue', lease(), session({ project: 'q' }), {}, 'requeue', /project q/],
    ['session suspended → requeue', lease(), session({ suspended: true }), {}, 'requeue', /suspended/],
    ['crash loop → requeue', lease(), session({ alive: false, readyReason: 'CrashLoopBackOff' }), {}, 'requeue', /crash-looping/],
    ['process died, not back within the relaunch wait → requeue', lease(), session({ alive: false }), { nowMs: T0 + 350 + 60_001 }, 'requeue', /died/],
    ['process stopped moments ago (failover, healing) → keep, waiting for the relaunch', lease(), session({ alive: false }), {}, 'keep', /waiting up to .* relaunched/],
    // A claim made as the session was being stopped (failover): its prompt never got through. It waits for the relaunch, no attempt used.
    ['never delivered and the session stopped moments ago → keep, waiting for the relaunch', lease({ deliveredAt: undefined }), session({ alive: false }), {}, 'keep', /waiting up to .* relaunched$/],
    ['never delivered and the session not back within the relaunch wait → requeue', lease({ deliveredAt: undefined }), session({ alive: false }), { nowMs: T0 + 350 + 60_001 }, 'requeue', /died/],
    ['tmux shows a newer launch than the status (relaunch not recorded yet) → keep', lease({ deliveredAt: undefined }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 - 5000, launchedAtMs: T0 - 60_000, tmuxLaunchedMs: T0 + 5000 }), {}, 'keep', /being relaunched/],
    ['a relaunch that is never recorded does not hold the task forever', lease({ deliveredAt: undefined }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 - 5000, launchedAtMs: T0 - 60_000, tmuxLaunchedMs: T0 + 5000 }), { nowMs: T0 + 5000 + 60_000 }, 'redeliver'],
    ['never delivered, session never launched yet (a carried-over lease at start-up) → keep', lease({ deliveredAt: undefined }), session({ alive: false, activity: undefined, sinceMs: undefined, lastHeartbeatMs: undefined, currentTask: undefined }), {}, 'keep', /has not been launched yet/],
    ['never delivered, session never launched, past staleDispatchAfter → requeue', lease({ deliveredAt: undefined }), session({ alive: false, activity: undefined, sinceMs: undefined, lastHeartbeatMs: undefined, currentTask: undefined }), { nowMs: T0 + 3_600_001 }, 'requeue', /without session activity/],
    ['never delivered, session idle → redeliver', lease({ deliveredAt: undefined }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 - 5000 }), {}, 'redeliver'],
    ['never recorded as delivered but working on it → keep', lease({ deliveredAt: undefined }), session(), {}, 'keep', /working on it/],
    ['never delivered, session starting → keep', lease({ deliveredAt: undefined }), session({ activity: 'starting', currentTask: undefined, ready: false }), {}, 'keep', /not yet delivered/],
    ['never delivered, idle but not Ready → keep', lease({ deliveredAt: undefined }), session({ activity: 'idle', currentTask: undefined, ready: false }), {}, 'keep'],
    ['delivered, turn failed with an API error → requeue', lease(), session({ activity: 'idle', sinceMs: T0 + 2000, lastError: { error: 'server_error', atMs: T0 + 2000 } }), {}, 'requeue', /API error \(server_error\)/],
    ['delivered, the session crashed and came back without its conversation → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, lastFailureMs: T0 + 2500 }), {}, 'requeue', /relaunched without its conversation/],
    // A failover relaunch that could not resume (the conversation had no transcript yet): not the task's doing.
    ['delivered, relaunched (no crash) without its conversation → continue in the new one, from the task file', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500 }), {}, 'replay', /relaunched without its conversation.*from its file/],
    ['a crash before the claim does not count', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, lastFailureMs: T0 - 10_000 }), {}, 'replay'],
    ['relaunched (no crash) without its conversation, not Ready yet → keep', lease(), session({ activity: 'idle', ready: false, currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500 }), {}, 'keep', /once it is Ready/],
    ['a carried-over lease delivered once its session was up: idle since before the delivery → keep (the turn starts)', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 6000, launchedAtMs: T0 + 5000 }), { nowMs: T0 + 8300 }, 'keep', /waiting for the turn to start/],
    ['a carried-over lease: the session became idle after the delivery → requeue', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 9000, launchedAtMs: T0 + 5000 }), { nowMs: T0 + 9300 }, 'requeue', /without finishing/],
    ['a carried-over lease: crashed and relaunched after the delivery → requeue', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 9500, launchedAtMs: T0 + 9000, lastFailureMs: T0 + 9000 }), { nowMs: T0 + 9800 }, 'requeue', /relaunched/],
    ['a carried-over lease: relaunched (no crash) after the delivery → continue from the task file', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 9500, launchedAtMs: T0 + 9000 }), { nowMs: T0 + 9800 }, 'replay', /relaunched without its conversation.*from its file/],
    ['a carried-over lease: relaunched with --resume after the delivery → continue in its conversation', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 9500, launchedAtMs: T0 + 9000, resumed: true }), { nowMs: T0 + 9800 }, 'replay', /resumed its conversation/],
    ['relaunched with --resume after delivery (failover), idle → replay the continuation', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true, account: 'b' }), {}, 'replay', /relaunched on account b and resumed/],
    ['relaunched with --resume, still starting → keep', lease(), session({ activity: 'starting', currentTask: undefined, ready: false, launchedAtMs: T0 + 2500, resumed: true }), {}, 'keep', /resuming/],
    ['rate-limited, failed over, resumed and idle → replay (not hold)', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), { heldSinceMs: T0 + 1000 }, 'replay'],
    ['continued after the relaunch, working on it → keep', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'working', currentTask: 't1', sinceMs: T0 + 3200, launchedAtMs: T0 + 2500, resumed: true }), {}, 'keep', /working on it/],
    // issue 19: the continuation was pasted, the session still reads idle since its relaunch: its turn has not started yet.
    ['continued after the relaunch, still idle since the relaunch → keep (not replayed twice, not requeued)', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'idle', currentTask: 't1', sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), {}, 'keep', /waiting for the turn to start/],
    ['continued, idle again after the continuation without finishing → requeue', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 9000, launchedAtMs: T0 + 2500, resumed: true }), {}, 'requeue', /without finishing the task \(after its continuation\)/],
    ['continued, and no turn started within the pickup time of the continuation → requeue', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'idle', currentTask: 't1', sinceMs: T0 + 3000, lastHeartbeatMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), { nowMs: T0 + 3100 + 60_000 }, 'requeue', /no turn started/],
    ['the pickup time runs from the continuation, not the first delivery', lease({ continuedAt: iso(T0 + 70_000), continuations: 1 }), session({ activity: 'idle', currentTask: 't1', sinceMs: T0 + 69_000, launchedAtMs: T0 + 68_000, resumed: true }), { nowMs: T0 + 75_000 }, 'keep', /waiting for the turn to start/],
    ['continued, then relaunched again (a second failover) → replay again', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'idle', currentTask: 't1', sinceMs: T0 + 8000, launchedAtMs: T0 + 7000, resumed: true }), {}, 'replay'],
    // The relaunch was decided (2500) before the paste (2600): the prompt met a stopping or starting process.
    ['relaunch decided just before the paste, the process started after it → keep (the prompt may still be submitted)', lease({ deliveredAt: iso(T0 + 2600) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, processStartedMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), {}, 'keep', /restarted as the prompt was delivered/],
    // issue 19 (chaos): a claim whose delivery failed in the relaunch is delivered to the new process afterwards; that is not a prompt the relaunch cut.
    ['delivered after the relaunch (a re-delivery), the session still reads idle → keep, no continuation', lease({ claimedAt: iso(T0), deliveredAt: iso(T0 + 8000) }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, processStartedMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), { nowMs: T0 + 9000 }, 'keep', /waiting for the turn to start/],
    ['relaunched with --resume, idle but not Ready yet → keep', lease(), session({ activity: 'idle', ready: false, readyReason: 'Relaunching', currentTask: 't1', sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true }), {}, 'keep', /resuming/],
    // A relaunch decided just before the claim: the prompt was pasted into a process being stopped or still starting.
    ['the process restarted after the prompt, idle since it started → keep (the prompt may still be submitted)', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 900, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: true }), {}, 'keep', /restarted as the prompt was delivered/],
    ['the process restarted after the prompt, no turn within the pickup time, resumed → replay (no attempt used)', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 900, lastHeartbeatMs: T0 + 900, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: true }), { nowMs: T0 + 300 + 60_000 }, 'replay', /did not survive the restart/],
    ['the process restarted after the prompt, no turn within the pickup time, new conversation → continue from the file', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 900, lastHeartbeatMs: T0 + 900, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: false }), { nowMs: T0 + 300 + 60_000 }, 'replay', /did not survive the restart of session s1, which started a new conversation/],
    ['the same after a crash → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 900, lastHeartbeatMs: T0 + 900, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: false, lastFailureMs: T0 + 800 }), { nowMs: T0 + 300 + 60_000 }, 'requeue', /which started a new conversation/],
    ['the process restarted after the prompt, no turn within the pickup time, not Ready yet → keep', lease(), session({ activity: 'idle', ready: false, currentTask: undefined, sinceMs: T0 + 900, lastHeartbeatMs: T0 + 900, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: true }), { nowMs: T0 + 300 + 60_000 }, 'keep', /once it is Ready/],
    ['the process restarted after the prompt and a turn ended since → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 5000, processStartedMs: T0 + 900, launchedAtMs: T0 - 500, resumed: true }), {}, 'requeue', /became idle without finishing/],
    ['crashed after the prompt and relaunched (new conversation): requeue at once, no wait for the pickup time', lease(), session({ activity: 'idle', currentTask: 't1', sinceMs: T0 + 3000, processStartedMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: false, lastFailureMs: T0 + 2500 }), {}, 'requeue', /relaunched without its conversation/],
    ['a process start before the claim changes nothing', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, processStartedMs: T0 - 100 }), {}, 'requeue', /without finishing/],
    ['an API error before the continuation (the limit that caused the failover) does not requeue it', lease({ continuedAt: iso(T0 + 3100), continuations: 1 }), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: true, lastError: { error: 'rate_limit', atMs: T0 + 2000 } }), {}, 'keep', /waiting for the turn to start/],
    ['crashed and relaunched as a new conversation (no resume) → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000, launchedAtMs: T0 + 2500, resumed: false, lastFailureMs: T0 + 2400 }), {}, 'requeue', /relaunched/],
    ['delivered, idle after the claim without finishing → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 + 3000 }), {}, 'requeue', /without finishing/],
    ['delivered, idle since before the claim (turn not started yet) → keep', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 - 100 }), {}, 'keep', /waiting for the turn to start/],
    ['delivered long ago and no turn started → requeue', lease(), session({ activity: 'idle', currentTask: undefined, sinceMs: T0 - 100, lastHeartbeatMs: T0 - 100 }), { nowMs: T0 + 300 + 60_000 }, 'requeue', /no turn started/],
  ];
  it.each(cases)('%s', (_name, l, s, c, action, reason) => {
    const v = judgeLease(l, 'p', s, ctx(c));
    expect(v.action).toBe(action);
    if (reason) expect(v.reason).toMatch(reason);
  });

  it('compares with the marker form of ids the hook marker cannot carry', () => {
    const id = 'fix login (prod) ✓';
    const marker = taskMarkerId(id);
    expect(marker).toMatch(/^id-[0-9a-f]{24}$/);
    const v = judgeLease(lease({ taskId: id }), 'p', session({ activity: 'idle', lastCompletedTask: marker, lastCompletedAtMs: T0 + 1 }), ctx());
    expect(v.action).toBe('complete');
  });
});

describe('assignTasks', () => {
  const t = (id: string, pin?: string): DispatchTask => ({ id, priority: 'normal', mtimeMs: 0, ...(pin ? { pin } : {}) });
  const s = (name: string, over: Partial<FreeSession> = {}): FreeSession => ({ name, mode: 'pool', account: 'a', sinceMs: 0, ...over });
  const known = new Set(['s1', 's2', 's3', 'd1']);
  const run = (tasks: DispatchTask[], free: FreeSession[], slots: [string, number][] = []) => {
    const r = assignTasks(tasks, free, new Map(slots), known);
    return { a: r.assignments.map((x) => `${x.task.id}->${x.session.name}`), w: r.waiting.map((x) => `${x.task.id}: ${x.reason}`) };
  };

  const cases: [string, DispatchTask[], FreeSession[], [string, number][], string[], RegExp[]][] = [
    ['one task per session, in task order', [t('t1'), t('t2'), t('t3')], [s('s1'), s('s2')], [], ['t1->s1', 't2->s2'], [/t3: no idle session/]],
    ['longest-idle session first', [t('t1')], [s('s1', { sinceMs: 500 }), s('s2', { sinceMs: 100 })], [], ['t1->s2'], []],
    ['pinned task goes to its session only', [t('t1', 's2'), t('t2')], [s('s1'), s('s2')], [], ['t1->s2', 't2->s1'], []],
    ['pinned to a busy session waits, others proceed', [t('t1', 's3'), t('t2')], [s('s1')], [], ['t2->s1'], [/t1: pinned to session s3, which is busy/]],
    ['pinned to an unknown session waits with the reason', [t('t1', 'nope')], [s('s1')], [], [], [/not a session of this project/]],
    ['dedicated session takes only pinned tasks', [t('t1'), t('t2', 'd1')], [s('d1', { mode: 'dedicated' })], [], ['t2->d1'], [/t1: no idle session/]],
    ['maxSessions: no slot left on the account', [t('t1'), t('t2')], [s('s1'), s('s2')], [['a', 1]], ['t1->s1'], [/maxSessions/]],
    ['maxSessions: another account still has room', [t('t1'), t('t2')], [s('s1'), s('s2', { account: 'b' })], [['a', 0]], ['t1->s2'], [/t2: /]],
  ];
  it.each(cases)('%s', (_n, tasks, free, slots, assigned, waits) => {
    const r = run(tasks, free, slots);
    expect(r.a).toEqual(assigned);
    expect(r.w).toHaveLength(waits.length);
    waits.forEach((re, i) => expect(r.w[i]).toMatch(re));
  });
});
