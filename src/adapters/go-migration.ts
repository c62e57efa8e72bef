/**
 * `migrate --from-go`, the part that touches the world: reads what the Go system left (markers in the
 * task queues, account homes, hooks in projects, agents on its tmux server), asks the job API about
 * delegated tasks (read-only GETs), and applies a plan made by src/core/go-migration.ts. Every
 * applied step is crash-safe and can be re-run: the record (job record or lease) is written first,
 * then the task is renamed into place, then the marker is removed; a re-run recognises its own
 * record and finishes the step.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { DesiredState } from '../api/objects.js';
import { queueRootOf } from '../api/queue-root.js';
import { goMarkerOf, keyOf, parseGoMarker, type JobLookup, type MigrationInput, type MigrationProject, type MigrationStep, type ObservedMarker, type ObservedTaskFile, type QueuePlace } from '../core/go-migration.js';
import { ADOPTABLE_DIRS } from '../core/shared-state.js';
import { DelegationApiError, DelegationClient } from './delegation/client.js';
import { readJobRecord, writeJobRecord } from './delegation/job-records.js';
import { guardScriptName } from './guard-deploy.js';
import { ensureQueueDirs, leasePath, locateTask, readLease } from './queue/queue.js';
import { createFileExclusive, fsyncDir, isEnoent, unlinkIfExists, writeFileAtomic } from './queue/fs-util.js';

const MAX_MARKER_BYTES = 1024 * 1024;
/** Where markers are looked for: the queue root and the directories tasks move through. */
const MARKER_PLACES: QueuePlace[] = ['root', 'inbox', 'dispatched', 'delegated', 'done', 'failed'];

function placeDir(root: string, place: QueuePlace): string {
  return place === 'root' ? root : path.join(root, place);
}

async function readSmall(file: string): Promise<string | undefined> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st?.isFile() || st.size > MAX_MARKER_BYTES) return undefined;
  return fs.readFile(file, 'utf8').catch(() => undefined);
}

/** The projects of the set as the migration sees them (the policy after the compatibility switches). */
export function migrationProjects(desired: DesiredState): MigrationProject[] {
  return desired.projects.map((p) => {
    const pol = desired.delegationPolicies.find((x) => x.metadata.name === p.spec.delegationPolicy);
    return {
      name: p.metadata.name,
      root: queueRootOf(p),
      ...(pol ? { policy: { name: pol.metadata.name, providers: pol.spec.providers, ...(pol.spec.defaultProvider ? { defaultProvider: pol.spec.defaultProvider } : {}) } } : {}),
      sessions: desired.sessions.filter((s) => s.spec.project === p.metadata.name).map((s) => ({ name: s.metadata.name, ...(s.spec.account ? { account: s.spec.account } : {}) })),
    };
  });
}

/** Asks the job API for the job behind a delegation marker (read-only). */
async function lookupJob(client: DelegationClient, taskId: string, jobId: string | undefined): Promise<JobLookup> {
  const said = (err: unknown) => (err instanceof DelegationApiError ? `${err.status ? `HTTP ${err.status}: ` : ''}${err.message}` : String(err));
  if (jobId) {
    try {
      const j = await client.getJob(jobId, { unguarded: true });
      return { found: true, jobId: j.id, status: j.status, ...(j.provider ? { provider: j.provider } : {}), ...(j.createdAt ? { createdAt: j.createdAt } : {}), via: 'marker' };
    } catch (err) {
      if (err instanceof DelegationApiError && err.status === 404) return { found: false, why: `the marker names job ${jobId}, which the job API does not know (404)` };
      return { found: false, why: `the job API did not answer about job ${jobId} (${said(err)})` };
    }
  }
  try {
    const jobs = await client.findJobsByTask(taskId, { unguarded: true });
    if (jobs.length === 0) return { found: false, why: `the marker does not name it, and the job API knows no job for task ${taskId}` };
    const newest = [...jobs].sort((a, b) => (Date.parse(b.createdAt ?? '') || 0) - (Date.parse(a.createdAt ?? '') || 0))[0] as (typeof jobs)[number];
    return { found: true, jobId: newest.id, status: newest.status, ...(newest.provider ? { provider: newest.provider } : {}), ...(newest.createdAt ? { createdAt: newest.createdAt } : {}), via: 'task id', ...(jobs.length > 1 ? { others: jobs.length - 1 } : {}) };
  } catch (err) {
    if (err instanceof DelegationApiError && (err.status === 404 || err.status === 405 || err.status === 501)) return { found: false, why: `the marker does not name it, and the job API has no lookup by task id (GET /v1/jobs?task_id= answered ${err.status})` };
    return { found: false, why: `the marker does not name it, and the job API did not answer the lookup by task id (${said(err)})` };
  }
}

export interface ObserveOptions {
  env: NodeJS.ProcessEnv;
  now: number;
  activeAccount?: string;
  /** Ask the job API about delegated tasks (default true). */
  jobApi?: boolean;
}

/** Everything `planGoMigration` needs, read from the queues and the job API. */
export async function observeGoQueues(desired: DesiredState, o: ObserveOptions): Promise<{ input: MigrationInput; missingQueues: string[] }> {
  const projects = migrationProjects(desired);
  const input: MigrationInput = {
    projects,
    accounts: [...desired.accounts].sort((a, b) => a.spec.priority - b.spec.priority).map((a) => a.metadata.name),
    ...(o.activeAccount ? { activeAccount: o.activeAccount } : {}),
    markers: [],
    tasks: new Map(),
    jobRecords: new Map(),
    leases: new Map(),
    jobs: new Map(),
    now: o.now,
  };
  const missingQueues: string[] = [];
  for (const p of projects) {
    const st = await fs.stat(p.root).catch(() => undefined);
    if (!st?.isDirectory()) {
      missingQueues.push(p.root);
      continue;
    }
    const mine: ObservedMarker[] = [];
    for (const place of MARKER_PLACES) {
      const dir = placeDir(p.root, place);
      const names = await fs.readdir(dir).catch(() => [] as string[]);
      for (const name of names.sort()) {
        const mk = goMarkerOf(name);
        if (!mk) continue;
        const file = path.join(dir, name);
        const st2 = await fs.lstat(file).catch(() => undefined);
        if (!st2?.isFile()) continue;
        const text = (await readSmall(file)) ?? '';
        const content = parseGoMarker(text, mk.kind);
        mine.push({ project: p.name, root: p.root, kind: mk.kind, taskId: mk.taskId, path: file, place, mtimeMs: st2.mtimeMs, content, ...(content.form === 'text' ? { text } : {}) });
      }
    }
    const client = p.policy && o.jobApi !== false ? policyClient(desired, p.policy.name, o.env) : undefined;
    try {
      for (const m of mine) {
        input.markers.push(m);
        const key = keyOf(p.root, m.taskId);
        if (input.tasks.has(key)) continue;
        const files: ObservedTaskFile[] = [];
        for (const loc of await locateTask(p.root, m.taskId).catch(() => [])) {
          const text = await readSmall(loc.path);
          if (text !== undefined) files.push({ path: loc.path, place: loc.state, text });
        }
        const atRoot = path.join(p.root, `${m.taskId}.md`);
        const rootText = await readSmall(atRoot);
        if (rootText !== undefined) files.push({ path: atRoot, place: 'root', text: rootText });
        input.tasks.set(key, files);
        const rec = await readJobRecord(p.root, m.taskId).catch(() => undefined);
        if (rec) input.jobRecords.set(key, { ...(rec.jobId ? { jobId: rec.jobId } : {}) });
        const lease = await readLease(p.root, m.taskId).catch(() => undefined);
        if (lease) input.leases.set(key, { claimId: lease.claimId });
      }
      for (const m of mine) {
        if (m.kind !== 'delegated' || !client) continue;
        const key = keyOf(p.root, m.taskId);
        if (input.jobs.has(key)) continue;
        const jobId = m.content.form === 'record' ? m.content.record.jobId : undefined;
        input.jobs.set(key, await lookupJob(client, m.taskId, jobId));
      }
    } finally {
      await client?.close();
    }
  }
  return { input, missingQueues };
}

function policyClient(desired: DesiredState, name: string, env: NodeJS.ProcessEnv): DelegationClient | undefined {
  const pol = desired.delegationPolicies.find((x) => x.metadata.name === name);
  if (!pol) return undefined;
  return new DelegationClient({ endpoint: pol.spec.endpoint, apiKey: pol.spec.apiKey, env, retry: { maxAttempts: 2, deadlineMs: 15_000 }, requestTimeoutMs: 10_000 });
}

// ---------------------------------------------------------------------------------------------
// Apply

async function moveInto(from: string, to: string): Promise<void> {
  if (from === to) return;
  await fs.mkdir(path.dirname(to), { recursive: true });
  const there = await fs.lstat(to).catch(() => undefined);
  if (there) {
    // A re-run after a crash between the rename and the marker's removal: the task is in place.
    const gone = await fs.lstat(from).catch(() => undefined);
    if (!gone) return;
    throw new Error(`${to} exists already; not overwriting it`);
  }
  try {
    await fs.rename(from, to);
  } catch (err) {
    if (isEnoent(err) && (await fs.lstat(to).catch(() => undefined))) return;
    throw err;
  }
  await fsyncDir(path.dirname(from));
  await fsyncDir(path.dirname(to));
}

/** Applies one step. Throws with a human message; a failed step leaves the marker in place. */
export async function applyGoStep(s: MigrationStep): Promise<void> {
  await ensureQueueDirs(s.root);
  switch (s.type) {
    case 'dropMarker':
      await unlinkIfExists(s.marker, { durable: true });
      return;
    case 'delegation': {
      const cur = await readJobRecord(s.root, s.taskId).catch(() => undefined);
      if (!cur) await writeJobRecord(s.root, s.record);
      else if (cur.jobId !== s.record.jobId) throw new Error(`a job record for task ${s.taskId} exists with job ${cur.jobId ?? '(none)'}; not replacing it`);
      await moveInto(s.from, path.join(s.root, 'delegated', `${s.taskId}.md`));
      if (s.marker !== s.from) await unlinkIfExists(s.marker, { durable: true });
      return;
    }
    case 'lease': {
      const created = await createFileExclusive(leasePath(s.root, s.taskId), `${JSON.stringify(s.lease, null, 2)}\n`, { durable: true });
      if (!created) {
        const cur = await readLease(s.root, s.taskId);
        if (cur?.claimId !== s.lease.claimId) throw new Error(`task ${s.taskId} is leased already (claim ${cur?.claimId ?? '?'}); not replacing the lease`);
      }
      await moveInto(s.from, path.join(s.root, 'dispatched', `${s.taskId}.md`));
      if (s.marker !== s.from) await unlinkIfExists(s.marker, { durable: true });
      return;
    }
    case 'requeue': {
      const dest = path.join(s.root, 'inbox', `${s.taskId}.md`);
      if (s.from !== dest) {
        const there = await fs.lstat(dest).catch(() => undefined);
        // Written under a hidden temp name and renamed in: the controller never sees half a task.
        if (!there) await writeFileAtomic(dest, s.text, { durable: true });
        await unlinkIfExists(s.from, { durable: true });
      } else {
        await writeFileAtomic(dest, s.text, { durable: true });
      }
      if (s.marker !== s.from) await unlinkIfExists(s.marker, { durable: true });
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What else the Go system left (reported; changed by other commands or by hand)

export interface GoNote {
  what: string;
  todo: string;
}

/** Account homes with real shared directories (the Go system's agents wrote into them). */
export async function sharedDirNotes(desired: DesiredState, manifestArgs: string): Promise<GoNote[]> {
  const notes: GoNote[] = [];
  for (const a of desired.accounts) {
    if (!a.spec.sharedStateDir) continue;
    const real: string[] = [];
    for (const d of a.spec.sharedDirs) {
      const st = await fs.lstat(path.join(a.spec.configDir, d)).catch(() => undefined);
      if (st?.isDirectory()) real.push(d);
    }
    if (real.length === 0) continue;
    const adoptable = real.filter((d) => ADOPTABLE_DIRS.includes(d));
    const manual = real.filter((d) => !ADOPTABLE_DIRS.includes(d));
    if (adoptable.length > 0) {
      notes.push({
        what: `account ${a.metadata.name}: ${adoptable.map((d) => `${d}/`).join(', ')} in ${a.spec.configDir} ${adoptable.length === 1 ? 'is a real directory' : 'are real directories'} (the Go system's agents wrote there), so the account is not a failover target (SharedStateLinked=False)`,
        todo: `claude-failover account link ${a.metadata.name} --adopt ${manifestArgs}   (moves their files into ${a.spec.sharedStateDir}, never overwriting, then links; run it before starting the controller)`,
      });
    }
    if (manual.length > 0) {
      notes.push({
        what: `account ${a.metadata.name}: ${manual.map((d) => `${d}/`).join(', ')} in ${a.spec.configDir} ${manual.length === 1 ? 'is a real directory' : 'are real directories'} (conversation history: never merged automatically)`,
        todo: `once its agents are stopped, move the contents into ${a.spec.sharedStateDir} by hand (docs/migrating.md, "Shared conversation state"), then: claude-failover account link ${a.metadata.name} ${manifestArgs}`,
      });
    }
  }
  return notes;
}

/** Hooks in a project's `.claude/hooks/` that claude-failover did not deploy (the Go system's). */
export async function foreignHookNotes(desired: DesiredState): Promise<GoNote[]> {
  const notes: GoNote[] = [];
  const ours = new Set(desired.sessions.map((s) => guardScriptName(s.metadata.name)));
  for (const p of desired.projects) {
    const dir = path.join(p.spec.path, '.claude', 'hooks');
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const foreign = names.filter((n) => !n.startsWith('.') && !n.startsWith('claude-failover-guard-') && !ours.has(n)).sort();
    if (foreign.length === 0) continue;
    const settings = path.join(p.spec.path, '.claude', 'settings.json');
    const text = (await readSmall(settings)) ?? '';
    const referenced = foreign.filter((n) => text.includes(n));
    notes.push({
      what: `project ${p.metadata.name}: hooks claude-failover did not install in ${dir}: ${foreign.join(', ')}${referenced.length > 0 ? ` (${referenced.join(', ')} still registered in ${settings})` : ''}; the agents cannot remove them (the safety guard protects .claude/)`,
      todo: `remove them yourself: rm ${foreign.map((n) => path.join(dir, n)).join(' ')}${referenced.length > 0 ? `, and delete their entries from ${settings}` : ''}`,
    });
  }
  return notes;
}

/** Agents of the Go system still running on its tmux server, under the names of declared Sessions. */
export async function oldAgentNotes(desired: DesiredState, tmuxArgs: string[], env: NodeJS.ProcessEnv): Promise<GoNote[]> {
  const r = await execa('tmux', [...tmuxArgs, 'list-sessions', '-F', '#{session_name}\t#{@cf-owner}'], { reject: false, env: { ...env, TMUX: '' }, timeout: 10_000 });
  if (r.exitCode !== 0) return [];
  const declared = new Set(desired.sessions.map((s) => s.metadata.name));
  const old = String(r.stdout).split('\n').map((l) => l.split('\t')).filter(([name, owner]) => name && declared.has(name) && !owner).map(([name]) => name as string);
  if (old.length === 0) return [];
  const server = tmuxArgs.length > 0 ? `tmux ${tmuxArgs.join(' ')}` : 'tmux (the default server)';
  return [{
    what: `agents of the Go system still run on ${server}: ${old.join(', ')}`,
    todo: `let each finish its turn, then stop them before starting the controller: ${old.map((n) => `${tmuxArgs.length > 0 ? `tmux ${tmuxArgs.join(' ')}` : 'tmux'} kill-session -t =${n}`).join('; ')}`,
  }];
}
