/**
 * Effects: the serializable commands a Change carries. Every effect is idempotent: running it
 * twice leaves the world as running it once. The runtime's executor maps each `type` to a port
 * call; controllers only ever build these objects.
 */

export interface TmuxNewSessionEffect {
  type: 'tmux.newSession';
  session: string;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
  /** Environment variables to remove from what the tmux server passes down. */
  unsetEnv: string[];
  /** Ownership tag value, `Session/<name>`. */
  owner: string;
  /** Extra tmux user options (`@cf-*`) to record on the session. */
  options: Record<string, string>;
}

export interface TmuxKillSessionEffect {
  type: 'tmux.killSession';
  session: string;
  /** Only kill when the session carries this owner tag. */
  owner: string;
}

/** Graceful stop: `/exit` then Ctrl-C, then kill after `graceMs`. */
export interface TmuxStopSessionEffect {
  type: 'tmux.stopSession';
  session: string;
  owner: string;
  graceMs: number;
}

export interface FsWriteJsonEffect {
  type: 'fs.writeJson';
  path: string;
  value: unknown;
  mode?: number;
}

/** Merge `patch` (deep, objects only) into the JSON file at `path`, keeping other keys. */
export interface FsMergeJsonEffect {
  type: 'fs.mergeJson';
  path: string;
  patch: Record<string, unknown>;
}

export interface FsSymlinkEffect {
  type: 'fs.symlink';
  path: string;
  target: string;
  /** Replace an existing symlink (never a real file or directory). */
  replaceLink: boolean;
}

export interface FsMkdirEffect {
  type: 'fs.mkdir';
  path: string;
}

/** Record a controller-level fact in the state dir (inventory, active account, ...). */
export interface StateRecordEffect {
  type: 'state.record';
  key: string;
  record: string;
  value: unknown;
}

/** Writes the safety guard's hook into `<project>/.claude/hooks/` (mode 0555). */
export interface GuardDeployEffect {
  type: 'guard.deploy';
  projectPath: string;
  session: string;
  mode: 'enforce' | 'warn' | 'off';
  /** Paths the guard protects from writes (state dir, manifests). */
  protectPaths: string[];
  /** On a relaunch, log a failed deployment and go on (the earlier one is in place). */
  failOpen?: boolean;
}

export type Effect =
  | TmuxNewSessionEffect
  | TmuxKillSessionEffect
  | TmuxStopSessionEffect
  | FsWriteJsonEffect
  | FsMergeJsonEffect
  | FsSymlinkEffect
  | FsMkdirEffect
  | StateRecordEffect
  | GuardDeployEffect;

export type EffectType = Effect['type'];
