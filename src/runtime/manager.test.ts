import { describe, expect, it } from 'vitest';
import type { ApplyFailure } from '../core/outcome.js';
import { ReconcileFailedError, workQueueAction } from './manager.js';

const failure = (cls: ApplyFailure['class'], retryAfterMs?: number): ApplyFailure => ({ key: 'Project/p', error: `${cls} failure`, class: cls, code: 'CF_ERR_TMUX', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

describe('workQueueAction: what the work queue does after a reconcile', () => {
  it.each([
    ['ok: the planned follow-up', { outcome: 'ok' as const, requeueAfterMs: 5000 }, { requeueAfterMs: 5000 }],
    ['ok: nothing', { outcome: 'ok' as const }, {}],
    ['terminal: not requeued for the failure', { outcome: 'terminal' as const, failures: [failure('terminal')] }, {}],
    ['terminal: the planned follow-up only', { outcome: 'terminal' as const, failures: [failure('terminal')], requeueAfterMs: 60_000 }, { requeueAfterMs: 60_000 }],
    ['conflict: planned again after its delay, no back-off', { outcome: 'conflict' as const, failures: [failure('conflict')], retryAfterMs: 0 }, { requeueAfterMs: 0 }],
  ])('%s', (_name, result, want) => {
    expect(workQueueAction(result)).toEqual(want);
  });

  it('retry: throws, keeping every failure and the delay (the queue waits retryAfterMs, else backs off)', () => {
    const failures = [failure('retryable', 2000), failure('unexpected')];
    let thrown: unknown;
    try {
      workQueueAction({ outcome: 'retry', failures, retryAfterMs: 2000 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ReconcileFailedError);
    expect(thrown).toMatchObject({ code: 'CF_ERR_RECONCILE_FAILED', retryAfterMs: 2000, failures, message: 'Project/p: retryable failure; Project/p: unexpected failure' });
    expect(() => workQueueAction({ outcome: 'retry', failures })).toThrow(expect.objectContaining({ retryAfterMs: undefined }));
  });
});
