/**
 * The CF_ERR_* catalogue: every error code the product raises on purpose, with what it means and
 * what the operator does about it. `new CfError(code, …)` (src/core/errors.ts) only accepts a code
 * listed here (tsc enforces it); docs/errors.md is generated from this table (`npm run docs`), and
 * test/docs/error-codes.test.ts checks that every code used in src/ is here and in the docs, and
 * that every code here is used. The control plane's CF_API_* codes have their own table
 * (src/server/errors.ts, docs/api.md "Errors").
 *
 * Pure data; the guard hook bundle includes it (its errors use codes from here).
 */

export interface ErrorCodeInfo {
  /** Which part of the product raises it (the heading it is listed under in docs/errors.md). */
  area: ErrorArea;
  /** One line: what happened. */
  meaning: string;
  /** One line: what the operator does. */
  action: string;
}

export const ERROR_AREAS = ['Command line', 'Reconcile loop', 'Manifests and state', 'Accounts', 'tmux and sessions', 'Tasks and delivery', 'Git worktrees', 'Safety guard', 'Delegation (job API)', 'Control plane', 'Secrets'] as const;
export type ErrorArea = (typeof ERROR_AREAS)[number];

export const CF_ERRORS = {
  // Command line
  CF_ERR_USAGE: { area: 'Command line', meaning: 'A command line (of `claude-failover` or of the guard hook) is wrong: an unknown flag, a missing or invalid value.', action: 'Read the message and `claude-failover COMMAND --help`, and fix the command.' },
  CF_ERR_NOT_FOUND: { area: 'Command line', meaning: 'A command names an object (e.g. an Account for `account link`) that the manifests do not declare.', action: 'Check the name against `claude-failover get accounts` (the message lists the declared ones) or the manifests you passed.' },
  CF_ERR_COMMAND_NOT_FOUND: { area: 'Command line', meaning: '`account login` cannot find the `claude` executable (on `PATH`, or the `--command` given).', action: 'Install Claude Code (`npm install -g @anthropic-ai/claude-code`) or pass `--command /path/to/claude`.' },
  CF_ERR_NO_CONTROLLER: { area: 'Command line', meaning: 'The command needs a running controller (`failover`, `send`, `manifests confirm`, `reconcile` without `--once`, `mcp`) and none is recorded in the state dir.', action: 'Start it (`claude-failover run`), point at it with `--server URL` / `--state-dir DIR`, or use `reconcile --once`.' },
  CF_ERR_API_UNREACHABLE: { area: 'Command line', meaning: 'A controller is recorded in the state dir (or given with `--server`) but does not answer: connection refused, socket missing, timeout.', action: 'Check that `claude-failover run` is up (`systemctl status`, its log) and that `--server` / `--state-dir` point at it.' },
  CF_ERR_TOKEN_FILE: { area: 'Command line', meaning: 'The API token file cannot be read, or holds fewer than 16 characters.', action: 'Check the path and its permissions; delete a short token file to have a new token generated at the next start.' },

  // Reconcile loop
  CF_ERR_RECONCILE_FAILED: { area: 'Reconcile loop', meaning: 'Changes of one key failed in a way worth retrying; the message lists each failure (with its own code) and the key is requeued with back-off.', action: 'Usually passes; if it repeats, read the `ApplyFailed` events of the key (`claude-failover events --for KIND/NAME`) and look up the codes they name.' },

  // Manifests and state
  CF_ERR_MANIFEST_INVALID: { area: 'Manifests and state', meaning: 'The manifests failed validation (every problem is listed with `file:line:col`), or a change (`account add`) would make them invalid.', action: 'Run `claude-failover validate -f DIR`, fix each problem it lists, and try again; nothing was changed.' },
  CF_ERR_STATE_LOCKED: { area: 'Manifests and state', meaning: 'Another claude-failover process (pid in the message) runs on the same state dir.', action: 'Use that controller, stop it first, or give this one another `--state-dir`.' },
  CF_ERR_STATE_NAME: { area: 'Manifests and state', meaning: 'A state record name is not a plain file name (a bug: names are made by the controller).', action: 'Report it with the message; nothing was written.' },
  CF_ERR_STATE_READONLY: { area: 'Manifests and state', meaning: 'Something tried to write the state dir during a dry run (a bug: dry runs never write).', action: 'Report it with the message; nothing was written.' },
  CF_ERR_STATE_CORRUPT: { area: 'Manifests and state', meaning: 'A state record (JSON in the state dir) cannot be parsed.', action: 'Restore the file from a backup (docs/operations.md, "Backup and restore of the state dir") or move it away to start that record afresh.' },
  CF_ERR_JSON_MERGE: { area: 'Manifests and state', meaning: 'A JSON file the controller merges settings into (e.g. `.claude/settings.local.json`, `.claude.json`) is not a JSON object or cannot be read.', action: 'Fix or remove the file named in the message; the controller does not overwrite it.' },
  CF_ERR_EFFECT_UNKNOWN: { area: 'Manifests and state', meaning: 'A plan holds an effect the executor has no handler for (a bug, or a state dir written by a newer version).', action: 'Run the same version that wrote the state dir, or report it with the message.' },

  // Accounts
  CF_ERR_ACCOUNT_DIR: { area: 'Accounts', meaning: '`account add`: the config dir path exists and is not a directory.', action: 'Pick another `--config-dir`, or move the file away.' },
  CF_ERR_ACCOUNT_IN_USE: { area: 'Accounts', meaning: '`account link`: sessions run under the account and may be writing into the directories to be moved.', action: 'Fail over away from it first (`claude-failover failover --to OTHER`), then link again.' },
  CF_ERR_NO_SHARED_STATE: { area: 'Accounts', meaning: '`account link`: the Account (or every Account) has no `spec.sharedStateDir`, so there is nothing to link.', action: 'Set `spec.sharedStateDir` on the Accounts that should share conversations.' },
  CF_ERR_LINK_DIVERGED: { area: 'Accounts', meaning: 'A shared directory of an account is a real directory, or a link elsewhere, instead of a link to the shared store; it is not replaced.', action: 'Follow docs/operations.md, "Diverged shared state" (`claude-failover account link NAME --adopt` for the adoptable directories).' },

  // tmux and sessions
  CF_ERR_TMUX_MISSING: { area: 'tmux and sessions', meaning: 'tmux is not installed (not on `PATH`).', action: 'Install it (`apt-get install -y tmux`).' },
  CF_ERR_TMUX: { area: 'tmux and sessions', meaning: 'A tmux command failed or timed out (the server is busy, gone or refusing); retried with backoff.', action: 'Usually passes; if it persists, check the tmux server (`tmux -L SOCKET ls`) and the controller log.' },
  CF_ERR_TMUX_EXISTS: { area: 'tmux and sessions', meaning: 'A tmux session of that name already exists and claude-failover did not start it.', action: 'Close or rename that tmux session; the controller never takes over a session it does not own.' },
  CF_ERR_NOT_OWNER: { area: 'tmux and sessions', meaning: 'The controller refuses to stop, restart or replace a tmux session that another owner (or nobody) started.', action: 'Close that tmux session yourself, or rename the Session so the names do not clash.' },
  CF_ERR_TMUX_PANE_DEAD: { area: 'tmux and sessions', meaning: 'The session\'s pane is dead (the agent exited): nothing is pasted into it; retried after the relaunch.', action: 'Nothing; the Session controller relaunches it. If it keeps dying, see docs/operations.md, "Crash-looping session".' },
  CF_ERR_TMUX_KEY: { area: 'tmux and sessions', meaning: 'An internal key sequence holds something that is not a tmux key name (a bug).', action: 'Report it with the message.' },
  CF_ERR_TMUX_TEXT: { area: 'tmux and sessions', meaning: 'Text meant to be typed key by key holds a line break or ends in `;` (a bug: such text is pasted).', action: 'Report it with the message.' },
  CF_ERR_TMUX_COMMAND: { area: 'tmux and sessions', meaning: 'A Session\'s command contains `=`, which `env(1)` would read as a variable.', action: 'Use a path to the command without `=` in `Session.spec.command`.' },
  CF_ERR_TMUX_ENV: { area: 'tmux and sessions', meaning: 'A Session\'s environment holds a name that is not a valid variable name.', action: 'Fix the name in `Session.spec.env` (letters, digits and `_`, not starting with a digit).' },

  // Tasks and delivery
  CF_ERR_TASK_MALFORMED: { area: 'Tasks and delivery', meaning: 'A task file cannot be used (bad frontmatter, invalid UTF-8, bad name, too large); it goes to `failed/` with the reason.', action: 'Read the footer of the task in `failed/`, fix the file and add it again (docs/queue-protocol.md).' },
  CF_ERR_TASK_NOT_FOUND: { area: 'Tasks and delivery', meaning: 'No task with that id in the queue (or the state named).', action: 'Check the id with `claude-failover get tasks`.' },
  CF_ERR_TASK_CONFLICT: { area: 'Tasks and delivery', meaning: 'A move would overwrite another task file with the same id; it is never done (tasks are not lost).', action: 'Give one of the two tasks another id (rename the file in `inbox/`).' },
  CF_ERR_CLAIM_LOST: { area: 'Tasks and delivery', meaning: 'A task the controller was about to deliver is no longer where its lease says (another consumer, or a person, moved it); retried next pass.', action: 'Nothing, unless another program consumes the same queue: only one controller may own a queue.' },
  CF_ERR_DELIVERY: { area: 'Tasks and delivery', meaning: 'A prompt was pasted but the pane did not change after two Enters: delivery not confirmed; retried.', action: 'Usually passes; if a session keeps failing, look at its pane (`tmux -L SOCKET attach -t NAME`).' },
  CF_ERR_SEND_REFUSED: { area: 'Tasks and delivery', meaning: '`send`: the session is not at its prompt (working, starting, suspended, not owned), so nothing was typed (HTTP 409).', action: 'Wait until the session is idle, or add the work as a task.' },
  CF_ERR_SEND_TEXT: { area: 'Tasks and delivery', meaning: '`send`: the text cannot be typed as it is (empty, too long, control characters, a task marker, a trailing backslash) (HTTP 400).', action: 'Fix the text as the message says, or add it as a task.' },
  CF_ERR_SEND_FAILED: { area: 'Tasks and delivery', meaning: '`send`: the text was perhaps pasted but not confirmed (HTTP 503).', action: 'Look at the session\'s pane before sending again, so the text does not arrive twice.' },

  // Git worktrees
  CF_ERR_GIT_MISSING: { area: 'Git worktrees', meaning: 'git is not installed, and a Session has `spec.worktree`.', action: 'Install it (`apt-get install -y git`).' },
  CF_ERR_GIT: { area: 'Git worktrees', meaning: 'A git command failed or timed out (retried when it may pass).', action: 'Read git\'s message in the error; run the same git command in the project to see why.' },
  CF_ERR_WORKTREE_NO_REPO: { area: 'Git worktrees', meaning: 'A Session asks for a worktree, but its Project\'s path is not inside a git repository.', action: 'Make the project a git checkout, or remove `spec.worktree` from the Session.' },
  CF_ERR_WORKTREE_CONFLICT: { area: 'Git worktrees', meaning: 'The worktree path is taken (another repository, not a worktree, the main checkout) or the branch is checked out elsewhere; it is left alone.', action: 'Choose another `worktree.path` or `worktree.branch`, or move the directory away (docs/operations.md, "Session worktrees").' },
  CF_ERR_WORKTREE_DIRTY: { area: 'Git worktrees', meaning: 'A worktree to be removed has uncommitted changes; it is kept.', action: 'Commit or discard the changes in it, then prune again.' },

  // Safety guard
  CF_ERR_GUARD_DEPLOY: { area: 'Safety guard', meaning: 'The guard hook could not be deployed, or the deployed hook did not block a test call: the session is not started (fail closed).', action: 'Read the message (missing build, a broken `dist/`, an unwritable `.claude/hooks/`); `npm run build` in a clone; see docs/security.md, "The hook and its deployment".' },
  CF_ERR_GUARD_BUDGET: { area: 'Safety guard', meaning: 'A command is too big or too slow for the guard to check (size, syntax nodes, nesting or time budget); the call is denied.', action: 'Split the command into smaller ones, or write it to a script file and run that.' },

  // Delegation (job API)
  CF_ERR_DELEGATION_REJECTED: { area: 'Delegation (job API)', meaning: 'The job API refused the request (400, 401, 403, 404, 409, 422, …): the request itself is wrong.', action: 'Read the API\'s code and message in the error; check the DelegationPolicy\'s endpoint and API key (docs/delegation-api.md).' },
  CF_ERR_DELEGATION_UNAVAILABLE: { area: 'Delegation (job API)', meaning: 'The job API did not answer usably after the retries (5xx, 429, timeouts, network).', action: 'Check that the job API is up; tasks stay queued and are retried.' },
  CF_ERR_DELEGATION_PROTOCOL: { area: 'Delegation (job API)', meaning: 'The job API answered 2xx with a body that is not the documented shape.', action: 'Check that the endpoint is the job API (not a proxy page) and speaks docs/delegation-api.md.' },
  CF_ERR_DELEGATION_CIRCUIT_OPEN: { area: 'Delegation (job API)', meaning: 'The circuit breaker stopped calls to the job API after repeated failures (`CircuitClosed=False`).', action: 'Fix the API; calls resume by themselves after the cool-down.' },
  CF_ERR_DELEGATION_WAIT_TIMEOUT: { area: 'Delegation (job API)', meaning: '`delegate result --wait`: the job did not finish within `--timeout`.', action: 'Wait longer (`delegate result JOB --wait --timeout 30m`), or read the job later with `delegate get JOB`.' },
  CF_ERR_DELEGATION_SECRET: { area: 'Delegation (job API)', meaning: 'The DelegationPolicy\'s API key cannot be read (variable unset, file missing or unreadable).', action: 'Fix the secret reference named in the message (docs/manifests.md, "Secret references").' },
  CF_ERR_DELEGATION_UNBOUND: { area: 'Delegation (job API)', meaning: 'A task names a DelegationPolicy that is not loaded (yet); retried.', action: 'Nothing right after a manifest change; otherwise declare the policy the Project names.' },
  CF_ERR_DELEGATION_STALE: { area: 'Delegation (job API)', meaning: 'A delegation step was planned on a job record that has moved on since; planned again.', action: 'Nothing.' },
  CF_ERR_DELEGATION_SUBMIT: { area: 'Delegation (job API)', meaning: 'Submitting a job failed; the task stays delegated and the submit is retried with the same Idempotency-Key.', action: 'Check the job API if it persists (the DelegationPolicy\'s conditions say why).' },

  // Control plane
  CF_ERR_LISTEN: { area: 'Control plane', meaning: '`--listen` is malformed, or its unix socket path is taken by a file that is not a socket or by a live process.', action: 'Fix `--listen` (HOST:PORT, [IPv6]:PORT or unix:/absolute/path), or stop the other process.' },
  CF_ERR_LISTEN_REMOTE: { area: 'Control plane', meaning: '`--listen` names a non-loopback address without `--allow-remote` (the API is plain HTTP).', action: 'Listen on loopback behind a TLS reverse proxy (docs/security.md), or pass `--allow-remote` knowingly.' },
  CF_ERR_LISTEN_INSECURE: { area: 'Control plane', meaning: 'A non-loopback `--listen` with `--token-file none`.', action: 'Use a token (`--token-file PATH`, or the default in the state dir).' },
  CF_ERR_TOKEN_FILE_MODE: { area: 'Control plane', meaning: 'The API token file is readable by group or others.', action: 'Run the `chmod 600` the message prints.' },
  CF_ERR_REQUEST_REJECTED: { area: 'Control plane', meaning: 'The controller refuses a request (an impossible failover or restart) for a reason the caller can fix (HTTP 409).', action: 'Read the message (e.g. the target account is suspended or unknown) and ask again with a valid target.' },

  // Secrets
  CF_ERR_SECRET: { area: 'Secrets', meaning: 'A secret reference (`env` or `file`) cannot be read: variable unset or empty, file missing, unreadable, empty, too large or not a file. The message names the variable or file, never the value.', action: 'Fix the reference or the file named in the message (docs/manifests.md, "Secret references").' },
} as const satisfies Record<`CF_ERR_${string}`, ErrorCodeInfo>;

/** A catalogued error code: what `new CfError(code, …)` accepts. */
export type CfErrorCode = keyof typeof CF_ERRORS;

/** Every catalogued code, in catalogue order. */
export const CF_ERROR_CODES = Object.keys(CF_ERRORS) as CfErrorCode[];

/** docs/errors.md: the catalogue as a page (written by `npm run docs`, checked by the tests). */
export function renderErrorsDoc(): string {
  const cell = (s: string): string => s.replaceAll('|', '\\|');
  const out = [
    '# Error codes (`CF_ERR_*`)',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npm run docs`; do not edit. -->',
    '',
    'Every error claude-failover raises on purpose has a stable code. Match on the code, never on the',
    'message. The command line prints it as `claude-failover COMMAND: CF_ERR_…: message` (exit 1);',
    '`ccl-delegate` and the MCP tools print it the same way. Inside the controller the same failures',
    'become events (`ApplyFailed` and others) and conditions whose message is the error\'s message.',
    'The control plane\'s HTTP errors have their own codes (`CF_API_*`): docs/api.md, "Errors".',
    '',
  ];
  for (const area of ERROR_AREAS) {
    const codes = CF_ERROR_CODES.filter((c) => CF_ERRORS[c].area === area);
    if (codes.length === 0) continue;
    out.push(`## ${area}`, '', '| Code | Meaning | What to do |', '| --- | --- | --- |');
    for (const c of codes) out.push(`| \`${c}\` | ${cell(CF_ERRORS[c].meaning)} | ${cell(CF_ERRORS[c].action)} |`);
    out.push('');
  }
  return out.join('\n');
}
