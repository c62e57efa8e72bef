/** Reads manifest files and directories from disk and hands their text to the pure parser. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { parseManifestText } from '../api/parse.js';
import { desiredFromObjects, type AnyObject, type DesiredState, type Diagnostic } from '../api/objects.js';
import { validateSet } from '../api/validate-set.js';

export interface LoadResult {
  objects: AnyObject[];
  diagnostics: Diagnostic[];
  /** Files that were read (manifests and skipped ones). */
  files: string[];
  /** Files none of whose documents look like a manifest. */
  skippedFiles: string[];
  revision?: string;
}

export interface LoadOptions {
  homeDir?: string;
  /** Show paths relative to this directory in diagnostics (default: the process cwd). */
  displayBase?: string;
  /** Look up the git revision of the manifest paths (default true). */
  gitRevision?: boolean;
}

const SKIP_DIRS = new Set(['node_modules', '.git']);

async function collect(path: string, out: string[], diagnostics: Diagnostic[], display: (p: string) => string): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    diagnostics.push({ file: display(path), line: 1, col: 1, severity: 'error', code: 'CF_MANIFEST_PATH', message: `cannot read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}` });
    return;
  }
  if (st.isFile()) {
    out.push(path);
    return;
  }
  if (!st.isDirectory()) return;
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    const p = join(path, e.name);
    if (e.isDirectory()) await collect(p, out, diagnostics, display);
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(p);
  }
}

/** Loads and validates a manifest set. Diagnostics hold every problem found, not just the first. */
export async function loadManifests(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const base = opts.displayBase ?? process.cwd();
  const display = (p: string) => {
    const rel = relative(base, p);
    return rel.startsWith('..') || rel === '' ? p : rel;
  };
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const p of paths) await collect(resolve(p), files, diagnostics, display);
  const objects: AnyObject[] = [];
  const skippedFiles: string[] = [];
  const homeDir = opts.homeDir ?? homedir();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      diagnostics.push({ file: display(file), line: 1, col: 1, severity: 'error', code: 'CF_MANIFEST_PATH', message: `cannot read: ${(err as Error).message}` });
      continue;
    }
    // Parse with the absolute path (relative paths in specs resolve against it), report with the display path.
    const r = parseManifestText(file, text, { homeDir });
    for (const d of r.diagnostics) diagnostics.push({ ...d, file: display(d.file) });
    for (const o of r.objects) objects.push(o);
    if (r.skipped) skippedFiles.push(file);
  }
  for (const o of objects) o.source.file = display(o.source.file);
  for (const d of validateSet(objects)) diagnostics.push(d);
  diagnostics.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  const result: LoadResult = { objects, diagnostics, files, skippedFiles };
  if (opts.gitRevision !== false && paths.length > 0) {
    const rev = await gitRevision(resolve(paths[0] as string));
    if (rev) result.revision = rev;
  }
  return result;
}

/** `HEAD` of the git checkout containing `path` (+`-dirty` when it has uncommitted changes). */
export async function gitRevision(path: string): Promise<string | undefined> {
  let dir = path;
  try {
    if (!(await stat(path)).isDirectory()) dir = resolve(path, '..');
  } catch {
    return undefined;
  }
  const head = await execa('git', ['-C', dir, 'rev-parse', 'HEAD'], { reject: false, timeout: 5000 });
  if (head.exitCode !== 0) return undefined;
  const dirty = await execa('git', ['-C', dir, 'status', '--porcelain', '--', '.'], { reject: false, timeout: 5000 });
  return `${head.stdout.trim()}${dirty.exitCode === 0 && dirty.stdout.trim() !== '' ? '-dirty' : ''}`;
}

export function toDesired(result: LoadResult): DesiredState {
  return desiredFromObjects(result.objects, result.revision);
}
