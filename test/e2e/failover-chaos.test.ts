/**
 * Failover chaos, short (issue 19, item 0): busy sessions, repeated failovers with the default
 * flags (exhaustion of the active account, and forced failovers through the API, in turn).
 * The long runs, quiet and under CPU load, are bench/failover-chaos.bench.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runFailoverChaos } from '../support/failover-chaos.js';

describe('failover chaos (short)', () => {
  it('every task is delivered to one session, at most once plus one continuation, and no failover uses an attempt', async () => {
    const r = await runFailoverChaos({ sessions: 3, failovers: 6, workMs: [2000, 5000], timeoutMs: 150_000, log: (s) => console.log(`[failover-chaos] ${s}`) });
    console.log(`failover chaos: ${r.failovers} failovers (${JSON.stringify(r.startedBy)}), busy at trigger ${r.busyAtTrigger.join(',')}, ${r.done}/${r.tasks} done, ${r.deliveries} deliveries (per task: ${JSON.stringify(r.deliveriesPerTask)}), ${r.continuations} continuations, ${(r.durationMs / 1000).toFixed(1)} s, seed ${r.seed}`);
    for (const [id, lines] of Object.entries(r.timelines)) console.log(`${id}:\n  ${lines.join('\n  ')}`);
    expect(r.failovers).toBe(6);
    expect(r.deliveredToTwoSessions).toEqual([]);
    expect(r.deliveredMoreThanTwice).toEqual([]);
    expect(Object.keys(r.deliveriesPerTask).every((n) => n === '1' || n === '2')).toBe(true);
    expect(r.deliveredMoreThanOncePerFailover).toEqual([]);
    expect(r.requeues).toEqual([]);
    expect(r.attemptsUsedByFailovers).toBe(0);
    expect(r.maxAttemptsInFooters).toBe(1);
    expect(r.notDone).toEqual([]);
    expect(r.queuedDeliveries).toEqual([]);
    // The runs cut turns (exhaustion) and the cut tasks were continued.
    expect(r.continuations).toBeGreaterThan(0);
    expect(r.continuations).toBe(r.replayedEvents);
  }, 180_000);
});
