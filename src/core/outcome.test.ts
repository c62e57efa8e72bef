import { describe, expect, it } from 'vitest';
import { CfError, RetryableError, TerminalError } from './errors.js';
import { classifyFailure, ConflictError, reconcileResult, type ApplyFailure } from './outcome.js';

const f = (cls: ApplyFailure['class'], retryAfterMs?: number): ApplyFailure => ({ key: 'Project/p', error: cls, class: cls, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

describe('classifyFailure keeps the class, code, reason and retry delay of an error', () => {
  it.each([
    ['a conflict', new ConflictError('CF_ERR_CLAIM_LOST', 'ClaimLost', 'lost', { retryAfterMs: 0 }), { class: 'conflict', code: 'CF_ERR_CLAIM_LOST', reason: 'ClaimLost', retryAfterMs: 0 }],
    ['a retryable error with a delay', new RetryableError('CF_ERR_DELIVERY', 'DeliveryUnconfirmed', 'x', { retryAfterMs: 2500 }), { class: 'retryable', code: 'CF_ERR_DELIVERY', retryAfterMs: 2500 }],
    ['a retryable error without one', new RetryableError('CF_ERR_DELIVERY', 'DeliveryUnconfirmed', 'x'), { class: 'retryable', code: 'CF_ERR_DELIVERY' }],
    ['a terminal error', new TerminalError('CF_ERR_REQUEST_REJECTED', 'Rejected', 'no'), { class: 'terminal', code: 'CF_ERR_REQUEST_REJECTED', reason: 'Rejected' }],
    ['a coded error of no class', new CfError('CF_ERR_NOT_OWNER', 'not ours'), { class: 'unexpected', code: 'CF_ERR_NOT_OWNER' }],
    ['anything else', new Error('boom'), { class: 'unexpected', error: 'boom' }],
  ])('%s', (_name, err, want) => {
    const got = classifyFailure('Project/p', err);
    expect(got).toMatchObject({ key: 'Project/p', ...want });
    if (!('retryAfterMs' in want)) expect(got.retryAfterMs).toBeUndefined();
  });
});

describe('reconcileResult: the most urgent class wins', () => {
  it.each<[string, ApplyFailure[], number[], ReturnType<typeof reconcileResult>]>([
    ['nothing failed, nothing planned', [], [], { outcome: 'ok' }],
    ['nothing failed: the earliest planned follow-up', [], [30_000, 5_000], { outcome: 'ok', requeueAfterMs: 5_000 }],
    ['a terminal failure is not requeued for itself', [f('terminal')], [], { outcome: 'terminal', failures: [f('terminal')] }],
    ['a terminal failure keeps the planned follow-up', [f('terminal')], [60_000], { outcome: 'terminal', failures: [f('terminal')], requeueAfterMs: 60_000 }],
    ['a conflict is planned again at once by default', [f('conflict')], [60_000], { outcome: 'conflict', failures: [f('conflict')], retryAfterMs: 0 }],
    ['a conflict with a delay, and an earlier planned follow-up', [f('conflict', 5_000)], [1_000], { outcome: 'conflict', failures: [f('conflict', 5_000)], retryAfterMs: 1_000 }],
    ['a conflict over a terminal failure', [f('terminal'), f('conflict', 200)], [], { outcome: 'conflict', failures: [f('terminal'), f('conflict', 200)], retryAfterMs: 200 }],
    ['retryable with delays: the shortest', [f('retryable', 9_000), f('retryable', 3_000)], [], { outcome: 'retry', failures: [f('retryable', 9_000), f('retryable', 3_000)], retryAfterMs: 3_000 }],
    ['one retryable without a delay: back-off', [f('retryable', 3_000), f('retryable')], [], { outcome: 'retry', failures: [f('retryable', 3_000), f('retryable')] }],
    ['an unexpected error over a conflict: back-off', [f('conflict'), f('unexpected')], [], { outcome: 'retry', failures: [f('conflict'), f('unexpected')] }],
  ])('%s', (_name, failures, planned, want) => {
    expect(reconcileResult(failures, planned)).toEqual(want);
  });
});
