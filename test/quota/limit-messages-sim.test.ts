/**
 * Round trip with the Claude Code simulator: whatever limit message the simulator prints (the
 * forms Claude Code prints), the parser recovers the reset instant.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { limitMessage, formatReset, type LimitKind as SimKind } from '../../src/sim/usage.js';
import { parseLimitMessage } from '../../src/core/limit-messages.js';

const FIXED_ZONES = ['UTC', 'Asia/Tokyo', 'Asia/Kolkata', 'Etc/GMT+5', 'Asia/Kathmandu'];
const DST_ZONES = ['Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Australia/Sydney', 'Europe/London', 'America/Santiago', 'Pacific/Chatham'];
const MIN = 60_000;
const floorMin = (ms: number): number => Math.floor(ms / MIN) * MIN;

const arb = (zones: string[]) =>
  fc.record({
    now: fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-12-31T00:00:00Z') }),
    kind: fc.constantFrom<SimKind>('five_hour', 'weekly', 'opus'),
    aheadMin: fc.integer({ min: 2, max: 6 * 24 * 60 }),
    zone: fc.constantFrom(...zones),
    withZone: fc.boolean(),
  });

function parse(p: { now: number; kind: SimKind; aheadMin: number; zone: string; withZone: boolean }) {
  // Time-only forms are unambiguous within a day; weekday forms within a week.
  const ahead = p.kind === 'weekly' ? p.aheadMin : p.aheadMin % (23 * 60) + 2;
  const reset = new Date(p.now + ahead * MIN);
  const text = limitMessage({ kind: p.kind, resetsAt: reset }, p.zone, p.withZone);
  const m = parseLimitMessage(text, { now: new Date(p.now), defaultTimeZone: p.zone });
  return { reset, text, m };
}

describe('simulator limit messages → parser', () => {
  it('fixed-offset zones: exact reset instant (to the minute)', () => {
    fc.assert(
      fc.property(arb(FIXED_ZONES), (p) => {
        const { reset, text, m } = parse(p);
        expect(m, text).not.toBeNull();
        expect(m?.kind).toBe(p.kind);
        expect(m?.resetsAt?.getTime(), text).toBe(floorMin(reset.getTime()));
      }),
      { numRuns: 400 },
    );
  });

  it('DST zones: same wall-clock text, within an hour (only an ambiguous hour may differ)', () => {
    fc.assert(
      fc.property(arb(DST_ZONES), (p) => {
        const { reset, text, m } = parse(p);
        const got = m?.resetsAt;
        expect(got, text).toBeDefined();
        if (!got) return;
        const diff = got.getTime() - floorMin(reset.getTime());
        if (diff !== 0) {
          // The later of two identical wall-clock times: same text, one DST shift apart.
          expect(formatReset(got, p.kind, p.zone)).toBe(formatReset(reset, p.kind, p.zone));
          expect(Math.abs(diff)).toBeLessThanOrEqual(60 * MIN);
        }
      }),
      { numRuns: 600 },
    );
  });
});
