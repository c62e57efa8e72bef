/** Types of bench/lib/chaos.mjs (the chaos run shared by bench/chaos.mjs and the e2e test). */
export interface ChaosOptions {
  tasks: number;
  kills: number;
  sessions: number;
  workMs?: number;
  minKillGapMs?: number;
  maxKillGapMs?: number;
  timeoutMs?: number;
  staleDispatchAfter?: string;
  log?: (s: string) => void;
  keep?: boolean;
  seed?: number;
}

export interface ChaosRedelivery {
  taskId: string;
  first: string;
  again: string;
  sameSession: boolean;
  explainedBy: string | null;
}

export interface ChaosReport {
  seed: number;
  tasks: number;
  sessions: number;
  kills: number;
  restarts: number;
  done: number;
  notDone: number;
  notInExactlyOneState: string[];
  neverDelivered: number;
  deliveries: number;
  redeliveries: number;
  unexplainedRedeliveries: ChaosRedelivery[];
  redeliveriesToAnotherSession: number;
  overlappingDeliveries: string[];
  maxAttemptsInFooters: number;
  tasksWithAttemptsAbove1: number;
  controllerDeliveriesLogged: number;
  requeues: string[];
  durationMs: number;
  redeliveryDetails: ChaosRedelivery[];
  root: string;
}

export function runChaos(opts: ChaosOptions): Promise<ChaosReport>;

export function snapshotBuild(): { dir: string; cli: string; sim: string; queue: string; remove(): void };
