/** The dashboard's picture of the pool, sent as the first SSE message and on manifest changes. */
import type { QueueCounts } from '../core/task.js';
import type { CfEvent } from '../runtime/events.js';
import type { ControllerState } from '../runtime/store.js';
import { listObjects, poolView, type ApiObject, type PoolView } from './objects.js';

export interface Snapshot {
  time: string;
  ready: boolean;
  revision?: string;
  rejected?: ControllerState['rejected'];
  pool: PoolView;
  accounts: ApiObject[];
  sessions: ApiObject[];
  projects: ApiObject[];
  delegation: ApiObject[];
  queues: Record<string, QueueCounts>;
  events: CfEvent[];
}

export function buildSnapshot(state: ControllerState, extra: { ready: boolean; queues: Record<string, QueueCounts>; events: CfEvent[]; now: Date }): Snapshot {
  const { desired, status } = state;
  return {
    time: extra.now.toISOString(),
    ready: extra.ready,
    ...(state.lastAppliedRevision ? { revision: state.lastAppliedRevision } : {}),
    ...(state.rejected ? { rejected: state.rejected } : {}),
    pool: poolView(desired, status),
    accounts: listObjects(desired, status, 'Account'),
    sessions: listObjects(desired, status, 'Session'),
    projects: listObjects(desired, status, 'Project'),
    delegation: listObjects(desired, status, 'DelegationPolicy'),
    queues: extra.queues,
    events: extra.events,
  };
}
