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
 * overflow the stack).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { compileFunction } from 'node:vm';
import type { SyntaxNode } from '../policy/syntax.js';
import type { ParseFn } from '../policy/types.js';

export type ParserBackend = 'native' | 'wasm';

export interface ShellParser {
  backend: ParserBackend;
  parse: ParseFn;
}

/** The cursor API both bindings share. */
interface Cursor {
  nodeType: string;
  nodeIsNamed: boolean;
  nodeIsMissing: boolean;
  currentFieldName: string | null | undefined;
  startIndex: number;
  endIndex: number;
  gotoFirstChild(): boolean;
  gotoNextSibling(): boolean;
  gotoParent(): boolean;
}

interface TreeLike {
  rootNode: { walk(): Cursor };
  delete?: () => void;
}

interface ParserLike {
  setLanguage(lang: unknown): unknown;
  parse(src: string): TreeLike | null;
}

const require = createRequire(import.meta.url);

/** Converts a tree-sitter tree into plain nodes, without recursion. */
export function convertTree(cursor: Cursor, src: string): SyntaxNode {
  const mk = (): SyntaxNode => ({
    type: cursor.nodeType,
    named: cursor.nodeIsNamed,
    field: cursor.currentFieldName ?? null,
    text: src.slice(cursor.startIndex, cursor.endIndex),
    children: [],
    missing: cursor.nodeIsMissing,
  });
  const root = mk();
  const stack: SyntaxNode[] = [root];
  for (;;) {
    if (cursor.gotoFirstChild()) {
      const c = mk();
      (stack[stack.length - 1] as SyntaxNode).children.push(c);
      stack.push(c);
      continue;
    }
    for (;;) {
      stack.pop();
      if (stack.length === 0) return root;
      if (cursor.gotoNextSibling()) {
        const c = mk();
        (stack[stack.length - 1] as SyntaxNode).children.push(c);
        stack.push(c);
        break;
      }
      cursor.gotoParent();
    }
  }
}

function makeParse(parser: ParserLike): ParseFn {
  return (src: string): SyntaxNode => {
    const tree = parser.parse(src);
    if (tree === null) throw new Error('the shell parser returned no tree');
    try {
      return convertTree(tree.rootNode.walk(), src);
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
    return { backend: 'native', parse: makeParse(parser) };
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
  return { backend: 'wasm', parse: makeParse(parser) };
}

/** Native when available, else WASM. `prefer: 'wasm'` forces the WASM backend (tests, diagnostics). */
export async function loadShellParser(prefer: ParserBackend = 'native'): Promise<ShellParser> {
  if (prefer === 'native') {
    const native = loadNativeParser();
    if (native !== null) return native;
  }
  return loadWasmParser();
}
