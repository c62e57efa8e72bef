/**
 * Loads the Bash parser: tree-sitter with the tree-sitter-bash grammar.
 *
 * Two backends with the same grammar and the same node types:
 * - native: the `tree-sitter` Node binding (optional dependency, N-API, built at install) with
 *   tree-sitter-bash's prebuilt `.node`; loads in ~3-5 ms (mostly dlopen of the two binaries), which
 *   keeps the hook's start-up close to `node -e 0`;
 * - wasm: `web-tree-sitter` with `tree-sitter-bash.wasm` (shipped in the tree-sitter-bash package);
 *   portable, ~40 ms to start. Used when the native binding cannot be loaded.
 *
 * Both trees are converted into plain SyntaxNode objects (iteratively, so deep input cannot
 * overflow the stack), within the limits the policy passes (time, node count).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { compileFunction } from 'node:vm';
import { ParseLimitError, type ParseLimits, type SyntaxNode } from '../policy/syntax.js';
import type { ParseFn } from '../policy/types.js';

export type ParserBackend = 'native' | 'wasm';

export interface ShellParser {
  backend: ParserBackend;
  parse: ParseFn;
}

/** The cursor API both bindings share. */
interface Cursor {
  nodeType: string;
  nodeTypeId: number;
  nodeIsNamed: boolean;
  nodeIsMissing: boolean;
  currentFieldId: number;
  currentFieldName: string | null | undefined;
  startIndex: number;
  endIndex: number;
  gotoFirstChild(): boolean;
  gotoNextSibling(): boolean;
  gotoParent(): boolean;
}

interface TreeLike {
  rootNode: { walk(): Cursor; hasError: boolean; descendantCount: number };
  delete?: () => void;
}

interface ParserLike {
  setLanguage(lang: unknown): unknown;
  parse(src: string, oldTree?: null, options?: { progressCallback?: () => boolean }): TreeLike | null | undefined;
  setTimeoutMicros?(micros: number): unknown;
  reset?(): void;
}

const require = createRequire(import.meta.url);

/**
 * Per-language facts about node kinds, learnt from the first node of each kind: its name, whether it
 * is named, and field names by id. Each property read on a cursor is a call into the binding (~0.3–1
 * µs); reading numbers and looking the strings up here halves the cost of converting a tree.
 */
interface KindTable {
  type: string[];
  named: boolean[];
  field: (string | null)[];
}

function newKinds(): KindTable {
  return { type: [], named: [], field: [] };
}

/**
 * Converts a tree-sitter tree into plain nodes, without recursion. Reads four numbers per node from
 * the cursor (kind id, field id, start and end); names are taken from `kinds`. The tree must be free
 * of errors (callers check the root's `hasError` first): MISSING nodes are not looked for.
 */
export function convertTree(cursor: Cursor, src: string, kinds: KindTable = newKinds(), limits?: ParseLimits): SyntaxNode {
  const mk = (): SyntaxNode => {
    const id = cursor.nodeTypeId;
    let type = kinds.type[id];
    if (type === undefined) {
      type = cursor.nodeType;
      kinds.type[id] = type;
      kinds.named[id] = cursor.nodeIsNamed;
    }
    const fid = cursor.currentFieldId;
    let field: string | null = null;
    if (fid > 0) {
      field = kinds.field[fid] ?? null;
      if (field === null) {
        field = cursor.currentFieldName ?? null;
        kinds.field[fid] = field;
      }
    }
    return { type, named: kinds.named[id] as boolean, field, text: src.slice(cursor.startIndex, cursor.endIndex), children: [], missing: false };
  };
  const root = mk();
  const stack: SyntaxNode[] = [root];
  let count = 0;
  const add = (): void => {
    const c = mk();
    (stack[stack.length - 1] as SyntaxNode).children.push(c);
    stack.push(c);
    // Converting is the costly part of parsing (calls into the binding): keep to the deadline.
    if ((++count & 2047) === 0 && limits !== undefined && limits.now() > limits.deadline) throw new ParseLimitError('parsing the command exceeded the time budget');
  };
  for (;;) {
    if (cursor.gotoFirstChild()) {
      add();
      continue;
    }
    for (;;) {
      stack.pop();
      if (stack.length === 0) return root;
      if (cursor.gotoNextSibling()) {
        add();
        break;
      }
      cursor.gotoParent();
    }
  }
}

/**
 * A ParseFn over a tree-sitter parser. Limits: the parse itself is bounded in time (tree-sitter's
 * timeout for the native binding, its progress callback for WASM), and a tree with more nodes than
 * allowed is refused before it is converted (tree-sitter knows the count in O(1)), as is a tree with
 * errors (O(1) too: the root's hasError), which the policy denies without looking inside.
 */
function makeParse(parser: ParserLike, backend: ParserBackend): ParseFn {
  const kinds = newKinds();
  return (src: string, limits?: ParseLimits): SyntaxNode => {
    let tree: TreeLike | null | undefined;
    if (limits === undefined) {
      parser.setTimeoutMicros?.(0);
      tree = parser.parse(src);
    } else {
      const left = limits.deadline - limits.now();
      if (left <= 0) throw new ParseLimitError('evaluation exceeded the time budget');
      if (backend === 'native' && parser.setTimeoutMicros !== undefined) {
        parser.setTimeoutMicros(Math.max(1, Math.min(0xffffffff, Math.ceil(left * 1000))));
        tree = parser.parse(src);
      } else {
        tree = parser.parse(src, null, { progressCallback: () => limits.now() > limits.deadline });
      }
      if (tree === null || tree === undefined) {
        // A cancelled parse would be resumed by the next call: start afresh.
        parser.reset?.();
        throw new ParseLimitError('parsing the command exceeded the time budget');
      }
    }
    if (tree === null || tree === undefined) throw new Error('the shell parser returned no tree');
    try {
      const top = tree.rootNode;
      if (top.hasError) return { type: 'program', named: true, field: null, text: src, children: [], missing: false, errors: true };
      if (limits !== undefined) {
        const count = top.descendantCount;
        if (count > limits.maxNodes) throw new ParseLimitError(`command too complex (${count} syntax nodes, limit ${limits.maxNodes})`);
      }
      const root = convertTree(top.walk(), src, kinds, limits);
      root.errors = false;
      return root;
    } finally {
      tree.delete?.();
    }
  };
}

/**
 * The grammar's native binary, located the way node-gyp-build would (a local build first, then the
 * prebuild for this platform). Loading it directly skips tree-sitter-bash's index, whose
 * node-types.json makes setLanguage build a class per node type (~5 ms we do not need: the policy
 * reads plain cursors).
 */
function bashGrammarBinary(): string | null {
  try {
    const dir = dirname(require.resolve('tree-sitter-bash/package.json'));
    for (const p of [join(dir, 'build', 'Release', 'tree_sitter_bash_binding.node'), join(dir, 'prebuilds', `${process.platform}-${process.arch}`, 'tree-sitter-bash.node')]) {
      if (existsSync(p)) return p;
    }
  } catch {
    // not installed
  }
  return null;
}

let treeSitter: (new () => ParserLike) | null = null;

/**
 * The `tree-sitter` package's Parser. When the binding was built locally (build/Release, which is what
 * node-gyp-build picks first), its JS wrapper index.js is run with that binary handed over directly
 * instead of through node-gyp-build, which saves ~2 ms per hook call (loading node-gyp-build and `os`,
 * and its directory scans). The wrapper patches the binding's classes, so it must run once per
 * process: the result is kept, and registered in require's cache (and taken from there when something
 * required the package first). Anything unexpected falls back to a plain require('tree-sitter').
 */
function treeSitterParser(): new () => ParserLike {
  if (treeSitter !== null) return treeSitter;
  try {
    const dir = dirname(require.resolve('tree-sitter/package.json'));
    const binding = join(dir, 'build', 'Release', 'tree_sitter_runtime_binding.node');
    const index = join(dir, 'index.js');
    if (require.cache[index] === undefined && existsSync(binding)) {
      const real = createRequire(index);
      const req = Object.assign((id: string): unknown => (id === 'node-gyp-build' ? () => real(binding) : real(id)), real);
      const mod = new Module(index);
      mod.filename = index;
      const fn = compileFunction(readFileSync(index, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname'], { filename: index });
      fn.call(mod.exports, mod.exports, req, mod, index, dir);
      if (typeof mod.exports === 'function') {
        mod.loaded = true;
        require.cache[index] = mod;
        treeSitter = mod.exports as new () => ParserLike;
        return treeSitter;
      }
    }
  } catch {
    // fall back to the package's own loading
  }
  treeSitter = require('tree-sitter') as new () => ParserLike;
  return treeSitter;
}

/** The native binding, or null when it is not installed or does not load on this platform. */
export function loadNativeParser(): ShellParser | null {
  try {
    const Parser = treeSitterParser();
    const parser = new Parser();
    const binary = bashGrammarBinary();
    try {
      parser.setLanguage(binary === null ? require('tree-sitter-bash') : require(binary));
    } catch {
      parser.setLanguage(require('tree-sitter-bash'));
    }
    return { backend: 'native', parse: makeParse(parser, 'native') };
  } catch {
    return null;
  }
}

/** The WASM backend (web-tree-sitter + tree-sitter-bash.wasm resolved from node_modules). */
export async function loadWasmParser(): Promise<ShellParser> {
  // Baseline compilation only: optimising the grammar in background threads delays process exit by ~1 s.
  const { setFlagsFromString } = require('node:v8') as { setFlagsFromString(flags: string): void };
  setFlagsFromString('--liftoff-only');
  const wasmPath = require.resolve('tree-sitter-bash/tree-sitter-bash.wasm');
  // web-tree-sitter's CommonJS build, through `require`: the same code in the ES module build and in the
  // single-file CommonJS bundle of the hook (scripts/bundle-guard.mjs), which has no dynamic import().
  const mod = require('web-tree-sitter') as {
    Parser: { init(): Promise<void>; new (): ParserLike };
    Language: { load(path: string): Promise<unknown> };
  };
  await mod.Parser.init();
  const lang = await mod.Language.load(wasmPath);
  const parser = new mod.Parser();
  parser.setLanguage(lang);
  return { backend: 'wasm', parse: makeParse(parser, 'wasm') };
}

/** Native when available, else WASM. `prefer: 'wasm'` forces the WASM backend (tests, diagnostics). */
export async function loadShellParser(prefer: ParserBackend = 'native'): Promise<ShellParser> {
  if (prefer === 'native') {
    const native = loadNativeParser();
    if (native !== null) return native;
  }
  return loadWasmParser();
}
