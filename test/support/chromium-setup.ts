/**
 * Headless Chromium for the dashboard test: Debian's `chromium` package, driven by playwright-core
 * with `executablePath: /usr/bin/chromium`. Installed with apt-get when missing (as root, or
 * through sudo). Usable as a vitest globalSetup (`setup`) or called from a test's beforeAll.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags every launch uses (no GPU, no sandbox in containers, no background traffic). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function ensureChromium(): string {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['apt-get', 'update'], ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium', 'fonts-liberation']]) {
    const cmd = [...sudo, ...args];
    const r = spawnSync(cmd[0] as string, cmd.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
    if (r.status !== 0) throw new Error(`installing chromium failed (${cmd.join(' ')}): exit ${r.status}\n${r.stderr.slice(-2000)}`);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is missing`);
  return CHROMIUM;
}

/** vitest globalSetup entry. */
export function setup(): void {
  ensureChromium();
}
