/**
 * The CF_ERR_* catalogue (src/core/error-codes.ts) against the code and the docs: every code the
 * sources use is catalogued, every catalogued code is used, docs/errors.md is generated from it,
 * and no document names a code that does not exist.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CF_ERROR_CODES, CF_ERRORS, ERROR_AREAS, renderErrorsDoc } from '../../src/core/error-codes.js';
import { REPO } from '../support/cli.js';

const CATALOGUE = join(REPO, 'src', 'core', 'error-codes.ts');
const CODE = /\bCF_ERR_[A-Z0-9_]+\b/g;

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && ext.test(d.name))
    .map((d) => join(d.parentPath, d.name));
}

/** code → the files (relative to the repo) that mention it. */
function mentions(paths: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of paths) {
    for (const m of readFileSync(p, 'utf8').matchAll(CODE)) {
      const set = out.get(m[0]) ?? new Set<string>();
      set.add(relative(REPO, p));
      out.set(m[0], set);
    }
  }
  return out;
}

const sources = files(join(REPO, 'src'), /\.(ts|mts|cts)$/).filter((p) => p !== CATALOGUE);
const inSources = mentions(sources);
const inProduct = mentions(sources.filter((p) => !/\.test\.ts$/.test(p)));
const catalogued = new Set<string>(CF_ERROR_CODES);

describe('the CF_ERR_* catalogue', () => {
  it('holds every code the sources mention (tests included)', () => {
    const missing = [...inSources].filter(([code]) => !catalogued.has(code)).map(([code, where]) => `${code} (${[...where].join(', ')})`);
    expect(missing, 'add these to src/core/error-codes.ts').toEqual([]);
  });

  it('holds no code the product does not raise or match on', () => {
    expect(CF_ERROR_CODES.filter((c) => !inProduct.has(c)), 'remove these from src/core/error-codes.ts').toEqual([]);
  });

  it.each(CF_ERROR_CODES)('%s has a one-line meaning and action, and a known area', (code) => {
    const e = CF_ERRORS[code];
    expect(ERROR_AREAS).toContain(e.area);
    for (const text of [e.meaning, e.action]) {
      expect(text).toMatch(/^\S[^\n]*[.)]$/);
      expect(text.length).toBeLessThan(260);
    }
  });

  it('docs/errors.md is generated from it (`npm run docs`) and lists every code once', () => {
    const doc = readFileSync(join(REPO, 'docs', 'errors.md'), 'utf8');
    expect(doc, 'docs/errors.md is stale: run `npm run docs`').toBe(renderErrorsDoc());
    for (const code of CF_ERROR_CODES) expect(doc.split(`| \`${code}\` |`), code).toHaveLength(2);
  });

  it('the docs and the README name only catalogued codes', () => {
    const docs = [...files(join(REPO, 'docs'), /\.md$/), join(REPO, 'README.md')];
    const unknown = [...mentions(docs)].filter(([code]) => !catalogued.has(code)).map(([code, where]) => `${code} (${[...where].join(', ')})`);
    expect(unknown).toEqual([]);
  });
});
