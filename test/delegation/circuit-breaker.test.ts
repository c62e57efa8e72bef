import { describe, expect, it } from 'vitest';
import { allow, CircuitBreaker, initialCircuit, onFailure, onSuccess, openPeriod, type CircuitConfig, type CircuitState } from '../../src/adapters/delegation/circuit-breaker.js';

const cfg: CircuitConfig = { failureThreshold: 3, openMs: 1_000, maxOpenMs: 5_000 };

type Step = { ev: 'allow'; at: number; want: { allowed: boolean; probe?: boolean; state: CircuitState['state'] } } | { ev: 'ok'; at: number; want: CircuitState['state'] } | { ev: 'fail'; at: number; retryAfterMs?: number; want: CircuitState['state']; retryAt?: number };

function run(steps: Step[]): CircuitState {
  let s = initialCircuit();
  for (const [i, step] of steps.entries()) {
    if (step.ev === 'allow') {
      const r = allow(s, step.at);
      s = r.next;
      expect({ i, allowed: r.allowed, state: s.state, ...(step.want.probe !== undefined ? { probe: r.probe } : {}) }).toEqual({ i, ...step.want });
    } else if (step.ev === 'ok') {
      s = onSuccess(s);
      expect({ i, state: s.state }).toEqual({ i, state: step.want });
    } else {
      s = onFailure(s, step.at, cfg, `boom ${i}`, step.retryAfterMs);
      expect({ i, state: s.state }).toEqual({ i, state: step.want });
      if (step.retryAt !== undefined) expect(s.retryAt).toBe(step.retryAt);
    }
  }
  return s;
}

describe('circuit breaker state machine', () => {
  it.each<[string, Step[]]>([
    ['stays closed below the threshold, a success resets the count', [
      { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 1, want: 'closed' }, { ev: 'ok', at: 2, want: 'closed' },
      { ev: 'fail', at: 3, want: 'closed' }, { ev: 'fail', at: 4, want: 'closed' }, { ev: 'allow', at: 5, want: { allowed: true, probe: false, state: 'closed' } },
    ]],
    ['opens at the threshold and refuses until the open period is over', [
      { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 100, want: 'open', retryAt: 1_100 },
      { ev: 'allow', at: 1_099, want: { allowed: false, state: 'open' } },
      { ev: 'allow', at: 1_100, want: { allowed: true, probe: true, state: 'halfOpen' } },
      { ev: 'allow', at: 1_101, want: { allowed: false, state: 'halfOpen' } },
      { ev: 'ok', at: 1_200, want: 'closed' },
      { ev: 'allow', at: 1_201, want: { allowed: true, probe: false, state: 'closed' } },
    ]],
    ['a failed probe re-opens for twice as long', [
      { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'open', retryAt: 1_000 },
      { ev: 'allow', at: 1_000, want: { allowed: true, probe: true, state: 'halfOpen' } },
      { ev: 'fail', at: 1_050, want: 'open', retryAt: 3_050 },
      { ev: 'allow', at: 3_049, want: { allowed: false, state: 'open' } },
      { ev: 'allow', at: 3_050, want: { allowed: true, probe: true, state: 'halfOpen' } },
      { ev: 'fail', at: 3_060, want: 'open', retryAt: 7_060 },
    ]],
    ['a Retry-After longer than the period keeps it open longer', [
      { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, retryAfterMs: 4_000, want: 'open', retryAt: 4_000 },
    ]],
    ['a late failure while open does not extend the period', [
      { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'closed' }, { ev: 'fail', at: 0, want: 'open', retryAt: 1_000 },
      { ev: 'fail', at: 500, want: 'open', retryAt: 1_000 },
    ]],
  ])('%s', (_name, steps) => {
    run(steps);
  });

  it('caps the open period', () => {
    expect([1, 2, 3, 4, 5, 40].map((n) => openPeriod(cfg, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
  });

  it('the holder notifies listeners and restores a persisted state without its probe flag', () => {
    const b = new CircuitBreaker(cfg);
    const seen: string[] = [];
    b.onChange((s) => seen.push(s.state));
    for (let i = 0; i < 3; i++) b.record({ ok: false, error: 'x' }, 10);
    expect(b.tryAcquire(11).allowed).toBe(false);
    expect(b.tryAcquire(1_010).probe).toBe(true);
    b.record({ ok: true }, 1_020);
    expect(seen).toEqual(['closed', 'closed', 'open', 'halfOpen', 'closed']);
    b.restore({ state: 'halfOpen', consecutiveFailures: 3, opens: 1, probeInFlight: true, retryAt: 5 });
    expect(b.tryAcquire(6)).toMatchObject({ allowed: true, probe: true });
  });
});
