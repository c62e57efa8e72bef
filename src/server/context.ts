/** What the route modules share: the deps plus the server's own readers and hubs. */
import type { Manager } from '../runtime/manager.js';
import type { ServerDeps } from './deps.js';
import type { EventLog } from './event-log.js';
import type { Metrics } from './metrics.js';
import type { QueueReader } from './queues.js';
import type { StreamHub } from './stream-hub.js';

export interface ServerContext {
  deps: ServerDeps;
  manager: Manager;
  metrics: Metrics;
  events: EventLog;
  queues: QueueReader;
  hub: StreamHub;
}
