/**
 * Chaos run, scaled down for CI (the full run is `node bench/chaos.mjs`: 1,000 tasks, 100 kills):
 * 100 tasks, 15 random kill -9 of the controller with restarts, simulator agents completing them.
 * Every task ends in done/, in exactly one state directory; re-deliveries are each explained by a kill.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../../bench/lib/chaos.mjs';

describe('chaos (scaled down)', () => {
  it('100 tasks, 15 kill -9 of the controller: all done, none lost or duplicated, re-deliveries explained by kills', async () => {
    const r = await runChaos({ tasks: 100, kills: 15, sessions: 4, workMs: 50, minKillGapMs: 200, maxKillGapMs: 1500, timeoutMs: 150_000 });
    console.log(`chaos: ${r.kills} kills, ${r.done}/${r.tasks} done, ${r.deliveries} deliveries, ${r.redeliveries} re-deliveries, ${(r.durationMs / 1000).toFixed(1)} s, seed ${r.seed}`);
    expect(r.kills).toBe(15);
    expect(r.notInExactlyOneState).toEqual([]);
    expect(r.notDone).toBe(0);
    expect(r.neverDelivered).toBe(0);
    expect(r.overlappingDeliveries).toEqual([]);
    expect(r.unexplainedRedeliveries).toEqual([]);
  }, 180_000);
});
