/**
 * `claude-failover account login NAME`: the real CLI's login, in a tmux window under the account's
 * CLAUDE_CONFIG_DIR, and a wait until the CLI has stored the credentials.
 *
 * The login is the CLI's own: `claude auth login` when the installed CLI has it (2.x: `claude auth
 * login --claudeai`, subscription login), else `claude` and its `/login` command. The person signs in
 * in a browser and pastes the code into the window; the CLI writes `.credentials.json` itself. This
 * command only watches for that file (reading whether it is valid and when it expires; the token
 * values are never read out, logged or printed) and never writes it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../../api/duration.js';
import { readCredentials, CREDENTIALS_FILE } from '../../adapters/quota/credentials.js';
import { resolveExecutable } from '../../adapters/which.js';
import type { TmuxAdapter } from '../../adapters/tmux.js';
import { UNSET_ENV } from '../../controllers/session-launch.js';
import { CfError, UsageError } from '../../core/errors.js';
import { DEFAULT_TMUX_SOCKET, tmuxFor } from '../../runtime/wiring.js';
import { COMMON, parse } from '../args.js';
import type { CliIO } from '../io.js';
import { expandPath, findAccount, loadSet } from './account.js';

const HELP = `Usage: claude-failover account login NAME [-f PATH] [--tmux-socket NAME] [--timeout 15m] [--no-attach] [--force]
       claude-failover account login --config-dir DIR [...]

Logs an account in with the real Claude Code CLI: starts its login in tmux session "login-NAME"
on the controller's tmux server, with CLAUDE_CONFIG_DIR set to the account's config dir, and
waits until the CLI has stored the credentials (<config dir>/${CREDENTIALS_FILE}).
  - \`claude auth login --claudeai\` when the installed CLI has it, else \`claude\` and \`/login\`;
  - in a terminal, you are attached to the window: open the URL it shows, sign in with THIS
    account, paste the code back; the window closes when the login is done (detach: Ctrl-b d,
    the wait goes on); --no-attach (or no terminal) prints the attach command instead.
claude-failover never writes, copies or prints tokens: the CLI writes the file, this command only
checks that it is there, valid, and when the access token expires.

Options:
  -f, --filename PATH     Manifests declaring the account (or CLAUDE_FAILOVER_MANIFESTS)
      --config-dir DIR    Log this config dir in instead of a declared account's
      --tmux-socket NAME  tmux server (-L NAME, or a socket path; default ${DEFAULT_TMUX_SOCKET})
      --command PATH      The claude executable (default: claude on PATH)
      --timeout DURATION  How long to wait for the credentials (default 15m)
      --no-attach         Do not attach this terminal to the login window
      --force             Log in again even when valid credentials are there

Exit codes: 0 logged in (or already), 1 the login ended without credentials, timed out, or an error.

Examples:
  claude-failover account login backup2 -f manifests/
  claude-failover account login backup2 -f manifests/ --no-attach    # then: tmux -L ${DEFAULT_TMUX_SOCKET} attach -t =login-backup2
`;

/** How the installed CLI logs in: a subcommand (`claude auth login`), or `/login` inside the TUI. */
export type LoginForm = { kind: 'subcommand'; args: string[] } | { kind: 'slash'; args: string[] };

/** From the CLI's `auth --help` and `auth login --help` texts. Pure. */
export function loginForm(authHelp: string, loginHelp: string): LoginForm {
  const commands = authHelp.split(/^Commands:\s*$/m)[1] ?? '';
  if (!/^\s+login\b/m.test(commands)) return { kind: 'slash', args: [] };
  return { kind: 'subcommand', args: ['auth', 'login', ...(/--claudeai\b/.test(loginHelp) ? ['--claudeai'] : [])] };
}

function cliEnv(io: CliIO, configDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...io.env, CLAUDE_CONFIG_DIR: configDir, DISABLE_AUTOUPDATER: '1', NO_COLOR: '1' };
  for (const k of UNSET_ENV) delete env[k];
  return env;
}

function helpText(command: string, args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(command, args, { env, encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The last non-empty lines of a pane, for a message. */
function tail(text: string, n = 6): string {
  return text.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-n).join('\n');
}

async function sessionState(tmux: TmuxAdapter, name: string): Promise<{ alive: boolean; dead?: boolean; status?: number; owner?: string }> {
  const s = (await tmux.listSessions()).find((x) => x.name === name);
  if (!s) return { alive: false };
  return { alive: !s.paneDead, dead: s.paneDead, ...(s.paneDeadStatus !== undefined ? { status: s.paneDeadStatus } : {}), ...(s.owner ? { owner: s.owner } : {}) };
}

export async function accountLogin(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<{ help?: boolean; filename?: string[]; 'config-dir'?: string; 'tmux-socket'?: string; command?: string; timeout?: string; 'no-attach'?: boolean; force?: boolean }>(args, {
    filename: COMMON.filename,
    'config-dir': { type: 'string' },
    'tmux-socket': COMMON['tmux-socket'],
    command: { type: 'string' },
    timeout: { type: 'string' },
    'no-attach': { type: 'boolean' },
    force: { type: 'boolean' },
  }, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [nameArg, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const timeoutMs = parseDuration(values.timeout ?? '15m');
  if (timeoutMs === undefined || timeoutMs < 1000) throw new UsageError('--timeout must be a duration of at least 1s, e.g. 15m');
  const home = io.env.HOME || homedir();
  let configDir: string;
  let name: string;
  if (values['config-dir'] !== undefined) {
    configDir = expandPath(values['config-dir'], io.cwd, home);
    name = nameArg ?? configDir.split('/').filter(Boolean).at(-1) ?? 'account';
  } else {
    if (!nameArg) throw new UsageError('account login needs the account NAME (or --config-dir DIR)');
    const files = values.filename && values.filename.length > 0 ? values.filename : (io.env.CLAUDE_FAILOVER_MANIFESTS ?? '').split(':').filter(Boolean);
    if (files.length === 0) throw new UsageError('pass -f with the manifests that declare the account (or --config-dir DIR)');
    configDir = findAccount(await loadSet(files, io), nameArg).spec.configDir;
    name = nameArg;
  }
  const session = `login-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

  const before = await readCredentials(configDir);
  if (before.ok && !values.force) {
    io.stdout.write(`account ${name} is logged in already (${configDir}/${CREDENTIALS_FILE}${before.credentials.expiresAt ? `, access token expires ${new Date(before.credentials.expiresAt).toISOString()}` : ''}); --force logs it in again\n`);
    return 0;
  }
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  await chmod(configDir, 0o700);

  const command = await resolveExecutable(values.command ?? 'claude', io.env.PATH ?? '');
  if (!command) throw new CfError('CF_ERR_COMMAND_NOT_FOUND', `${values.command ?? 'claude'} not found${values.command ? '' : ' on PATH'}: install Claude Code (npm install -g @anthropic-ai/claude-code) or pass --command PATH`);
  const env = cliEnv(io, configDir);
  const form = loginForm(helpText(command, ['auth', '--help'], env), helpText(command, ['auth', 'login', '--help'], env));

  const tmux = tmuxFor(values['tmux-socket']);
  const existing = await sessionState(tmux, session);
  if (existing.alive || existing.dead) {
    if (existing.owner !== `Login/${name}`) throw new CfError('CF_ERR_TMUX_EXISTS', `a tmux session "${session}" exists that claude-failover did not start; close it first`);
    await tmux.killSession(session); // an earlier login attempt
  }
  await tmux.newSession({ name: session, cwd: home, argv: [command, ...form.args], env: { CLAUDE_CONFIG_DIR: configDir, DISABLE_AUTOUPDATER: '1' }, unsetEnv: UNSET_ENV, owner: `Login/${name}`, options: {} });
  const attachCmd = `tmux ${tmux.socketArgs().join(' ')} attach -t =${session}`;
  io.stdout.write(`account login ${name}: \`${[command, ...form.args].join(' ')}\` runs in tmux session "${session}" with CLAUDE_CONFIG_DIR=${configDir}\n`);
  io.stdout.write(`  attach:  ${attachCmd}      (detach: Ctrl-b d)\n`);
  io.stdout.write(`  Open the URL it shows, sign in with the account for "${name}", and paste the code back into the window.\n`);
  io.stdout.write(`waiting up to ${Math.round(timeoutMs / 1000)}s for ${join(configDir, CREDENTIALS_FILE)} ...\n`);

  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let attach: Promise<void> | undefined;
  try {
    if (form.kind === 'slash') {
      // The TUI first: wait for its prompt, then ask it to log in.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !interrupted) {
        const pane = await tmux.capturePane(session).catch(() => '');
        if (/[❯>]\s*$/m.test(pane) || /\/login/.test(pane)) break;
        if (!(await sessionState(tmux, session)).alive) break;
        await sleep(250);
      }
      await tmux.pasteText(session, '/login').catch(() => {});
      await sleep(300);
      await tmux.sendKeys(session, ['Enter']).catch(() => {});
    }
    const interactive = (process.stdin as { isTTY?: boolean }).isTTY === true && (process.stdout as { isTTY?: boolean }).isTTY === true;
    if (interactive && !values['no-attach'] && !io.env.TMUX) {
      attach = new Promise((resolveAttach) => {
        const child = spawn('tmux', [...tmux.socketArgs(), 'attach', '-t', `=${session}`], { stdio: 'inherit' });
        child.on('exit', () => resolveAttach());
        child.on('error', () => resolveAttach());
      });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const creds = await readCredentials(configDir);
      if (creds.ok) {
        await finish(tmux, session, form);
        await attach;
        const c = creds.credentials;
        io.stdout.write(`logged in: ${name}${c.subscriptionType ? ` (${c.subscriptionType} subscription)` : ''}; credentials in ${c.path}${c.expiresAt ? `, access token expires ${new Date(c.expiresAt).toISOString()} (the CLI refreshes it while it runs)` : ''}\n`);
        io.stdout.write('check the pool: claude-failover account check -f <manifests>\n');
        return 0;
      }
      const st = await sessionState(tmux, session);
      if (!st.alive) {
        const pane = st.dead ? await tmux.capturePane(session, 200).catch(() => '') : '';
        await tmux.killSession(session).catch(() => {});
        await attach;
        // The CLI may write the file as it exits.
        if ((await readCredentials(configDir)).ok) continue;
        io.stderr.write(`account login ${name}: the login ended without credentials${st.status !== undefined ? ` (exit ${st.status})` : ''}${pane ? `; its last lines:\n${tail(pane)}\n` : '\n'}`);
        if (!creds.ok && creds.problem.reason !== 'CredentialsMissing') io.stderr.write(`  ${creds.problem.message}\n`);
        return 1;
      }
      if (interrupted || Date.now() >= deadline) {
        await tmux.killSession(session).catch(() => {});
        await attach;
        io.stderr.write(`account login ${name}: ${interrupted ? 'interrupted' : `no credentials after ${Math.round(timeoutMs / 1000)}s`}; the login window was closed. Run it again when ready.\n`);
        return 1;
      }
      await sleep(500);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Lets the CLI finish after writing the credentials (it may write more, e.g. .claude.json), then closes the window. */
async function finish(tmux: TmuxAdapter, session: string, form: LoginForm): Promise<void> {
  if (form.kind === 'slash') {
    await tmux.pasteText(session, '/exit').catch(() => {});
    await sleep(300);
    await tmux.sendKeys(session, ['Enter']).catch(() => {});
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await sessionState(tmux, session)).alive) await sleep(200);
  await tmux.killSession(session).catch(() => {});
}
