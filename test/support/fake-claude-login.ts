/**
 * A stand-in `claude` executable for the login flow (`claude-failover account login`), written into a
 * temp dir by tests. It speaks the two login forms of the real CLI (as of 2.1.197):
 * - `claude auth --help` / `claude auth login --help` print the help texts of the real CLI;
 * - `claude auth login [--claudeai]` prints the sign-in URL and `Paste code here if prompted > `, reads
 *   a line from the terminal, and on the right code writes `$CLAUDE_CONFIG_DIR/.credentials.json`
 *   (mode 0600, as the real CLI does) and exits 0; on another code it prints an error and exits 1;
 * - with `slashOnly`, `auth` has no `login` (an older CLI): plain `claude` shows a prompt `❯ ` and
 *   `/login` leads to the same exchange, `/exit` ends it.
 * It also records its invocations (argv and CLAUDE_CONFIG_DIR) to `<dir>/invocations.jsonl`.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAKE_LOGIN_CODE = 'good-code-4242';

export interface FakeClaudeLogin {
  command: string;
  invocations: string;
  /** The access token the fake writes (tests assert it is never printed). */
  token: string;
}

export function writeFakeClaudeLogin(dir: string, opts: { slashOnly?: boolean; expiresInMs?: number } = {}): FakeClaudeLogin {
  const command = join(dir, 'claude');
  const invocations = join(dir, 'invocations.jsonl');
  const token = `sk-ant-oat01-fake-${Math.random().toString(36).slice(2)}-never-print`;
  const script = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const args = process.argv.slice(2);
const dir = process.env.CLAUDE_CONFIG_DIR;
fs.appendFileSync(${JSON.stringify(invocations)}, JSON.stringify({ args, configDir: dir }) + '\\n');
const slashOnly = ${opts.slashOnly ? 'true' : 'false'};
const out = (s) => process.stdout.write(s);
function writeCredentials() {
  const body = JSON.stringify({ claudeAiOauth: { accessToken: ${JSON.stringify(token)}, refreshToken: 'sk-ant-ort01-fake-refresh', expiresAt: Date.now() + ${opts.expiresInMs ?? 8 * 3_600_000}, scopes: ['user:inference'], subscriptionType: 'max' } });
  const tmp = path.join(dir, '.credentials.json.tmp-' + process.pid);
  fs.writeFileSync(tmp, body, { mode: 0o600 });
  fs.renameSync(tmp, path.join(dir, '.credentials.json'));
}
function loginExchange(rl, done) {
  out('Opening browser to sign in…\\nIf the browser didn\\'t open, visit: https://claude.example.invalid/oauth/authorize?code=true\\nPaste code here if prompted > ');
  rl.once('line', (line) => {
    if (line.trim() === ${JSON.stringify(FAKE_LOGIN_CODE)}) {
      writeCredentials();
      out('Login successful.\\n');
      done(0);
    } else {
      out('OAuth error: Invalid code\\n');
      done(1);
    }
  });
}
if (args[0] === 'auth' && args[1] === '--help') {
  out('Usage: claude auth [options] [command]\\n\\nManage authentication\\n\\nOptions:\\n  -h, --help        Display help for command\\n\\nCommands:\\n  help [command]    display help for command\\n' + (slashOnly ? '' : '  login [options]   Sign in to your Anthropic account\\n  logout            Log out from your Anthropic account\\n') + '  status [options]  Show authentication status\\n');
  process.exit(0);
}
if (args[0] === 'auth' && args[1] === 'login' && args.includes('--help')) {
  if (slashOnly) { process.stderr.write("error: unknown command 'login'\\n"); process.exit(1); }
  out('Usage: claude auth login [options]\\n\\nSign in to your Anthropic account\\n\\nOptions:\\n  --claudeai       Use Claude subscription (default)\\n  --console        Use Anthropic Console (API usage billing) instead of Claude\\n                   subscription\\n  -h, --help       Display help for command\\n');
  process.exit(0);
}
const rl = readline.createInterface({ input: process.stdin });
if (!slashOnly && args[0] === 'auth' && args[1] === 'login') {
  loginExchange(rl, (code) => process.exit(code));
} else if (args.length === 0 || args[0] === '--dangerously-skip-permissions') {
  out('Claude Code (fake)\\n❯ ');
  const prompt = () => {
    rl.once('line', (line) => {
      const l = line.trim();
      if (l === '/login') loginExchange(rl, () => { out('❯ '); prompt(); });
      else if (l === '/exit') process.exit(0);
      else { out('❯ '); prompt(); }
    });
  };
  prompt();
} else {
  process.stderr.write('fake claude: unexpected arguments ' + JSON.stringify(args) + '\\n');
  process.exit(2);
}
`;
  writeFileSync(command, script);
  chmodSync(command, 0o755);
  return { command, invocations, token };
}
