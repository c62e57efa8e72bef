import { describe, expect, it } from 'vitest';
import { countLine, emptyCounters } from '../../src/guard/audit.js';

describe('guard counters', () => {
  it('do not count the deployment self-check as an agent decision', () => {
    const c = emptyCounters();
    countLine(c, JSON.stringify({ decision: 'deny', rule: 'protected-path', enforced: true, probe: true }));
    countLine(c, JSON.stringify({ decision: 'deny', rule: 'protected-path', enforced: true }));
    expect(c.decisions.deny).toBe(1);
    expect(c.blocked).toBe(1);
    expect(c.rules['deny/protected-path']).toBe(1);
  });
});
