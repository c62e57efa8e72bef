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
  /** The texts that were parsed, by absolute path (what the state dir records as the last applied set). */
  sources: ManifestSource[];
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

/** A manifest file's absolute path and the text that was read from it. */
export interface ManifestSource {
  path: string;
  text: string;
}

/** Loads and validates a manifest set. Diagnostics hold every problem found, not just the first. */
export async function loadManifests(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const display = displayFor(opts);
  const diagnostics: Diagnostic[] = [];
  const files: string[] = [];
  for (const p of paths) await collect(resolve(p), files, diagnostics, display);
  const sources: ManifestSource[] = [];
  for (const file of files) {
    try {
      sources.push({ path: file, text: await readFile(file, 'utf8') });
    } catch (err) {
      diagnostics.push({ file: display(file), line: 1, col: 1, severity: 'error', code: 'CF_MANIFEST_PATH', message: `cannot read: ${(err as Error).message}` });
    }
  }
  const result = parseSources(sources, diagnostics, files, opts);
  if (opts.gitRevision !== false && paths.length > 0) {
    const rev = await gitRevision(resolve(paths[0] as string));
    if (rev) result.revision = rev;
  }
  return result;
}

/**
 * Parses and validates manifest texts recorded earlier (the last applied set in the state dir)
 * exactly as {@link loadManifests} parses files: same paths, so relative paths resolve the same.
 */
export function loadRecordedManifests(sources: readonly ManifestSource[], opts: LoadOptions & { revision?: string } = {}): LoadResult {
  const result = parseSources(sources, [], sources.map((s) => s.path), opts);
  if (opts.revision) result.revision = opts.revision;
  return result;
}

function displayFor(opts: LoadOptions): (p: string) => string {
  const base = opts.displayBase ?? process.cwd();
  return (p: string) => {
    const rel = relative(base, p);
    return rel.startsWith('..') || rel === '' ? p : rel;
  };
}

function parseSources(sources: readonly ManifestSource[], diagnostics: Diagnostic[], files: string[], opts: LoadOptions): LoadResult {
  const display = displayFor(opts);
  const objects: AnyObject[] = [];
  const skippedFiles: string[] = [];
  const homeDir = opts.homeDir ?? homedir();
  for (const { path: file, text } of sources) {
    // Parse with the absolute path (relative paths in specs resolve against it), report with the display path.
    const r = parseManifestText(file, text, { homeDir });
    for (const d of r.diagnostics) diagnostics.push({ ...d, file: display(d.file) });
    for (const o of r.objects) objects.push(o);
    if (r.skipped) skippedFiles.push(file);
  }
  for (const o of objects) o.source.file = display(o.source.file);
  for (const d of validateSet(objects)) diagnostics.push(d);
  diagnostics.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
  return { objects, diagnostics, files, skippedFiles, sources: [...sources] };
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
