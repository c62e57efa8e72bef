#!/usr/bin/env node
/**
 * claude-sim: a `claude`-compatible executable for claude-failover's tests and demo.
 * See docs/simulator.md. Run as `node dist/sim/claude-sim.js …` or through src/sim/bin/claude.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { runPrintMode, SimApp } from './app.js';
import { parseArgs, SimArgsError, USAGE } from './args.js';
import { configDirFrom, findTranscript, latestTranscript, resumableTranscript, simPaths, transcriptPathFor } from './paths.js';
import { SIM_VERSION, SimLog, Transcript, transcriptTail } from './records.js';
import { Screen } from './screen.js';
import { loadSettings, SettingsFileNotFoundError } from './settings.js';

function fail(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function intEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

function authStatus(configDir: string): never {
  let loggedIn = false;
  let subscriptionType: string | null = null;
  try {
    const creds = JSON.parse(readFileSync(`${configDir}/.credentials.json`, 'utf8')) as { claudeAiOauth?: { accessToken?: unknown; subscriptionType?: unknown } };
    loggedIn = typeof creds.claudeAiOauth?.accessToken === 'string';
    subscriptionType = typeof creds.claudeAiOauth?.subscriptionType === 'string' ? creds.claudeAiOauth.subscriptionType : null;
  } catch {
    loggedIn = false;
  }
  let email: string | null = null;
  try {
    const state = JSON.parse(readFileSync(`${configDir}/.claude.json`, 'utf8')) as { oauthAccount?: { emailAddress?: unknown } };
    email = typeof state.oauthAccount?.emailAddress === 'string' ? state.oauthAccount.emailAddress : null;
  } catch {
    email = null;
  }
  process.stdout.write(`${JSON.stringify({ loggedIn, authMethod: loggedIn ? 'claude.ai' : 'none', email, subscriptionType }, null, 2)}\n`);
  process.exit(loggedIn ? 0 : 1);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const env = process.env;
  let args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof SimArgsError) fail(e.message);
    throw e;
  }
  if (args.version) {
    process.stdout.write(`${SIM_VERSION} (Claude Code simulator)\n`);
    process.exit(0);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const configDir = configDirFrom(env);
  if (args.subcommand !== undefined) {
    if (args.subcommand[0] === 'auth' && args.subcommand[1] === 'status') authStatus(configDir);
    fail(`error: the simulator does not implement '${args.subcommand.join(' ')}'`);
  }
  if (args.skipPermissions && env['CLAUDE_SIM_ENFORCE_ROOT_CHECK'] === '1' && process.getuid?.() === 0 && env['IS_SANDBOX'] !== '1') {
    fail('--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons');
  }
  const cwd = process.cwd();
  const paths = simPaths(configDir);

  // Session identity: --resume / --continue / --session-id / a fresh uuid.
  let sessionId: string;
  let resumedFrom: string | undefined;
  let resumed = false;
  if (args.resume !== undefined) {
    if (args.resume === true) fail('Error: --resume without a session ID opens an interactive picker, which the simulator does not implement');
    const found = resumableTranscript(configDir, cwd, args.resume);
    if (found === undefined) fail(`No conversation found with session ID: ${args.resume}`);
    resumed = true;
    resumedFrom = found;
    sessionId = args.resume;
  } else if (args.continue) {
    const latest = latestTranscript(configDir, cwd);
    if (latest === undefined) fail('No conversation found to continue');
    resumed = true;
    resumedFrom = latest.path;
    sessionId = latest.sessionId;
  } else if (args.sessionId !== undefined) {
    if (findTranscript(configDir, cwd, args.sessionId) !== undefined) fail(`Error: Session ID ${args.sessionId} is already in use.`);
    sessionId = args.sessionId;
  } else {
    sessionId = randomUUID();
  }
  const transcriptsDisabled = env['CLAUDE_CODE_CHILD_SESSION'] !== undefined && env['CLAUDE_CODE_CHILD_SESSION'] !== '';
  let transcriptPath = resumedFrom ?? transcriptPathFor(configDir, cwd, sessionId);
  if (resumed && args.forkSession) {
    const forkedId = args.sessionId ?? randomUUID();
    const forkedPath = transcriptPathFor(configDir, cwd, forkedId);
    if (!transcriptsDisabled && resumedFrom !== undefined) {
      mkdirSync(dirname(forkedPath), { recursive: true });
      copyFileSync(resumedFrom, forkedPath);
    }
    sessionId = forkedId;
    transcriptPath = forkedPath;
  }

  let loaded;
  try {
    loaded = loadSettings({
      configDir, cwd, flagValues: args.settings,
      managedPath: env['CLAUDE_SIM_MANAGED_SETTINGS'] ?? '/etc/claude-code/managed-settings.json',
    });
  } catch (e) {
    if (e instanceof SettingsFileNotFoundError) fail(e.message);
    throw e;
  }
  const settings = loaded.merged;
  const permissionMode = args.skipPermissions ? 'bypassPermissions' : (args.permissionMode ?? settings.permissions?.defaultMode ?? 'default');
  const model = args.model ?? settings.model ?? env['ANTHROPIC_MODEL'] ?? 'claude-sonnet-4-5-20250929';

  const log = new SimLog(
    { invocations: paths.invocationsLog, received: paths.receivedLog, events: paths.eventsLog, global: env['CLAUDE_SIM_LOG'] },
    () => ({ pid: process.pid, sessionId }),
  );
  const pick = (name: string): Record<string, string> => (env[name] === undefined ? {} : { [name]: env[name] ?? '' });
  log.invocation({
    argv, cwd, resumed, configDir, transcriptPath, transcriptsDisabled, model, permissionMode, version: SIM_VERSION,
    tmuxPane: env['TMUX_PANE'] ?? null,
    settingsSources: loaded.sources.map((s) => ({ scope: s.scope, origin: s.origin })),
    env: { ...pick('CLAUDE_CONFIG_DIR'), ...pick('CLAUDE_CODE_CHILD_SESSION'), ...pick('CLAUDECODE'), ...pick('CLAUDE_CODE_RETRY_WATCHDOG'), ...pick('CLAUDE_CODE_RESUME_INTERRUPTED_TURN') },
  });

  const stdout = process.stdout;
  const tty = stdout.isTTY && !args.print;
  const screen = new Screen({
    write: (s) => stdout.write(s),
    columns: () => stdout.columns ?? 100,
    rows: () => stdout.rows ?? 40,
    isTTY: tty,
  });
  const transcript = new Transcript({ path: transcriptPath, sessionId, cwd, model, enabled: !transcriptsDisabled });
  const app = new SimApp(
    {
      cwd, env, paths, sessionId, transcriptPath, settings, model, permissionMode, configDir,
      workMs: intEnv(env, 'CLAUDE_SIM_WORK_MS', 1500),
      enterGuardMs: intEnv(env, 'CLAUDE_SIM_PASTE_ENTER_GUARD_MS', 50),
      idleNotifyMs: intEnv(env, 'CLAUDE_SIM_IDLE_NOTIFY_MS', 60_000),
      bashTimeoutMs: intEnv(env, 'CLAUDE_SIM_BASH_TIMEOUT_MS', 120_000),
      usagePerTurn: intEnv(env, 'CLAUDE_SIM_USAGE_PER_TURN', 0),
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      limitWithZone: env['CLAUDE_SIM_LIMIT_TZ'] !== '0',
      readTaskFiles: env['CLAUDE_SIM_READ_TASK_FILES'] !== '0',
      enforceTrust: env['CLAUDE_SIM_ENFORCE_TRUST'] === '1',
      interactive: !args.print,
    },
    { screen, log, transcript, exit: (code) => process.exit(code) },
  );
  for (const w of loaded.warnings) screen.log(w);
  if (transcriptsDisabled) log.event('transcripts-disabled', { reason: 'CLAUDE_CODE_CHILD_SESSION is set' });
  const source = resumed ? 'resume' : 'startup';

  let script: string | undefined;
  const scriptFile = env['CLAUDE_SIM_SCRIPT'];
  if (scriptFile !== undefined && scriptFile !== '') {
    try {
      script = readFileSync(scriptFile, 'utf8');
    } catch (e) {
      fail(`claude-sim: cannot read CLAUDE_SIM_SCRIPT ${scriptFile}: ${(e as Error).message}`);
    }
  }

  if (args.print) {
    let prompt = args.prompt;
    if (prompt === undefined && !process.stdin.isTTY) prompt = readFileSync(0, 'utf8');
    if (prompt === undefined || prompt.trim() === '') fail('Error: Input must be provided either through stdin or as a prompt argument when using --print');
    if (script !== undefined) await app.runTurn(undefined, script);
    const code = await runPrintMode(app, prompt, source);
    await app.runHooks('SessionEnd', 'other', { reason: 'other' });
    log.exit({ code, reason: 'print' });
    screen.flush();
    process.exit(code);
  }

  for (const [sig, num] of [['SIGTERM', 15], ['SIGHUP', 1], ['SIGINT', 2]] as const) {
    process.on(sig, () => void app.exit(128 + num, 'other'));
  }
  stdout.on('resize', () => screen.redrawAll());
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.on('data', (chunk: Buffer) => app.onData(chunk));
  process.stdin.on('end', () => app.onStdinEnd());

  screen.log(`✻ Welcome to Claude Code! (simulator ${SIM_VERSION})`, `  cwd: ${cwd}`, `  session: ${sessionId}${resumed ? ' (resumed)' : ''}`);
  if (resumed && resumedFrom !== undefined && existsSync(resumedFrom)) {
    for (const m of transcriptTail(resumedFrom, 4)) screen.log(`${m.role === 'user' ? '> ' : '● '}${m.text.split('\n')[0] ?? ''}`);
    screen.log(`  ⎿  Resumed conversation ${sessionId}`);
  }
  await app.start(source, script, args.prompt);
}

main().catch((e: unknown) => {
  process.stderr.write(`claude-sim: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(70);
});
