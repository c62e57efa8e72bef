#!/usr/bin/env node
// Copies the shell parser's native packages into dist/node_modules/ (run by `npm run build`, after tsc
// and before scripts/bundle-guard.mjs):
//
//   dist/node_modules/tree-sitter/       index.js + the prebuilt N-API binaries of every platform it ships
//   dist/node_modules/tree-sitter-bash/  the grammar's prebuilt binaries, node-types.json and the .wasm
//   dist/node_modules/node-gyp-build/    the loader both use to pick the binary of this platform
//
// Why: `tree-sitter` and `tree-sitter-bash` have install scripts (node-gyp-build, which compiles the
// binding when no prebuilt binary loads). npm 11 blocks dependency install scripts it was not told to
// allow, and an `npm install -g` of the package warns about them; the package's own `allowScripts`
// does not apply there. So the package needs neither package, nor any install script, when
// installed: it ships what they would have produced under dist/ (resolution from dist/guard/ finds
// dist/node_modules/ first):
// - the binding compiled here by `npm ci` (build/Release/, when present): tree-sitter's prebuilt
//   linux-x64 binary needs libstdc++ from GCC 13 (GLIBCXX_3.4.31), which Debian 12 does not have, so
//   without it the guard would fall back to WASM on the very platform CI builds on. It loads on
//   hosts of this architecture with this glibc/libstdc++ or newer;
// - the upstream prebuilt binaries of every platform (linux, darwin, win32; x64, arm64), which
//   node-gyp-build tries next.
// The guard keeps its native parser (about 55 ms faster per hook call than WASM: bench/guard-hook.mjs);
// where no binary loads it falls back to the WASM parser (web-tree-sitter, a plain dependency).
//
// Only package.json fields needed for resolution are kept, and no install script: npm never treats
// these directories as packages (they are not in the package's node_modules/).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const out = join(root, 'dist', 'node_modules');

/** name -> files and directories to copy (relative to the package), and the fields of its package.json. */
const PACKAGES = {
  'tree-sitter': { copy: ['index.js', 'LICENSE', 'prebuilds'], local: 'build/Release/tree_sitter_runtime_binding.node', fields: { main: 'index.js' } },
  'tree-sitter-bash': { copy: ['bindings/node/index.js', 'LICENSE', 'prebuilds', 'src/node-types.json', 'tree-sitter-bash.wasm'], local: 'build/Release/tree_sitter_bash_binding.node', fields: { main: 'bindings/node' } },
  'node-gyp-build': { copy: ['index.js', 'node-gyp-build.js', 'LICENSE'], fields: { main: 'index.js' } },
};

function packageDir(name) {
  // tree-sitter-bash's node_modules copy of node-gyp-build, if any, is the same package.
  return dirname(require.resolve(`${name}/package.json`));
}

rmSync(out, { recursive: true, force: true });
let files = 0;
const compiled = [];
for (const [name, spec] of Object.entries(PACKAGES)) {
  const from = packageDir(name);
  const to = join(out, name);
  const meta = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
  for (const rel of spec.copy) {
    const src = join(from, rel);
    if (!existsSync(src)) throw new Error(`vendor-parsers: ${name}/${rel} not found in ${from}`);
    mkdirSync(dirname(join(to, rel)), { recursive: true });
    cpSync(src, join(to, rel), { recursive: true });
    files += 1;
  }
  const local = spec.local ? join(from, spec.local) : undefined;
  if (local && existsSync(local)) {
    mkdirSync(dirname(join(to, spec.local)), { recursive: true });
    cpSync(local, join(to, spec.local));
    compiled.push(name);
  }
  const pkg = { name: meta.name, version: meta.version, license: meta.license, ...spec.fields, private: true };
  writeFileSync(join(to, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
}
const prebuilt = existsSync(join(out, 'tree-sitter', 'prebuilds', `${process.platform}-${process.arch}`));
console.log(`vendored tree-sitter, tree-sitter-bash and node-gyp-build into ${out} (${files} entries); compiled here: ${compiled.join(', ') || 'none'}; upstream prebuilt for ${process.platform}-${process.arch}: ${prebuilt ? 'yes' : 'no'}`);
