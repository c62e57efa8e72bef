import type { UsageSnapshot } from './quota.js';
import type { HookEventRecord } from './activity.js';

/**
 * Ports: how controllers and the runtime see the world. Adapters (src/adapters/) implement them
 * against tmux, the filesystem and HTTP; tests use the same adapters against private tmux
 * servers, temp dirs and local servers. Controllers never import node:fs, execa or undici.
 */

/** Milliseconds since the epoch. Injected so tests can use a fake clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface TmuxSessionInfo {
  name: string;
  /** Value of the `@cf-owner` user option, when the controller created the session. */
  owner: string | undefined;
  /** Seconds since the epoch, from `#{session_created}`. */
  created: number;
  panePid: number | undefined;
  paneDead: boolean;
  paneDeadStatus: number | undefined;
  /** The signal that killed the pane's process (a dead pane has a status or a signal, not both). */
  paneDeadSignal?: number;
  /** All `@cf-*` user options of the session (without the `@`). */
  options: Record<string, string>;
}

export interface NewSessionSpec {
  name: string;
  cwd: string;
  argv: string[];
  /** On top of the adapter's explicit base environment; the pane inherits nothing from the tmux server. */
  env: Record<string, string>;
  /** Never passed, even when `env` declares them. */
  unsetEnv: string[];
  owner: string;
  options: Record<string, string>;
}

export type SequenceStep = { keys: readonly string[] } | { literal: string } | { delayMs: number };

export interface TmuxPort {
  /** Sessions on the controller's tmux server; `[]` when no server runs (not an error). */
  listSessions(): Promise<TmuxSessionInfo[]>;
  /** Creates the session (exact name) with `remain-on-exit on` and the owner tag. */
  newSession(spec: NewSessionSpec): Promise<void>;
  /** Kills the session if it exists. Exact target. */
  killSession(name: string): Promise<void>;
  /** Sends key names (`Enter`, `C-c`) to the session's pane. */
  sendKeys(name: string, keys: readonly string[]): Promise<void>;
  /** Sends literal text via load-buffer + paste-buffer (no Enter). */
  pasteText(name: string, text: string): Promise<void>;
  /**
   * Keys, short literal text and pauses, in order, in one round trip (the pauses run inside the
   * tmux server). Literal text here must be one line not ending in `;` (longer or arbitrary text:
   * pasteText). Nothing is sent to a dead pane.
   */
  sendSequence(name: string, steps: readonly SequenceStep[]): Promise<void>;
  /** Visible pane text (plus `history` lines of scrollback). */
  capturePane(name: string, history?: number): Promise<string>;
  setOption(name: string, option: string, value: string): Promise<void>;
}

/** The git repository a directory belongs to (`git rev-parse`). */
export interface GitRepoInfo {
  /** Top level of the checkout holding the directory. */
  topLevel: string;
  /** The repository's common git dir (shared by all its worktrees), absolute. */
  commonDir: string;
  /** The directory's path inside the checkout, `''` at the top, else ending in `/` (`services/api/`). */
  prefix: string;
}

/** What is at a worktree's path. */
export type WorktreeState =
  | { state: 'missing' }
  /** A worktree (or the main checkout) of the repository whose common dir is `commonDir`. */
  | { state: 'worktree'; commonDir: string; topLevel: string; branch?: string; head?: string }
  /** Something else: a plain directory, a file, another repository's checkout. */
  | { state: 'other'; what: string };

/**
 * git, for the worktrees of sessions (`Session.spec.worktree`). Reads only; creation and removal
 * are effects (`git.addWorktree`, `git.removeWorktree`). A missing git binary is CF_ERR_GIT_MISSING.
 */
export interface GitPort {
  /** The repository `dir` is in; undefined when `dir` is not inside a git checkout (or does not exist). */
  repoOf(dir: string): Promise<GitRepoInfo | undefined>;
  /** What is at `path`. */
  worktreeAt(path: string): Promise<WorktreeState>;
  /** Uncommitted changes of the checkout at `path` (`git status --porcelain`: modified, staged, untracked), at most `limit`. */
  changes(path: string, limit?: number): Promise<string[]>;
}

export type PathKind = 'missing' | 'file' | 'directory' | 'symlink' | 'other';

export interface PathInfo {
  kind: PathKind;
  /** For symlinks: the link's target as stored. */
  target?: string;
  mtimeMs?: number;
  size?: number;
}

/** Read-only view of the filesystem for observation. Writes go through effects. */
export interface FsReadPort {
  inspect(path: string): Promise<PathInfo>;
  readText(path: string): Promise<string | undefined>;
  listDir(path: string): Promise<string[] | undefined>;
}

/** Where a session's hook events file has been read up to (opaque to its users; given back to `commit`). */
export interface EventsCursor {
  ino: number;
  offset: number;
  /** A torn last line, completed by the next append. */
  partial: string;
}

/**
 * The hook events of each session (src/adapters/session-events.ts). `read` never moves the cursor;
 * `commit` does, once what was planned from the records has been applied.
 */
export interface SessionEventsPort {
  read(session: string): Promise<{ records: HookEventRecord[]; cursor: EventsCursor | undefined }>;
  commit(session: string, cursor: EventsCursor): void;
}

/**
 * Small JSON records under the state dir, written atomically. `read` returns undefined when the
 * record does not exist. In dry-run the store is read-only.
 */
export interface StateStore {
  readonly dir: string;
  read<T>(name: string): Promise<T | undefined>;
  write(name: string, value: unknown): Promise<void>;
  append(name: string, line: unknown): Promise<void>;
  readLines<T>(name: string, limit?: number): Promise<T[]>;
}

/** Timers, injected so the work queue can be tested with a fake clock. */
export interface Timers extends Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  // Not unref'd: an awaited sleep must keep the process alive until it fires.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** Credentials as the controllers may see them: validity only, never the token. */
export type CredentialsCheck =
  /**
   * `accessTokenExpired`: the access token's `expiresAt` passed but a refresh token is present.
   * Claude Code refreshes it at launch, so the account is usable; its usage cannot be polled.
   */
  | { ok: true; expiresAt?: number; subscriptionType?: string; accessTokenExpired?: boolean }
  | { ok: false; reason: string; message: string };

export type UsageFetch =
  | { ok: true; snapshot: UsageSnapshot; observedAt: string }
  | { ok: false; kind: 'CredentialsExpired' | 'Forbidden' | 'RateLimited' | 'Unavailable' | 'NoCredentials'; retryAfterMs?: number; message: string };

/** A probe of the usage endpoint without a token: is its server up? */
export interface UsageProbe {
  reachable: boolean;
  message: string;
}

/** Quota of an account: the usage endpoint, read with the account's own token (never refreshed). */
export interface QuotaPort {
  readCredentials(configDir: string, now: number): Promise<CredentialsCheck>;
  fetchUsage(configDir: string, endpoint: string): Promise<UsageFetch>;
  /** A tokenless request while polls back off after server errors (costs nothing against the per-token throttle). */
  probeUsage(endpoint: string): Promise<UsageProbe>;
}
