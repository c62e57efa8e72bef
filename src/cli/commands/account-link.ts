/**
 * `claude-failover account link NAME... [--adopt]`: link an account's shared directories to the
 * shared store, adopting (explicitly) the per-session directories whose files have unique names.
 * The work is done by src/adapters/shared-state.ts; this is the command around it, dispatched by
 * `account` (account.ts).
 */
import { join } from 'node:path';
import { loadManifests, toDesired } from '../../adapters/manifest-files.js';
import { allLinked, linkSharedState, type LinkDirReport } from '../../adapters/shared-state.js';
import { FileStateStore } from '../../adapters/state-store.js';
import { formatDiagnostic, type ManifestObject } from '../../api/objects.js';
import { ADOPTABLE_DIRS } from '../../core/shared-state.js';
import { CfError, errorMessage, UsageError } from '../../core/errors.js';
import { EVENTS_RECORD } from '../../runtime/events.js';
import { connectController } from '../../server/client.js';
import { COMMON, oneOf, parse, requireFiles, stateDirOf } from '../args.js';
import type { CliIO } from '../io.js';

const LINK_HELP = `Usage: claude-failover account link (NAME... | --all) [--adopt] [--dry-run] [--force]
                                     -f PATH... [--state-dir DIR] [-o text|json]

Links each shared directory of the account (spec.sharedDirs of its manifest) to the shared
store (spec.sharedStateDir), as the controller does, and says what is in the way.

A real directory where a link belongs makes the account SharedStateLinked=False (Diverged): it
is not a failover target. Account homes used before claude-failover (e.g. by the Go system)
hold real todos/ and shell-snapshots/ directories. Their files have unique names, so with
--adopt they are moved into the store without overwriting anything (a file identical to the
store's copy is dropped; one that differs is kept and reported), then the emptied directory is
replaced by the link. Adoptable: ${ADOPTABLE_DIRS.join(', ')}.
projects/, file-history/ and session-env/ are never merged automatically (docs/operations.md,
"Diverged shared state").

Every move is logged to <state-dir>/adoptions/<account>-<time>.jsonl and the outcome is recorded
in the event log (SharedStateAdopted). A running controller is asked to re-check the accounts.

Options:
      --all              Every Account in the manifests
      --adopt            Move the files of adoptable real directories into the store, then link
      --dry-run          Print what would be done; change nothing
      --force            Also when sessions run under the account (they may be writing there)
  -f, --filename PATH    Manifest file or directory; repeatable (or CLAUDE_FAILOVER_MANIFESTS)
      --state-dir DIR    State directory (for the log, the event and the running controller)
  -o, --output FORMAT    text (default) or json

Exit codes: 0 every directory of every account is linked, 1 something is left (printed with
            what to do) or an error.

Examples:
  claude-failover account link main --dry-run --adopt -f manifests/
  claude-failover account link --all --adopt -f manifests/
`;

interface Values {
  help?: boolean;
  filename?: string[];
  'state-dir'?: string;
  all?: boolean;
  adopt?: boolean;
  'dry-run'?: boolean;
  force?: boolean;
  output?: string;
}

interface AccountResult {
  account: string;
  linked: boolean;
  dirs: LinkDirReport[];
  log?: string;
}

export async function accountLinkCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse<Values>(args, {
    filename: COMMON.filename,
    'state-dir': COMMON['state-dir'],
    all: { type: 'boolean' },
    adopt: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  }, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(LINK_HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  if (positionals.length === 0 && !values.all) throw new UsageError('name an account (or several), or pass --all');
  if (positionals.length > 0 && values.all) throw new UsageError('pass account names or --all, not both');
  const files = requireFiles(values.filename, io);
  const loaded = await loadManifests(files, { displayBase: io.cwd });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) io.stderr.write(`${formatDiagnostic(d)}\n`);
    io.stderr.write(`\n${errors.length} problem(s) in the manifests; nothing was changed.\n`);
    return 1;
  }
  const desired = toDesired(loaded);
  const accounts: ManifestObject<'Account'>[] = [];
  for (const name of values.all ? desired.accounts.map((a) => a.metadata.name) : positionals) {
    const a = desired.accounts.find((x) => x.metadata.name === name);
    if (!a) throw new CfError('CF_ERR_NOT_FOUND', `no Account named "${name}" in the manifests (${desired.accounts.map((x) => x.metadata.name).join(', ') || 'none declared'})`);
    if (!a.spec.sharedStateDir) {
      // --all: an account without a shared store has nothing to link; named explicitly, it is a mistake.
      if (values.all) {
        io.stderr.write(`note: Account "${name}" has no spec.sharedStateDir: nothing to link\n`);
        continue;
      }
      throw new CfError('CF_ERR_NO_SHARED_STATE', `Account "${name}" has no spec.sharedStateDir: there is nothing to link`);
    }
    accounts.push(a);
  }
  if (accounts.length === 0) throw new CfError('CF_ERR_NO_SHARED_STATE', 'no Account in the manifests has a spec.sharedStateDir: there is nothing to link');
  const stateDir = stateDirOf(values['state-dir'], io);
  const dryRun = values['dry-run'] ?? false;
  const store = new FileStateStore(stateDir, { readOnly: dryRun });
  const status = (await store.read<Record<string, { account?: unknown; activity?: unknown } | undefined>>('status.json').catch(() => undefined)) ?? {};

  const results: AccountResult[] = [];
  for (const a of accounts) {
    const name = a.metadata.name;
    const running = Object.entries(status)
      .filter(([k, st]) => k.startsWith('Session/') && st?.account === name && st.activity !== undefined && st.activity !== 'exited')
      .map(([k]) => k.slice('Session/'.length));
    if (running.length > 0 && values.adopt && !dryRun && !values.force) {
      throw new CfError('CF_ERR_ACCOUNT_IN_USE', `sessions ${running.join(', ')} run under account ${name} and may be writing into its directories; fail over away from it first (claude-failover failover --to OTHER), or pass --force`);
    }
    const moves: { from: string; to: string }[] = [];
    const dirs = await linkSharedState({
      account: name,
      configDir: a.spec.configDir,
      sharedStateDir: a.spec.sharedStateDir as string,
      dirs: a.spec.sharedDirs,
      adopt: values.adopt ?? false,
      dryRun,
      onMove: (from, to) => moves.push({ from, to }),
    });
    const result: AccountResult = { account: name, linked: allLinked(dirs), dirs };
    if (!dryRun && (moves.length > 0 || dirs.some((d) => d.outcome !== 'linked'))) {
      const at = new Date().toISOString();
      if (moves.length > 0) {
        // The adoption log: what went where, to find a file again (or move it back).
        const log = `adoptions/${name}-${at.replace(/[:.]/g, '-').toLowerCase()}.jsonl`;
        for (const m of moves) await store.append(log, { at, account: name, ...m });
        result.log = join(stateDir, log);
      }
      const adopted = dirs.filter((d) => d.outcome === 'adopted' || d.outcome === 'conflict');
      const summary = dirs.filter((d) => d.outcome !== 'linked').map((d) => `${d.dir}: ${d.outcome}${d.moved > 0 ? ` (${d.moved} moved)` : ''}`).join(', ');
      await store.append(EVENTS_RECORD, {
        time: at,
        key: `Account/${name}`,
        type: result.linked ? 'Normal' : 'Warning',
        reason: adopted.length > 0 ? 'SharedStateAdopted' : 'SharedStateLinked',
        message: `account link${values.adopt ? ' --adopt' : ''}: ${summary}${result.linked ? '; every shared directory is linked' : '; some directories are still not linked'}`,
        data: { dirs: dirs.map((d) => ({ dir: d.dir, outcome: d.outcome, moved: d.moved, duplicates: d.duplicates, conflicts: d.conflicts })), ...(result.log ? { log: result.log } : {}), requestedVia: 'cli' },
      });
    }
    results.push(result);
  }

  if (!dryRun) await nudgeController(stateDir, io);
  if (output === 'json') io.stdout.write(`${JSON.stringify({ dryRun, accounts: results }, null, 2)}\n`);
  else {
    for (const r of results) {
      io.stdout.write(`Account ${r.account}${dryRun ? ' (dry-run: nothing changed)' : ''}:\n`);
      for (const d of r.dirs) io.stdout.write(`  ${d.outcome.padEnd(8)} ${d.message}\n`);
      if (r.log) io.stdout.write(`  log of the moves: ${r.log}\n`);
      io.stdout.write(r.linked ? `  every shared directory ${dryRun ? 'would be' : 'is'} linked\n` : '  not every shared directory is linked: the account stays out of rotation until it is\n');
    }
  }
  return results.every((r) => r.linked) ? 0 : 1;
}

/** Asks a running controller to re-check the accounts now (best effort). */
async function nudgeController(stateDir: string, io: CliIO): Promise<void> {
  try {
    const client = await connectController({ server: undefined, tokenFile: undefined, env: io.env, stateDir });
    if (!client) return;
    try {
      await client.request('POST', `/api/v1/reconcile?key=${encodeURIComponent('Account/*')}`);
    } finally {
      await client.close();
    }
  } catch (err) {
    io.stderr.write(`note: could not ask the running controller to re-check the accounts (${errorMessage(err)}); it does on its next resync\n`);
  }
}
