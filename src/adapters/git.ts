/**
 * GitPort, and the handlers of the `git.addWorktree` / `git.removeWorktree` effects: the worktrees
 * of sessions (`Session.spec.worktree`). git runs as a child process with a clean view of the
 * repository: variables that would point it at another repository (GIT_DIR, GIT_WORK_TREE, ...) are
 * dropped, messages are in English (LC_ALL=C), it never prompts, and reads take no optional locks
 * (an agent may be committing in the same repository).
 *
 * Nothing here ever forces: a worktree with uncommitted changes is not removed, a path holding
 * anything but a worktree of the project's repository is not touched, and a branch is never deleted.
 */
import { spawn } from 'node:child_process';
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { CfError, RetryableError } from '../core/errors.js';
import type { GitAddWorktreeEffect, GitRemoveWorktreeEffect } from '../core/effects.js';
import type { GitPort, GitRepoInfo, WorktreeState } from '../core/ports.js';

/** Variables that make git look at another repository, index or object store than the one in `-C`. */
const REPO_ENV = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_NAMESPACE', 'GIT_PREFIX'];

/** How long the repository of a directory is remembered (a project is not re-initialised often). */
const REPO_CACHE_MS = 30_000;

async function realOrSame(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return p;
  }
}

export interface GitAdapterOptions {
  gitBin?: string;
  /** Reads (rev-parse, status, worktree list). Default 30 s. */
  timeoutMs?: number;
  /** `git worktree add` checks out the whole tree: a large repository takes a while. Default 10 min. */
  addTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** One entry of `git worktree list --porcelain`. */
export interface WorktreeListEntry {
  path: string;
  head?: string;
  /** Short branch name; undefined when detached or bare. */
  branch?: string;
  bare: boolean;
  /** Registered, but its directory is gone. */
  prunable: boolean;
  locked: boolean;
}

/** Parses `git worktree list --porcelain`. Pure. */
export function parseWorktreeList(text: string): WorktreeListEntry[] {
  const out: WorktreeListEntry[] = [];
  let cur: WorktreeListEntry | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('worktree ')) {
      cur = { path: line.slice('worktree '.length), bare: false, prunable: false, locked: false };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('HEAD ')) cur.head = line.slice(5);
    else if (line.startsWith('branch ')) cur.branch = line.slice(7).replace(/^refs\/heads\//, '');
    else if (line === 'bare') cur.bare = true;
    else if (line === 'prunable' || line.startsWith('prunable ')) cur.prunable = true;
    else if (line === 'locked' || line.startsWith('locked ')) cur.locked = true;
  }
  return out;
}

/** The first lines of git's complaint, for an error message. */
function said(r: GitResult): string {
  const text = (r.stderr.trim() || r.stdout.trim()).split('\n').map((l) => l.trim()).filter(Boolean);
  return text.slice(0, 3).join(' ') || `exit status ${r.code}`;
}

export class GitAdapter implements GitPort {
  readonly #opts: GitAdapterOptions;
  readonly #repos = new Map<string, { at: number; info: GitRepoInfo }>();

  constructor(opts: GitAdapterOptions = {}) {
    this.#opts = opts;
  }

  #env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...(this.#opts.env ?? process.env), LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0' };
    for (const k of REPO_ENV) delete env[k];
    return env;
  }

  #git(args: string[], timeoutMs = this.#opts.timeoutMs ?? 30_000): Promise<GitResult> {
    const bin = this.#opts.gitBin ?? 'git';
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.#env() });
      } catch (err) {
        reject(new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git ${args.slice(2, 4).join(' ')} failed: ${(err as Error).message}`));
        return;
      }
      const out: Buffer[] = [];
      const errs: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout?.on('data', (c: Buffer) => out.push(c));
      child.stderr?.on('data', (c: Buffer) => errs.push(c));
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT') reject(new CfError('CF_ERR_GIT_MISSING', 'git is not installed (apt-get install -y git); sessions with spec.worktree need it'));
        else reject(new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git ${args.slice(2, 4).join(' ')} failed: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) reject(new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git ${args.slice(2, 4).join(' ')} timed out after ${Math.round(timeoutMs / 1000)} s`));
        else if (code === null) reject(new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git ${args.slice(2, 4).join(' ')} was killed by ${signal ?? 'a signal'}`));
        else resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8'), code });
      });
    });
  }

  async repoOf(dir: string): Promise<GitRepoInfo | undefined> {
    const now = Date.now();
    const hit = this.#repos.get(dir);
    if (hit && now - hit.at < REPO_CACHE_MS) return hit.info;
    const r = await this.#git(['-C', dir, 'rev-parse', '--path-format=absolute', '--show-toplevel', '--git-common-dir', '--show-prefix']);
    if (r.code !== 0) {
      if (/not a git repository|cannot change to|No such file or directory|Not a directory/i.test(r.stderr)) return undefined;
      throw new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git rev-parse in ${dir}: ${said(r)}`);
    }
    const [topLevel, commonDir, prefix = ''] = r.stdout.split('\n');
    if (!topLevel || !commonDir) return undefined; // a bare repository, or git inside .git: not a checkout
    const info = { topLevel: await realOrSame(topLevel), commonDir: await realOrSame(commonDir), prefix };
    this.#repos.set(dir, { at: now, info });
    return info;
  }

  /**
   * What is at `path`, read from the files git itself reads (`.git`, `commondir`, `HEAD`): a session
   * is observed on every one of its hook events, and four git processes each time add up on a
   * small machine. git is asked only about a directory without its own `.git`.
   */
  async worktreeAt(path: string): Promise<WorktreeState> {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
      throw err;
    }
    if (!st.isDirectory()) return { state: 'other', what: st.isSymbolicLink() ? 'a symbolic link' : 'a file' };
    const entries = await readdir(path);
    // An empty directory is as good as none: git worktree add fills it.
    if (entries.length === 0) return { state: 'missing' };
    const topLevel = await realpath(path);
    if (entries.includes('.git')) {
      const dotGit = posix.join(path, '.git');
      const gitStat = await lstat(dotGit);
      let gitDir: string | undefined;
      if (gitStat.isDirectory()) gitDir = dotGit;
      else if (gitStat.isFile()) {
        const m = /^gitdir: (.+)$/m.exec(await readFile(dotGit, 'utf8'));
        if (m?.[1]) gitDir = posix.resolve(path, m[1].trim());
      }
      if (gitDir !== undefined) {
        const common = (await readFile(posix.join(gitDir, 'commondir'), 'utf8').catch(() => undefined))?.trim();
        const commonDir = await realOrSame(common ? posix.resolve(gitDir, common) : gitDir);
        const head = (await readFile(posix.join(gitDir, 'HEAD'), 'utf8').catch(() => '')).trim();
        const ref = /^ref: refs\/heads\/(.+)$/.exec(head);
        return { state: 'worktree', commonDir, topLevel, ...(ref?.[1] ? { branch: ref[1] } : /^[0-9a-f]{40,64}$/.test(head) ? { head } : {}) };
      }
    }
    const repo = await this.repoOf(path);
    if (!repo) return { state: 'other', what: 'a directory that is not a git checkout' };
    return { state: 'other', what: `a directory inside the checkout ${repo.topLevel}` };
  }

  async changes(path: string, limit = 20): Promise<string[]> {
    const r = await this.#git(['-C', path, 'status', '--porcelain', '--untracked-files=normal', '--ignore-submodules=none']);
    if (r.code !== 0) throw new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git status in ${path}: ${said(r)}`);
    return r.stdout.split('\n').filter((l) => l.trim() !== '').slice(0, limit);
  }

  async #list(repo: string): Promise<WorktreeListEntry[]> {
    const r = await this.#git(['-C', repo, 'worktree', 'list', '--porcelain']);
    if (r.code !== 0) throw new RetryableError('CF_ERR_GIT', 'GitUnavailable', `git worktree list in ${repo}: ${said(r)}`);
    return parseWorktreeList(r.stdout);
  }

  /** The `git.addWorktree` effect. */
  async addWorktree(e: GitAddWorktreeEffect): Promise<void> {
    const repo = await this.repoOf(e.repo);
    if (!repo) throw new CfError('CF_ERR_WORKTREE_NO_REPO', `cannot create the worktree ${e.path}: ${e.repo} is not inside a git repository`);
    const at = await this.worktreeAt(e.path);
    if (at.state === 'worktree') {
      if (at.commonDir === repo.commonDir) return; // already there: idempotent (whatever it has checked out now)
      throw new CfError('CF_ERR_WORKTREE_CONFLICT', `${e.path} is a checkout of another repository (${at.commonDir}); it is left alone`);
    }
    if (at.state === 'other') throw new CfError('CF_ERR_WORKTREE_CONFLICT', `${e.path} exists and is ${at.what}; it is left alone (move it away, or choose another worktree.path)`);
    const wanted = posix.resolve(e.path);
    const list = await this.#list(e.repo);
    const registered = list.find((w) => w.path === wanted);
    const elsewhere = list.find((w) => w.branch === e.branch && w.path !== wanted && !w.prunable);
    if (elsewhere) throw new CfError('CF_ERR_WORKTREE_CONFLICT', `branch ${e.branch} is already checked out in ${elsewhere.path}; git checks a branch out in one worktree only (give spec.worktree.branch another name)`);
    const exists = (await this.#git(['-C', e.repo, 'show-ref', '--verify', '--quiet', `refs/heads/${e.branch}`])).code === 0;
    // A worktree registered at this path whose directory was deleted: `-f` re-uses the registration.
    const args = ['-C', e.repo, 'worktree', 'add', ...(registered ? ['-f'] : []), ...(exists ? [wanted, e.branch] : ['-b', e.branch, wanted, ...(e.base !== undefined ? [e.base] : [])])];
    const r = await this.#git(args, this.#opts.addTimeoutMs ?? 10 * 60_000);
    if (r.code !== 0) throw new CfError('CF_ERR_GIT', `git worktree add ${wanted} (${exists ? 'branch' : 'new branch'} ${e.branch}${!exists && e.base ? ` from ${e.base}` : ''}) failed: ${said(r)}`);
  }

  /** The `git.removeWorktree` effect. Never forced: git refuses a worktree with changes, and so does this. */
  async removeWorktree(e: GitRemoveWorktreeEffect): Promise<void> {
    const at = await this.worktreeAt(e.path);
    if (at.state === 'missing') return; // gone already
    if (at.state === 'other') throw new CfError('CF_ERR_WORKTREE_CONFLICT', `${e.path} is no longer a git worktree (${at.what}); it is left alone`);
    const repo = await this.repoOf(e.repo);
    if (repo && repo.commonDir !== at.commonDir) throw new CfError('CF_ERR_WORKTREE_CONFLICT', `${e.path} is a checkout of another repository (${at.commonDir}); it is left alone`);
    if (at.topLevel === (repo?.topLevel ?? '')) throw new CfError('CF_ERR_WORKTREE_CONFLICT', `${e.path} is the project's main checkout; it is never removed`);
    const dirty = await this.changes(e.path, 5);
    if (dirty.length > 0) throw new CfError('CF_ERR_WORKTREE_DIRTY', `the worktree ${e.path} has uncommitted changes (${dirty.join('; ')}); it is kept`);
    const r = await this.#git(['-C', repo ? e.repo : e.path, 'worktree', 'remove', e.path]);
    if (r.code !== 0) throw new CfError(/modified or untracked/.test(r.stderr) ? 'CF_ERR_WORKTREE_DIRTY' : 'CF_ERR_GIT', `git worktree remove ${e.path} failed: ${said(r)}`);
  }
}
