/**
 * `claude-failover delegate` (also installed as `ccl-delegate`): the job API for shell scripts
 * — submit a task file, read a job, wait for its result, and ask the router where a
 * task would run. The API is described in docs/delegation-api.md.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic, type DesiredState, type ManifestObject } from '../../api/objects.js';
import { parseDuration } from '../../api/duration.js';
import { DelegationApiError, DelegationClient, isTerminalStatus, type JobView } from '../../adapters/delegation/client.js';
import { retryPolicyFor } from '../../adapters/delegation/service.js';
import { loadManifests, toDesired } from '../../adapters/manifest-files.js';
import { routerPolicyOf } from '../../controllers/delegation-policy.js';
import { UsageError } from '../../core/errors.js';
import { decide, type RouteDecision, type RouterPolicy, type RouterProject } from '../../core/router.js';
import { decodeTaskBytes, parseTask, TaskParseError, taskIdFromFileName, type Task } from '../../core/task.js';
import { oneOf, parse } from '../args.js';
import type { CliIO } from '../io.js';
import { parseCompat, SECUTOOLS_KEY_ENV, SECUTOOLS_URL_ENV } from '../../core/compat.js';

/** Exit codes of `delegate` (documented in --help and docs/delegation-api.md). */
export const DELEGATE_EXIT = {
  ok: 0,
  /** Usage, manifests, unreadable task file or key. */
  error: 1,
  /** `result`: the job failed. */
  jobFailed: 2,
  /** `result`: the job has not finished (without --wait, or --wait timed out). */
  notFinished: 3,
  /** The API refused the request (400, 401, 403, 404, …: not retried). */
  refused: 4,
  /** The API was unavailable (network, 408, 429, 5xx) after the retries. */
  unavailable: 5,
} as const;

const HELP = `Usage: claude-failover delegate <subcommand> [options]     (also: ccl-delegate <subcommand> …)

Talks to the AI job API that DelegationPolicies delegate tasks to (docs/delegation-api.md).

Subcommands:
  submit --file TASK.md [--provider X] [--task-id ID] [--attempt N]
                     Submit the task file as a job; prints the job id. The provider is --provider,
                     else where the router would send the task, else the policy's defaultProvider.
                     Re-running with the same task id and attempt returns the SAME job
                     (Idempotency-Key = task id + attempt; the task id defaults to the file name).
  get JOB            Print the job's status (text: "JOB STATUS PROVIDER [COST]"; -o json: the job)
  result JOB [--wait] [--timeout 10m] [--poll 2s]
                     Print the job's result on stdout (exit 0); a failed job prints its error on
                     stderr (exit 2); an unfinished job exits 3 (with --wait: after --timeout).
  decide --file TASK.md [--file …] [--project NAME | --policy NAME | --providers a,b [--default-provider a]]
                     Print where the router sends the task (local or delegate, the provider) and
                     the rule that fired; one line per file. Needs no endpoint or key.

Endpoint and key:
  --policy NAME -f PATH   Use DelegationPolicy NAME of the manifests (endpoint, apiKey, retry settings)
  --endpoint URL          Or the API's base URL (default $CF_DELEGATION_ENDPOINT); the key is then
                          read from $CF_DELEGATION_API_KEY or --api-key-file FILE (never a flag value)
  Go-era names: invoked as ccl-delegate (or with --compat ccl-delegate-env), $SECUTOOLS_API_URL and
  $SECUTOOLS_API_KEY are read when the CF_DELEGATION_* variables are unset.

Options:
  -f, --filename PATH   Manifest file or directory; repeatable (or CLAUDE_FAILOVER_MANIFESTS)
  -o, --output FORMAT   text (default) or json
  --request-timeout D   Per-request timeout (default 30s)

Exit codes: 0 ok · 1 usage/config error · 2 job failed · 3 job not finished (or --wait timed out)
            4 the API refused the request (4xx, not retried) · 5 the API was unavailable (after retries)

Examples:
  job=$(ccl-delegate submit --policy secutools -f manifests/ --file task.md)
  ccl-delegate result "$job" --policy secutools -f manifests/ --wait --timeout 20m > answer.md
  CF_DELEGATION_ENDPOINT=https://jobs.internal CF_DELEGATION_API_KEY=… claude-failover delegate get job-81 -o json
  claude-failover delegate decide --project web -f manifests/ --file inbox/fix-login.md -o json
  claude-failover delegate decide --providers gemini,gpu --file task.md
`;

interface Values {
  help?: boolean;
  filename?: string[];
  policy?: string;
  project?: string;
  endpoint?: string;
  'api-key-file'?: string;
  file?: string[];
  provider?: string;
  'task-id'?: string;
  attempt?: string;
  output?: string;
  wait?: boolean;
  timeout?: string;
  poll?: string;
  providers?: string;
  'default-provider'?: string;
  'request-timeout'?: string;
  compat?: string[];
  /** Not a flag: read the Go-era SECUTOOLS_* variables (ccl-delegate, or --compat ccl-delegate-env). */
  legacyEnv?: boolean;
}

const OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  policy: { type: 'string' },
  project: { type: 'string' },
  endpoint: { type: 'string' },
  'api-key-file': { type: 'string' },
  file: { type: 'string', multiple: true },
  provider: { type: 'string' },
  'task-id': { type: 'string' },
  attempt: { type: 'string' },
  output: { type: 'string', short: 'o' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  poll: { type: 'string' },
  providers: { type: 'string' },
  'default-provider': { type: 'string' },
  'request-timeout': { type: 'string' },
  compat: { type: 'string', multiple: true },
} as const;

const SUBCOMMANDS = ['submit', 'get', 'result', 'decide'] as const;

export async function delegateCommand(args: string[], io: CliIO, opts: { legacyEnv?: boolean } = {}): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(HELP);
    return sub === undefined ? 1 : 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand "${sub}" (available: ${SUBCOMMANDS.join(', ')})`);
  // -f means --filename (manifests) as in every command; a task file is --file.
  const { values, positionals } = parse<Values>(rest, OPTIONS, { allowPositionals: true });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  values.legacyEnv = opts.legacyEnv === true || parseCompat(values.compat, io.env).has('ccl-delegate-env');
  try {
    switch (sub) {
      case 'decide':
        return await decideCmd(values, positionals, io, output);
      case 'submit':
        return await submitCmd(values, positionals, io, output);
      case 'get':
        return await getCmd(values, positionals, io, output);
      default:
        return await resultCmd(values, positionals, io, output);
    }
  } catch (err) {
    if (err instanceof DelegationApiError) {
      io.stderr.write(`claude-failover delegate ${sub}: ${err.code}: ${err.message}\n`);
      if (err.kind === 'rejected') return DELEGATE_EXIT.refused;
      if (err.kind === 'unavailable' || err.kind === 'circuitOpen' || err.kind === 'protocol') return DELEGATE_EXIT.unavailable;
      if (err.kind === 'waitTimeout') return DELEGATE_EXIT.notFinished;
      return DELEGATE_EXIT.error;
    }
    throw err;
  }
}

function ms(name: string, value: string | undefined, def: number): number {
  if (value === undefined) return def;
  const v = parseDuration(value);
  if (v === undefined) throw new UsageError(`${name} must be a duration, e.g. 30s, 10m`);
  return v;
}

async function loadDesired(values: Values, io: CliIO): Promise<DesiredState> {
  const files = values.filename && values.filename.length > 0 ? values.filename : io.env.CLAUDE_FAILOVER_MANIFESTS?.split(':').filter(Boolean) ?? [];
  if (files.length === 0) throw new UsageError('--policy/--project need the manifests: pass -f PATH (or set CLAUDE_FAILOVER_MANIFESTS)');
  const loaded = await loadManifests(files, { displayBase: io.cwd, gitRevision: false });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new UsageError(`the manifests have ${errors.length} problem(s):\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`);
  return toDesired(loaded);
}

function findPolicy(desired: DesiredState, name: string): ManifestObject<'DelegationPolicy'> {
  const p = desired.delegationPolicies.find((x) => x.metadata.name === name);
  if (!p) throw new UsageError(`no DelegationPolicy named "${name}" in the manifests (have: ${desired.delegationPolicies.map((x) => x.metadata.name).join(', ') || 'none'})`);
  return p;
}

interface Target {
  client: DelegationClient;
  policy?: ManifestObject<'DelegationPolicy'>;
}

async function target(values: Values, io: CliIO): Promise<Target> {
  const requestTimeoutMs = ms('--request-timeout', values['request-timeout'], 30_000);
  if (values.policy) {
    if (values.endpoint) throw new UsageError('give either --policy or --endpoint, not both');
    const policy = findPolicy(await loadDesired(values, io), values.policy);
    return { policy, client: new DelegationClient({ endpoint: policy.spec.endpoint, apiKey: policy.spec.apiKey, env: io.env, retry: retryPolicyFor(policy.spec), requestTimeoutMs }) };
  }
  // The Go-era names count when the new ones are unset (ccl-delegate, or --compat ccl-delegate-env).
  const legacy = values.legacyEnv === true;
  const endpoint = values.endpoint ?? (io.env.CF_DELEGATION_ENDPOINT || (legacy ? io.env[SECUTOOLS_URL_ENV] : undefined));
  if (!endpoint) throw new UsageError(`no job API: pass --policy NAME -f PATH, or --endpoint URL (or set CF_DELEGATION_ENDPOINT${legacy ? ` or ${SECUTOOLS_URL_ENV}` : ''})`);
  const keyFile = values['api-key-file'];
  const keyEnv = !io.env.CF_DELEGATION_API_KEY && legacy && io.env[SECUTOOLS_KEY_ENV] ? SECUTOOLS_KEY_ENV : 'CF_DELEGATION_API_KEY';
  const apiKey = keyFile ? { file: path.resolve(io.cwd, keyFile) } : { env: keyEnv };
  return { client: new DelegationClient({ endpoint, apiKey, env: io.env, requestTimeoutMs }) };
}

async function readTaskFile(file: string, io: CliIO): Promise<Task> {
  const p = path.resolve(io.cwd, file);
  const bytes = await fs.readFile(p).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
  });
  const base = path.basename(p);
  const id = taskIdFromFileName(base) ?? base.replace(/\.[^.]*$/, '');
  try {
    const text = decodeTaskBytes(bytes);
    return parseTask(text, { id: id || 'task', state: 'inbox', fileName: base, path: p, mtimeMs: 0, size: bytes.byteLength });
  } catch (err) {
    if (err instanceof TaskParseError) throw new UsageError(`${file}: ${err.reason}${err.line !== undefined ? ` (line ${err.line})` : ''}`);
    throw err;
  }
}

function oneFile(values: Values, positionals: string[]): string {
  const files = [...(values.file ?? []), ...positionals];
  if (files.length !== 1) throw new UsageError(files.length === 0 ? 'no task given: pass --file TASK.md' : 'submit takes one task file');
  return files[0] as string;
}

function jobArg(positionals: string[]): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError('give the job id: e.g. `delegate get job-81`');
  return positionals[0];
}

// ---------------------------------------------------------------------------------------------

/** The router decision for a task file, with the same inputs the controller uses. */
export function decideFor(task: Pick<Task, 'id' | 'frontmatter'>, project: RouterProject, policy: RouterPolicy | undefined): RouteDecision {
  return decide(task, project, policy);
}

async function decideCmd(values: Values, positionals: string[], io: CliIO, output: 'text' | 'json'): Promise<number> {
  const files = [...(values.file ?? []), ...positionals];
  if (files.length === 0) throw new UsageError('no task given: pass --file TASK.md (repeatable)');
  const modes = [values.project, values.policy, values.providers].filter((v) => v !== undefined).length;
  if (modes > 1) throw new UsageError('give one of --project, --policy or --providers');
  let project: RouterProject = { name: '(none)' };
  let policy: RouterPolicy | undefined;
  if (values.project || values.policy) {
    const desired = await loadDesired(values, io);
    if (values.project) {
      const p = desired.projects.find((x) => x.metadata.name === values.project);
      if (!p) throw new UsageError(`no Project named "${values.project}" in the manifests`);
      project = { name: p.metadata.name, ...(p.spec.delegationPolicy ? { delegationPolicy: p.spec.delegationPolicy } : {}) };
      const pol = p.spec.delegationPolicy ? desired.delegationPolicies.find((x) => x.metadata.name === p.spec.delegationPolicy) : undefined;
      if (pol) policy = routerPolicyOf(pol);
    } else {
      const pol = findPolicy(desired, values.policy as string);
      policy = routerPolicyOf(pol);
      project = { name: '(cli)', delegationPolicy: pol.metadata.name };
    }
  } else if (values.providers !== undefined) {
    const providers = values.providers.split(',').map((s) => s.trim()).filter(Boolean);
    policy = { name: 'cli', providers, ...(values['default-provider'] ? { defaultProvider: values['default-provider'] } : {}) };
    project = { name: '(cli)', delegationPolicy: 'cli' };
  }
  for (const file of files) {
    const task = await readTaskFile(file, io);
    const d = decideFor(task, project, policy);
    if (output === 'json') io.stdout.write(`${JSON.stringify({ file, taskId: task.id, route: d.route, ...(d.provider ? { provider: d.provider } : {}), rule: d.rule, reason: d.reason })}\n`);
    else io.stdout.write(`${files.length > 1 ? `${file}: ` : ''}${d.route}${d.provider ? ` ${d.provider}` : ''} (rule ${d.rule}): ${d.reason}\n`);
  }
  return DELEGATE_EXIT.ok;
}

async function submitCmd(values: Values, positionals: string[], io: CliIO, output: 'text' | 'json'): Promise<number> {
  const file = oneFile(values, positionals);
  const task = await readTaskFile(file, io);
  const attempt = values.attempt === undefined ? 1 : Number(values.attempt);
  if (!Number.isInteger(attempt) || attempt < 1) throw new UsageError('--attempt must be a whole number ≥ 1');
  const { client, policy } = await target(values, io);
  try {
    let provider = values.provider;
    if (!provider && policy) {
      const d = decide(task, { name: '(cli)', delegationPolicy: policy.metadata.name }, routerPolicyOf(policy));
      provider = d.provider ?? policy.spec.defaultProvider;
    }
    provider ??= task.frontmatter.preferred_ai;
    if (!provider) throw new UsageError('no provider: pass --provider X (or set preferred_ai in the task, or use a policy with a defaultProvider)');
    if (policy && !policy.spec.providers.some((p) => p.toLowerCase() === provider?.toLowerCase())) {
      throw new UsageError(`provider ${provider} is not allowed by policy ${policy.metadata.name} (${policy.spec.providers.join(', ')})`);
    }
    const taskId = values['task-id'] ?? task.id;
    const job = await client.submitJobDetailed({ taskId, attempt, provider, prompt: task.body, title: task.title, metadata: { priority: task.priority } });
    io.stdout.write(output === 'json' ? `${JSON.stringify({ jobId: job.id, status: job.status, provider: job.provider ?? provider, taskId, attempt, idempotencyKey: job.idempotencyKey, replayed: job.replayed })}\n` : `${job.id}\n`);
    return DELEGATE_EXIT.ok;
  } finally {
    await client.close();
  }
}

function jobLine(j: JobView): string {
  return [j.id, j.status, j.provider ?? '-', j.cost !== undefined ? `${j.cost.toFixed(4)} ${j.currency ?? 'USD'}` : undefined].filter((x) => x !== undefined).join(' ');
}

async function getCmd(values: Values, positionals: string[], io: CliIO, output: 'text' | 'json'): Promise<number> {
  const id = jobArg(positionals);
  const { client } = await target(values, io);
  try {
    const job = await client.getJob(id);
    io.stdout.write(output === 'json' ? `${JSON.stringify(job)}\n` : `${jobLine(job)}${job.error ? `\nerror: ${job.error}` : ''}\n`);
    return DELEGATE_EXIT.ok;
  } finally {
    await client.close();
  }
}

async function resultCmd(values: Values, positionals: string[], io: CliIO, output: 'text' | 'json'): Promise<number> {
  const id = jobArg(positionals);
  const timeoutMs = ms('--timeout', values.timeout, 10 * 60_000);
  const pollMs = ms('--poll', values.poll, 2_000);
  const { client } = await target(values, io);
  try {
    const job = values.wait ? await client.waitForResult(id, { timeoutMs, pollMs }) : await client.getJob(id);
    if (output === 'json') io.stdout.write(`${JSON.stringify(job)}\n`);
    if (!isTerminalStatus(job.status)) {
      io.stderr.write(`job ${id} is ${job.status}; not finished yet${values.wait ? '' : ' (use --wait)'}\n`);
      return DELEGATE_EXIT.notFinished;
    }
    if (job.status === 'failed') {
      io.stderr.write(`job ${id} failed: ${job.error ?? 'no error given'}\n`);
      return DELEGATE_EXIT.jobFailed;
    }
    if (output === 'text') io.stdout.write(job.result === undefined || job.result.endsWith('\n') ? (job.result ?? '') : `${job.result}\n`);
    return DELEGATE_EXIT.ok;
  } finally {
    await client.close();
  }
}
