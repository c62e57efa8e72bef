/**
 * Pure manifest parsing: YAML text -> validated objects + diagnostics with file:line:col.
 * Reading files is the adapter's job (src/adapters/manifest-files.ts); this module only sees text.
 */
import { posix as pathPosix } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { generationOf } from './generation.js';
import type { AnyObject, Diagnostic, ManifestObject } from './objects.js';
import { API_VERSION, KINDS, isKind, objectSchema, type Kind } from './schemas.js';
import { closest } from './suggest.js';

export interface ParseOptions {
  /** Home directory for `~/` in paths. */
  homeDir: string;
}

export interface ParseResult {
  objects: AnyObject[];
  diagnostics: Diagnostic[];
  /** True when no document of the file looks like a manifest (see `looksLikeManifest`). */
  skipped: boolean;
}

const MANIFEST_KEYS = ['apiVersion', 'kind', 'metadata', 'spec'];

/**
 * The rule for files that are not ours: a YAML document "looks like a manifest" when it is a
 * mapping with at least one of `apiVersion`, `kind`, `metadata` or `spec` at the top. A file in
 * which no document does (a CI config, a kustomization without those keys, notes) is skipped.
 * Any document that does is validated in full.
 */
export function looksLikeManifest(value: unknown): boolean {
  return !!value && typeof value === 'object' && !Array.isArray(value) && MANIFEST_KEYS.some((k) => k in (value as object));
}

type Path = (string | number)[];

export function parseManifestText(file: string, text: string, opts: ParseOptions): ParseResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const objects: AnyObject[] = [];
  const at = (offset: number, code: string, message: string): Diagnostic => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, col: pos.col, severity: 'error', code, message };
  };
  const list = Array.isArray(docs) ? docs : [];
  let sawManifest = false;
  let sawSyntaxError = false;

  for (const doc of list) {
    if (doc.errors.length > 0) {
      sawSyntaxError = true;
      for (const e of doc.errors) diagnostics.push(at(e.pos[0], 'CF_MANIFEST_YAML', `YAML syntax error: ${firstLine(e.message)}`));
      continue;
    }
    if (doc.contents === null) continue; // empty document (e.g. a trailing `---`)
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (!looksLikeManifest(value)) {
      if (value !== null && value !== undefined && typeof value !== 'object') continue;
      if (Array.isArray(value)) continue;
      continue;
    }
    sawManifest = true;
    const root = doc.contents as YamlNode;
    const docStart = root.range?.[0] ?? 0;
    const record = value as Record<string, unknown>;
    const nodeAt = (path: Path): YamlNode | undefined => {
      const n = path.length === 0 ? root : doc.getIn(path, true);
      return n && typeof n === 'object' && 'range' in n ? (n as YamlNode) : undefined;
    };
    const offsetOf = (path: Path): number => {
      for (let p = path; ; p = p.slice(0, -1)) {
        const n = nodeAt(p);
        if (n?.range) return n.range[0];
        if (p.length === 0) return docStart;
      }
    };

    if (record.apiVersion !== API_VERSION) {
      const where = 'apiVersion' in record ? offsetOf(['apiVersion']) : docStart;
      const msg = 'apiVersion' in record
        ? `unsupported apiVersion ${JSON.stringify(record.apiVersion)}: expected "${API_VERSION}"`
        : `missing required field \`apiVersion\` (expected "${API_VERSION}")`;
      diagnostics.push(at(where, 'CF_MANIFEST_API_VERSION', msg));
      continue;
    }
    if (!isKind(record.kind)) {
      const where = 'kind' in record ? offsetOf(['kind']) : docStart;
      const hint = typeof record.kind === 'string' ? closest(record.kind, KINDS) : undefined;
      const msg = 'kind' in record
        ? `unknown kind ${JSON.stringify(record.kind)}: expected one of ${KINDS.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`
        : `missing required field \`kind\` (one of ${KINDS.join(', ')})`;
      diagnostics.push(at(where, 'CF_MANIFEST_KIND', msg));
      continue;
    }
    const kind: Kind = record.kind;
    const schema = objectSchema(kind);
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        diagnostics.push(...issueDiagnostics(issue, schema, doc, offsetOf, at));
      }
      continue;
    }
    const data = parsed.data as { apiVersion: string; kind: Kind; metadata: ManifestObject['metadata']; spec: Record<string, unknown> };
    const spec = resolvePaths(kind, data.spec, pathPosix.dirname(file), opts.homeDir);
    const pos = lineCounter.linePos(docStart);
    objects.push({
      apiVersion: data.apiVersion,
      kind,
      metadata: data.metadata,
      spec,
      source: { file, line: pos.line, col: pos.col, fields: fieldPositions(root, lineCounter) },
      generation: generationOf(spec),
    } as AnyObject);
  }
  return { objects, diagnostics, skipped: !sawManifest && !sawSyntaxError };
}

/** Dotted path -> position of every node under the document root. */
function fieldPositions(root: YamlNode, lc: LineCounter): Record<string, { line: number; col: number }> {
  const out: Record<string, { line: number; col: number }> = {};
  const walk = (node: unknown, prefix: string) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (k === undefined) continue;
        const path = prefix ? `${prefix}.${k}` : k;
        const v = pair.value as YamlNode | null;
        const r = (v && v.range) || (pair.key as YamlNode).range;
        if (r) out[path] = lc.linePos(r[0]);
        walk(v, path);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        const path = `${prefix}.${i}`;
        const r = (item as YamlNode | null)?.range;
        if (r) out[path] = lc.linePos(r[0]);
        walk(item, path);
      });
    }
  };
  walk(root, '');
  return out;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function issueDiagnostics(
  issue: z.core.$ZodIssue,
  schema: z.ZodType,
  doc: Document.Parsed,
  offsetOf: (p: Path) => number,
  at: (offset: number, code: string, message: string) => Diagnostic,
): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const dotted = path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schemaAt(schema, path));
    const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
    return issue.keys.map((key) => {
      let offset = offsetOf(path);
      if (isMap(parent)) {
        const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === key);
        const keyNode = pair?.key as YamlNode | undefined;
        if (keyNode?.range) offset = keyNode.range[0];
      }
      const hint = closest(key, known);
      const where = dotted ? ` in \`${dotted}\`` : '';
      return at(offset, 'CF_MANIFEST_UNKNOWN_FIELD', `unknown field \`${key}\`${where}${hint ? ` (did you mean \`${hint}\`?)` : ''}`);
    });
  }
  if (issue.code === 'invalid_key') {
    // A record key that its key schema refuses (e.g. `spec.env`): point at the key, say why.
    const parentPath = path.slice(0, -1);
    const key = String(path.at(-1) ?? '');
    const parent = parentPath.length === 0 ? doc.contents : doc.getIn(parentPath, true);
    let offset = offsetOf(path);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && String(it.key.value) === key);
      const keyNode = pair?.key as YamlNode | undefined;
      if (keyNode?.range) offset = keyNode.range[0];
    }
    const why = issue.issues.map((i) => humanize(i.message)).join('; ');
    return [at(offset, 'CF_MANIFEST_INVALID', `\`${parentPath.join('.')}\`: key \`${key}\` is not allowed: ${why}`)];
  }
  const present = path.length === 0 || doc.hasIn(path);
  if (issue.code === 'invalid_type' && !present) {
    return [at(offsetOf(path), 'CF_MANIFEST_MISSING_FIELD', `missing required field \`${dotted}\``)];
  }
  if (issue.code === 'invalid_union') {
    const isSecret = path.some((p) => p === 'apiKey' || p === 'botToken' || p === 'secret');
    const msg = isSecret
      ? `\`${dotted}\`: expected a secret reference \`{env: NAME}\` or \`{file: PATH}\` (secrets are never inline)`
      : `\`${dotted}\`: value does not match any allowed form`;
    return [at(offsetOf(path), 'CF_MANIFEST_INVALID', msg)];
  }
  const code = /duration/.test(issue.message) ? 'CF_MANIFEST_DURATION' : 'CF_MANIFEST_INVALID';
  return [at(offsetOf(path), code, `${dotted ? `\`${dotted}\`: ` : ''}${humanize(issue.message)}`)];
}

function humanize(message: string): string {
  return message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
}

type AnySchema = z.core.$ZodType;

function defOf(s: AnySchema): Record<string, unknown> & { type: string } {
  return (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
}

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = defOf(cur);
    if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'nonoptional', 'catch'].includes(def.type)) cur = def.innerType as AnySchema;
    else break;
  }
  return cur;
}

function schemaAt(root: AnySchema, path: Path): AnySchema | undefined {
  let cur: AnySchema | undefined = root;
  for (const seg of path) {
    if (!cur) return undefined;
    const def = defOf(unwrap(cur));
    if (def.type === 'object') cur = (def.shape as Record<string, AnySchema>)[String(seg)];
    else if (def.type === 'array') cur = def.element as AnySchema;
    else if (def.type === 'record') cur = def.valueType as AnySchema;
    else return undefined;
  }
  return cur;
}

function knownKeys(s: AnySchema | undefined): string[] {
  if (!s) return [];
  const def = defOf(unwrap(s));
  if (def.type === 'object') return Object.keys(def.shape as object);
  if (def.type === 'union') return (def.options as AnySchema[]).flatMap((o) => knownKeys(o));
  return [];
}

/** Expands `~/` and resolves relative paths against the manifest file's directory. */
export function resolvePath(p: string, baseDir: string, homeDir: string): string {
  if (p === '~') return homeDir;
  if (p.startsWith('~/')) return pathPosix.join(homeDir, p.slice(2));
  return pathPosix.resolve(baseDir, p);
}

function resolvePaths(kind: Kind, spec: Record<string, unknown>, baseDir: string, homeDir: string): Record<string, unknown> {
  const r = (p: unknown) => (typeof p === 'string' ? resolvePath(p, baseDir, homeDir) : p);
  const out = { ...spec };
  const fix = (obj: Record<string, unknown>, field: string) => {
    if (obj[field] !== undefined) obj[field] = r(obj[field]);
  };
  const fixSecret = (holder: Record<string, unknown> | undefined, field: string) => {
    const ref = holder?.[field] as { file?: string } | undefined;
    if (holder && ref && typeof ref.file === 'string') holder[field] = { file: r(ref.file) };
  };
  switch (kind) {
    case 'Account':
      for (const f of ['configDir', 'sharedStateDir', 'activeLink']) fix(out, f);
      break;
    case 'Session': {
      fix(out, 'workdir');
      if (out.worktree && typeof out.worktree === 'object') {
        out.worktree = { ...(out.worktree as object) };
        fix(out.worktree as Record<string, unknown>, 'path');
      }
      // A command path written as ./x or ../x is relative to the manifest, like every other path.
      const cmd = out.command as string[] | undefined;
      if (cmd && cmd[0] !== undefined && /^\.\.?\//.test(cmd[0])) out.command = [r(cmd[0]) as string, ...cmd.slice(1)];
      break;
    }
    case 'Project':
      fix(out, 'path');
      break;
    case 'DelegationPolicy':
      fixSecret(out, 'apiKey');
      break;
    case 'Notifier': {
      if (out.telegram) {
        out.telegram = { ...(out.telegram as object) };
        fixSecret(out.telegram as Record<string, unknown>, 'botToken');
      }
      if (out.webhook) {
        out.webhook = { ...(out.webhook as object) };
        fixSecret(out.webhook as Record<string, unknown>, 'secret');
      }
      break;
    }
  }
  return out;
}
