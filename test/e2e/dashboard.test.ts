/**
 * The dashboard in a real headless Chromium (Debian `chromium`, playwright-core) against a real
 * controller (`run`) with simulator agents and a fake usage endpoint: the page loads the pool,
 * then follows a failover requested with its button and one triggered by quota, live over SSE
 * (the page is never reloaded). Saves a screenshot to test-output/dashboard.png (git ignores it);
 * with UPDATE_SCREENSHOTS=1 also to docs/dashboard.png, the picture docs/api.md shows. A plain test
 * run never rewrites a tracked file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, ensureChromium } from '../support/chromium-setup.js';
import { REPO } from '../support/cli.js';
import { until } from '../support/daemon.js';
import { SimPool } from '../support/pool.js';

let browser: Browser;
const pools: SimPool[] = [];

beforeAll(async () => {
  const executablePath = ensureChromium();
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}, 15 * 60_000);

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const p of pools.splice(0)) await closePool(p);
});

async function closePool(p: SimPool): Promise<void> {
  await p.daemon?.stop('SIGTERM');
  await p.close();
}

async function startPool(): Promise<{ pool: SimPool; url: string; token: string }> {
  const pool = new SimPool({ accounts: [{ name: 'a', priority: 10 }, { name: 'b', priority: 20 }], sessions: ['s1', 's2'], simEnv: { CLAUDE_SIM_WORK_MS: '300' }, daemonArgs: ['--listen', '127.0.0.1:0'] });
  pools.push(pool);
  await pool.setup({ a: { fiveHour: 35, sevenDay: 20 }, b: { fiveHour: 5, sevenDay: 12 } });
  const d = pool.start();
  const listening = await d.waitForLog((l) => l.msg === 'control plane listening', 30_000);
  const token = readFileSync(join(pool.stateDir, 'api-token'), 'utf8').trim();
  // The token never appears in the logs; only its path does.
  expect(JSON.stringify(d.lines)).not.toContain(token);
  return { pool, url: listening.url as string, token };
}

async function activeRow(page: Page): Promise<string | null> {
  return page.evaluate<string | null>(`document.querySelector('[data-testid="account-row"][data-active="true"]')?.getAttribute('data-name') ?? null`);
}

async function activities(page: Page): Promise<Record<string, string>> {
  return page.evaluate<Record<string, string>>(`Object.fromEntries([...document.querySelectorAll('[data-testid="session-row"]')].map((r) => [r.getAttribute('data-name'), r.querySelector('[data-testid="activity"]')?.textContent ?? '']))`);
}

async function eventReasons(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`[...document.querySelectorAll('[data-testid="event-row"]')].map((r) => r.getAttribute('data-reason') ?? '')`);
}

describe('dashboard', () => {
  it('loads the pool and follows failovers live over SSE', async () => {
    const { pool, url, token } = await startPool();
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${url}/#token=${encodeURIComponent(token)}`);
    // The token left the address bar (kept in this tab's sessionStorage only).
    expect(page.url()).toBe(`${url}/`);
    await page.evaluate('window.marker = 42');

    await page.waitForSelector('[data-testid="conn-state"]:has-text("live")', { timeout: 15_000 });
    await until(async () => (await activeRow(page)) === 'a', 20_000, 'account a shown active');
    const accounts = await page.$$eval('[data-testid="account-row"]', (rows) => rows.map((r) => r.getAttribute('data-name')));
    expect(accounts).toEqual(['a', 'b']);
    await until(async () => (await page.textContent('[data-testid="account-row"][data-name="a"]'))?.includes('35%') === true, 20_000, 'quota of a shown');
    expect(await page.$$('[data-testid="countdown"]')).not.toHaveLength(0);
    await until(async () => JSON.stringify(await activities(page)) === JSON.stringify({ s1: 'idle', s2: 'idle' }), 40_000, 'both sessions idle in the page');
    await until(async () => (await page.textContent('[data-testid="queue-row"][data-name="p"]')) !== null, 10_000, 'queue row');

    // "Fail over now" to b: the request is recorded, the Account controller moves the pool.
    await page.selectOption('[data-testid="failover-to"]', 'b');
    await page.fill('[data-testid="failover-reason"]', 'dashboard test');
    await page.click('[data-testid="failover-button"]');
    await page.waitForSelector('[data-testid="failover-result"]:has-text("failover to b requested")', { timeout: 10_000 });
    await until(async () => (await eventReasons(page)).includes('FailoverRequested'), 10_000, 'FailoverRequested shown');
    await until(async () => (await activeRow(page)) === 'b', 20_000, 'b shown active after the button');
    await until(() => pool.active() === 'b', 10_000, 'b recorded active in the state dir');
    await until(async () => (await eventReasons(page)).includes('FailoverStarted'), 10_000, 'FailoverStarted shown');
    await until(async () => JSON.stringify(await activities(page)) === JSON.stringify({ s1: 'idle', s2: 'idle' }), 40_000, 'sessions idle again on b');
    await until(async () => {
      const accountCells = await page.$$eval('[data-testid="session-row"]', (rows) => rows.map((r) => r.children[2]?.textContent));
      return accountCells.every((c) => c === 'b');
    }, 20_000, 'sessions shown on b');

    // b crosses its threshold at the usage endpoint: the pool moves back to a by itself.
    pool.usage.setWindows(pool.token('b'), { fiveHour: 96, sevenDay: 40 });
    await until(async () => (await activeRow(page)) === 'a', 30_000, 'a shown active after b crossed its threshold');
    await until(async () => (await page.textContent('[data-testid="account-row"][data-name="b"]'))?.includes('96%') === true, 20_000, 'b at 96% shown');
    await until(async () => (await eventReasons(page)).filter((r) => r === 'FailoverStarted').length >= 2, 10_000, 'second FailoverStarted shown');
    await until(async () => {
      const rows = await page.$$eval('[data-testid="session-row"]', (rs) => rs.map((r) => `${r.children[2]?.textContent}:${r.querySelector('[data-testid="activity"]')?.textContent}`));
      return rows.join() === 'a:idle,a:idle';
    }, 40_000, 'sessions idle on a in the page');

    // All of it arrived over the stream: the page was never reloaded.
    expect(await page.evaluate<number>('window.marker')).toBe(42);
    expect(errors).toEqual([]);
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
    mkdirSync(join(REPO, 'test-output'), { recursive: true });
    writeFileSync(join(REPO, 'test-output', 'dashboard.png'), shot);
    if (process.env.UPDATE_SCREENSHOTS === '1') writeFileSync(join(REPO, 'docs', 'dashboard.png'), shot);
    await page.close();
  }, 240_000);

  it('asks for the token when none is given, and refuses a wrong one', async () => {
    const { url, token } = await startPool();
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
    await page.fill('#token-input', 'wrong-token-value');
    await page.click('#login-form button');
    await page.waitForSelector('[data-testid="conn-state"]:has-text("refused")', { timeout: 10_000 });
    await page.fill('#token-input', token);
    await page.click('#login-form button');
    await page.waitForSelector('[data-testid="conn-state"]:has-text("live")', { timeout: 10_000 });
    await page.waitForSelector('#login[hidden]', { state: 'attached' });
    await until(async () => (await page.$$('[data-testid="account-row"]')).length === 2, 10_000, 'accounts after login');
    await page.close();
  }, 120_000);
});
