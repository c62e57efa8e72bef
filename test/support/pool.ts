/**
 * A simulated pool for e2e tests: accounts with credentials and shared state, a fake usage
 * endpoint on 127.0.0.1, simulator sessions on a private tmux server, and a running controller.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeUsageServer, type FakeUsageServer, type FakeWindows } from './fake-usage-server.js';
import { SIM_BIN } from './cli.js';
import { DaemonProcess, until } from './daemon.js';
import { removeAgentTree, tempDir } from './manifests.js';
import { PrivateTmuxServer } from './tmux.js';

export interface PoolSpec {
  /**
   * `credentials`: `valid` (default: a token the fake usage endpoint knows, expiring in a week),
   * `expired` (its access token expired; a refresh token is present), or `none` (not logged in).
   */
  accounts: { name: string; priority: number; extra?: string; credentials?: 'valid' | 'expired' | 'none' }[];
  sessions: string[];
  /** Per-session command (default: the simulator) and extra environment. */
  sessionSpecs?: Record<string, { command?: string[]; env?: Record<string, string> }>;
  /** More manifest documents (e.g. a Notifier), appended as they are. */
  extraManifests?: string[];
  simEnv?: Record<string, string>;
  pollInterval?: string;
  daemonArgs?: string[];
}

export class SimPool {
  readonly root = tempDir('pool');
  readonly tmux = new PrivateTmuxServer();
  readonly stateDir = join(this.root, 'state');
  readonly shared = join(this.root, 'shared');
  readonly simLog = join(this.root, 'sim.jsonl');
  readonly manifests = join(this.root, 'manifests');
  usage!: FakeUsageServer;
  daemon: DaemonProcess | undefined;

  constructor(readonly spec: PoolSpec) {}

  configDir(account: string): string {
    return join(this.root, 'accounts', account);
  }

  token(account: string): string {
    return `sk-ant-oat01-test-${account}`;
  }

  async setup(initial: Record<string, FakeWindows>): Promise<void> {
    this.usage = await startFakeUsageServer();
    for (const a of this.spec.accounts) {
      const dir = this.configDir(a.name);
      mkdirSync(dir, { recursive: true });
      const credentials = a.credentials ?? 'valid';
      if (credentials !== 'none') {
        const expiresAt = credentials === 'expired' ? Date.now() - 3 * 3_600_000 : Date.now() + 7 * 86_400_000;
        writeFileSync(join(dir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: this.token(a.name), refreshToken: 'r', expiresAt, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
      }
      this.usage.setWindows(this.token(a.name), initial[a.name] ?? { fiveHour: 10, sevenDay: 10 });
    }
    mkdirSync(this.manifests, { recursive: true });
    const docs = this.spec.accounts.map((a) => `apiVersion: claudefailover.io/v1alpha1
kind: Account
metadata:
  name: ${a.name}
spec:
  configDir: ${this.configDir(a.name)}
  priority: ${a.priority}
  sharedStateDir: ${this.shared}
  quota:
    pollInterval: ${this.spec.pollInterval ?? '1s'}
    usageEndpoint: ${this.usage.endpoint}
${a.extra ?? ''}`);
    docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: p\nspec:\n  path: ${join(this.root, 'project')}\n`);
    const env = { CLAUDE_SIM_LOG: this.simLog, ...this.spec.simEnv };
    for (const s of this.spec.sessions) {
      const own = this.spec.sessionSpecs?.[s];
      const sessionEnv = { ...env, ...own?.env };
      docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ${s}\nspec:\n  project: p\n  command: ${JSON.stringify(own?.command ?? [SIM_BIN, '--dangerously-skip-permissions'])}\n  env:\n${Object.entries(sessionEnv).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
    }
    docs.push(...(this.spec.extraManifests ?? []));
    writeFileSync(join(this.manifests, 'pool.yaml'), docs.join('---\n'));
  }

  start(extra: string[] = []): DaemonProcess {
    this.daemon = new DaemonProcess(['-f', this.manifests, '--state-dir', this.stateDir, '--tmux-socket', this.tmux.socket, '--resync', '2s', ...(this.spec.daemonArgs ?? []), ...extra]);
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

  /** Delivers a prompt the way the controller does: paste, then a separate Enter. */
  async prompt(session: string, text: string): Promise<void> {
    this.tmux.run(['load-buffer', '-b', 'tp', '-'], text);
    this.tmux.run(['if-shell', '-F', '-t', `=${session}:`, '#{pane_dead}', '', `paste-buffer -p -r -d -b tp -t =${session}:`]);
    await new Promise((r) => setTimeout(r, 300));
    this.tmux.run(['send-keys', '-t', `=${session}:`, 'Enter']);
  }

  /** Writes the simulator's per-account usage file (what the sim itself believes). */
  simUsage(account: string, fiveHour: number, resetsInMs = 3_600_000): void {
    const dir = join(this.configDir(account), 'claude-sim');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'usage.json'), JSON.stringify({ five_hour: { utilization: fiveHour, resets_at: new Date(Date.now() + resetsInMs).toISOString() }, seven_day: { utilization: 10, resets_at: new Date(Date.now() + 5 * 86_400_000).toISOString() } }));
  }

  async waitIdle(names: string[], account?: string, ms = 30_000): Promise<void> {
    await until(() => names.every((n) => {
      const s = this.session(n);
      return s?.activity === 'idle' && (account === undefined || s.account === account);
    }), ms, `sessions ${names.join(',')} idle${account ? ` on ${account}` : ''}`);
  }

  /** Stops everything (a daemon still running is killed) and removes the pool's files. */
  async close(): Promise<void> {
    await this.daemon?.stop('SIGKILL');
    this.tmux.kill();
    await this.usage?.close();
    await removeAgentTree(this.root);
  }
}
