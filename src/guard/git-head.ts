/**
 * The current git branch of a directory, read from .git/HEAD (no git process: the hook must be fast).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/**
 * Branch name; null when HEAD is detached or `dir` is not in a repository; undefined when it could
 * not be read.
 */
export function readGitBranch(dir: string): string | null | undefined {
  const r = readGitRepo(dir);
  return r === null || r === undefined ? r : r.branch;
}

/**
 * The repository `dir` belongs to: its root (the directory holding `.git`) and current branch (null
 * when HEAD is detached); null when `dir` is not in a repository; undefined when it cannot be read.
 */
export function readGitRepo(dir: string): { root: string; branch: string | null } | null | undefined {
  try {
    let d = resolve(dir);
    for (let i = 0; i < 64; i++) {
      const dotGit = join(d, '.git');
      let st;
      try {
        st = statSync(dotGit);
      } catch {
        st = null;
      }
      if (st !== null) {
        let gitDir = dotGit;
        if (st.isFile()) {
          const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotGit, 'utf8'));
          if (m === null) return undefined;
          const p = (m[1] as string).trim();
          gitDir = isAbsolute(p) ? p : resolve(d, p);
        }
        const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
        const ref = /^ref:\s*refs\/heads\/(.+)$/.exec(head);
        return { root: d, branch: ref === null ? null : (ref[1] as string) };
      }
      const up = dirname(d);
      if (up === d) return null;
      d = up;
    }
    return undefined;
  } catch {
    return undefined;
  }
}
