/**
 * Pools for e2e tests: accounts with credentials and shared state, a stand-in of Anthropic's
 * endpoints on 127.0.0.1, agent sessions on a private tmux server, and a running controller.
 * {@link SimPool} runs the Claude Code simulator; test/conformance/real-pool.ts runs the real CLI.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeUsageServer, type FakeUsageServer, type FakeWindows } from './fake-usage-server.js';
import { SIM_BIN } from './cli.js';
import { DaemonProcess, until } from './daemon.js';
import { removeAgentTree, tempDir } from './manifests.js';
import { PrivateTmuxServer } from './tmux.js';

export interface PoolAccount {
  name: string;
  priority: number;
  /** Extra lines under `spec.quota:` (indented 4 spaces). */
  extra?: string;
  /**
   * `valid` (default: a token the stand-in knows, expiring in a week), `expired` (its access token
   * expired; a refresh token is present), or `none` (not logged in).
   */
  credentials?: 'valid' | 'expired' | 'none';
}

export interface PoolSession {
  name: string;
  command: string[];
  env: Record<string, string>;
}

/** An OAuth credentials file as Claude Code keeps it (`<configDir>/.credentials.json`, mode 0600). */
export function writeCredentials(configDir: string, accessToken: string, expired = false): void {
  mkdirSync(configDir, { recursive: true });
  const expiresAt = expired ? Date.now() - 3 * 3_600_000 : Date.now() + 7 * 86_400_000;
  writeFileSync(join(configDir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken, refreshToken: 'r', expiresAt, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
}

/** What the two pools share: the layout under one temp root and the readers of the controller's state. */
export abstract class PoolBase {
  readonly root = tempDir('pool');
  readonly tmux = new PrivateTmuxServer();
  readonly stateDir = join(this.root, 'state');
  readonly shared = join(this.root, 'shared');
  readonly manifests = join(this.root, 'manifests');
  readonly project = join(this.root, 'project');
  daemon: DaemonProcess | undefined;

  configDir(account: string): string {
    return join(this.root, 'accounts', account);
  }

  token(account: string): string {
    return `sk-ant-oat01-test-${account}`;
  }

  /** Writes the manifests: accounts (with credentials), project `p`, sessions, then `extra` documents. */
  protected writePool(accounts: readonly PoolAccount[], usageEndpoint: string, pollInterval: string, sessions: readonly PoolSession[], extra: readonly string[] = []): void {
    for (const a of accounts) {
      mkdirSync(this.configDir(a.name), { recursive: true });
      if ((a.credentials ?? 'valid') !== 'none') writeCredentials(this.configDir(a.name), this.token(a.name), a.credentials === 'expired');
    }
    mkdirSync(this.manifests, { recursive: true });
    const docs = accounts.map((a) => `apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata:
  name: ${a.name}
spec:
  configDir: ${this.configDir(a.name)}
  priority: ${a.priority}
  sharedStateDir: ${this.shared}
  quota:
    pollInterval: ${pollInterval}
    usageEndpoint: ${usageEndpoint}
${a.extra ?? ''}`);
    docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${this.project}\n`);
    for (const s of sessions) {
      const env = Object.entries(s.env);
      docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${s.name}\nspec:\n  project: p\n  command: ${JSON.stringify(s.command)}\n${env.length > 0 ? `  env:\n${env.map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}\n` : ''}`);
    }
    docs.push(...extra);
    writeFileSync(join(this.manifests, 'pool.yaml'), docs.join('---\n'));
  }

  /** Starts `claude-failover run` on the pool (paths, socket and `extra` only). */
  protected startDaemon(extra: string[]): DaemonProcess {
    this.daemon = new DaemonProcess(['-f', this.manifests, '--state-dir', this.stateDir, '--tmux-socket', this.tmux.socket, ...extra]);
    return this.daemon;
  }

  status(): Record<string, Record<string, unknown>> {
    try {
      return JSON.parse(readFileSync(join(this.stateDir, 'status.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    } catch {
      return {};
    }
  }

  active(): string | null | undefined {
    return this.status()['Account/*']?.activeAccount as string | null | undefined;
  }

  session(name: string): Record<string, unknown> | undefined {
    return this.status()[`Session/${name}`];
  }

  events(): { key: string; type: string; reason: string; message: string; time: string; data?: Record<string, unknown> }[] {
    try {
      return readFileSync(join(this.stateDir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { key: string; type: string; reason: string; message: string; time: string });
    } catch {
      return [];
    }
  }

  /** Delivers a prompt the way the controller does: paste, then a separate Enter. */
  async prompt(session: string, text: string): Promise<void> {
    this.tmux.run(['load-buffer', '-b', 'tp', '-'], text);
    this.tmux.run(['if-shell', '-F', '-t', `=${session}:`, '#{pane_dead}', '', `paste-buffer -p -r -d -b tp -t =${session}:`]);
    await new Promise((r) => setTimeout(r, 300));
    this.tmux.run(['send-keys', '-t', `=${session}:`, 'Enter']);
  }

  async waitIdle(names: string[], account?: string, ms = 30_000): Promise<void> {
    await until(() => names.every((n) => {
      const s = this.session(n);
      return s?.activity === 'idle' && (account === undefined || s.account === account);
    }), ms, `sessions ${names.join(',')} idle${account ? ` on ${account}` : ''}`);
  }

  protected abstract closeServers(): Promise<void>;

  /** Stops everything (a daemon still running is killed) and removes the pool's files. */
  async close(): Promise<void> {
    await this.daemon?.stop('SIGKILL');
    this.tmux.kill();
    await this.closeServers();
    await removeAgentTree(this.root);
  }
}

export interface PoolSpec {
  accounts: PoolAccount[];
  sessions: string[];
  /** Per-session command (default: the simulator) and extra environment. */
  sessionSpecs?: Record<string, { command?: string[]; env?: Record<string, string> }>;
  /** More manifest documents (e.g. a Notifier), appended as they are. */
  extraManifests?: string[];
  simEnv?: Record<string, string>;
  pollInterval?: string;
  daemonArgs?: string[];
}

/** A pool of simulator sessions with the usage-endpoint stand-in. */
export class SimPool extends PoolBase {
  readonly simLog = join(this.root, 'sim.jsonl');
  usage!: FakeUsageServer;

  constructor(readonly spec: PoolSpec) {
    super();
  }

  async setup(initial: Record<string, FakeWindows>): Promise<void> {
    this.usage = await startFakeUsageServer();
    for (const a of this.spec.accounts) this.usage.setWindows(this.token(a.name), initial[a.name] ?? { fiveHour: 10, sevenDay: 10 });
    const env = { CLAUDE_SIM_LOG: this.simLog, ...this.spec.simEnv };
    const sessions = this.spec.sessions.map((name) => {
      const own = this.spec.sessionSpecs?.[name];
      return { name, command: own?.command ?? [SIM_BIN, '--dangerously-skip-permissions'], env: { ...env, ...own?.env } };
    });
    this.writePool(this.spec.accounts, this.usage.endpoint, this.spec.pollInterval ?? '1s', sessions, this.spec.extraManifests);
  }

  start(extra: string[] = []): DaemonProcess {
    return this.startDaemon(['--resync', '2s', ...(this.spec.daemonArgs ?? []), ...extra]);
  }

  sim(): Record<string, unknown>[] {
    try {
      return readFileSync(this.simLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  }

  invocations(): { argv: string[]; env: Record<string, string>; time: string }[] {
    return this.sim().filter((r) => r.type === 'invocation') as unknown as { argv: string[]; env: Record<string, string>; time: string }[];
  }

  /** Writes the simulator's per-account usage file (what the sim itself believes). */
  simUsage(account: string, fiveHour: number, resetsInMs = 3_600_000): void {
    const dir = join(this.configDir(account), 'claude-sim');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'usage.json'), JSON.stringify({ five_hour: { utilization: fiveHour, resets_at: new Date(Date.now() + resetsInMs).toISOString() }, seven_day: { utilization: 10, resets_at: new Date(Date.now() + 5 * 86_400_000).toISOString() } }));
  }

  protected async closeServers(): Promise<void> {
    await this.usage?.close();
  }
}
