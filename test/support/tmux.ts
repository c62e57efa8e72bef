/** A private tmux server per test (`tmux -L <unique> -f /dev/null`), killed in teardown. */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class PrivateTmuxServer {
  readonly socket = `cf-test-${process.pid}-${randomBytes(4).toString('hex')}`;

  run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { encoding: 'utf8', input, env: { ...process.env, TMUX: '' } });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Session names on the server ([] when no server runs). */
  sessions(): string[] {
    const r = this.run(['list-sessions', '-F', '#{session_name}']);
    return r.status === 0 ? r.stdout.split('\n').filter(Boolean).sort() : [];
  }

  /** name -> pane pid */
  panePids(): Record<string, number> {
    const r = this.run(['list-panes', '-a', '-F', '#{session_name} #{pane_pid}']);
    if (r.status !== 0) return {};
    return Object.fromEntries(r.stdout.split('\n').filter(Boolean).map((l) => { const [n, p] = l.split(' '); return [n as string, Number(p)]; }));
  }

  serverRunning(): boolean {
    return this.run(['list-sessions']).status === 0;
  }

  kill(): void {
    try {
      execFileSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // no server: nothing to kill
    }
  }
}
