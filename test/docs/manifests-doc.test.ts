/**
 * docs/manifests.md and schemas/ are generated (`npm run docs`); these tests fail when either
 * drifts from src/api/schemas.ts, and check the reference covers every field of every kind.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { KIND_EXAMPLES, renderManifestsDoc } from '../../src/api/docs-gen.js';
import { jsonSchemas, schemaFileName } from '../../src/api/json-schema.js';
import { looksLikeManifest, parseManifestText } from '../../src/api/parse.js';
import { KINDS, metadataSchema, objectSchema, specSchemas, type Kind } from '../../src/api/schemas.js';
import { REPO, runCli } from '../support/cli.js';

const DOC_PATH = join(REPO, 'docs', 'manifests.md');
const doc = readFileSync(DOC_PATH, 'utf8');

/** The text of `## <title>` up to the next `## `. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

type AnyZod = z.core.$ZodType;
function def(s: AnyZod): Record<string, unknown> & { type: string } {
  return (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
}
/** The schema under optional/default/prefault wrappers, and the outermost description on the way. */
function peel(s: AnyZod): { inner: AnyZod; description: string | undefined } {
  let cur = s;
  let description = (s as unknown as { description?: string }).description;
  while (['optional', 'default', 'prefault', 'nullable', 'pipe'].includes(def(cur).type)) {
    cur = (def(cur).innerType ?? def(cur).in) as AnyZod;
    description ??= (cur as unknown as { description?: string }).description;
  }
  return { inner: cur, description };
}

interface ZodField {
  path: string;
  name: string;
  description: string | undefined;
  /** A field of one of a union's forms (the `env`/`file` of a secret reference). */
  inUnion: boolean;
}

/** Every field of an object schema, walked from the zod definitions (not from the generator). */
function zodFields(schema: AnyZod, prefix: string, inUnion = false): ZodField[] {
  const { inner } = peel(schema);
  const d = def(inner);
  const out: ZodField[] = [];
  if (d.type === 'object') {
    for (const [name, child] of Object.entries(d.shape as Record<string, AnyZod>)) {
      const path = `${prefix}.${name}`;
      out.push({ path, name, description: peel(child).description, inUnion });
      out.push(...zodFields(child, path, inUnion));
    }
  } else if (d.type === 'union') {
    for (const option of d.options as AnyZod[]) out.push(...zodFields(option, prefix, true));
  }
  return out;
}

describe('docs/manifests.md', () => {
  it('is exactly what `npm run docs` generates from the schemas (run it after changing src/api/schemas.ts)', () => {
    expect(doc).toBe(renderManifestsDoc());
  });

  it.each(KINDS.map((k) => [k]))('documents every spec field of %s with its description', (kind) => {
    const text = section(kind);
    expect(text, `section "## ${kind}"`).not.toBe('');
    const fields = zodFields(specSchemas[kind], 'spec');
    expect(fields.length).toBeGreaterThan(2);
    const missing: string[] = [];
    for (const f of fields) {
      // The forms of a secret reference (env, file) are documented once, under "Secret references";
      // the fields of other unions' object forms (Session.spec.worktree) in the kind's table.
      const found = text.includes(`| \`${f.path}\` |`) || (f.inUnion && section('Secret references').includes(`\`{${f.name}: `));
      if (!found) missing.push(f.path);
      if (f.description) {
        // The generator may drop boilerplate (path rules, "Default x."), never the substance: the first clause must appear.
        const head = f.description.split(/[.;(]/)[0]?.trim() ?? '';
        if (head.length > 0 && !doc.includes(head)) missing.push(`${f.path} (description "${head}")`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('documents the envelope: apiVersion, kind, metadata.* and status', () => {
    const text = section('Common fields');
    for (const name of ['apiVersion', 'kind', 'spec', 'status']) expect(text).toContain(`| \`${name}\` |`);
    for (const f of zodFields(metadataSchema, 'metadata')) expect(text).toContain(`\`${f.path}\``);
    expect(text).toContain('claudefailover.io/v1alpha1');
    for (const k of KINDS) expect(text).toContain(`\`${k}\``);
  });

  it('mentions every field name of every kind somewhere (including secret reference forms)', () => {
    const names = new Set<string>();
    for (const k of KINDS) for (const f of zodFields(objectSchema(k), '')) names.add(f.name);
    expect(names.size).toBeGreaterThan(40);
    const missing = [...names].filter((n) => !new RegExp(`[\`.{]${n}[\`:]`).test(doc));
    expect(missing).toEqual([]);
  });

  it('has the sections the manifests rely on: paths, durations, secrets, the manifest rule, the modeline', () => {
    expect(section('Paths')).toMatch(/relative to the directory of the manifest file/);
    expect(section('Paths')).toContain('`~/...`');
    expect(section('Durations')).toContain('`1h30m`');
    expect(section('Secret references')).toContain('`{env: NAME}`');
    expect(section('Which files are manifests')).toMatch(/`apiVersion`,\s+`kind`, `metadata` or `spec`/);
    expect(section('Editor support')).toContain('# yaml-language-server: $schema=../schemas/session.schema.json');
    for (const k of KINDS) expect(section(k)).toContain(`# yaml-language-server: $schema=../schemas/${schemaFileName(k)}`);
  });

  // The documented rule, checked against the loader's own predicate.
  it.each([
    [{ apiVersion: 'x' }, true],
    [{ kind: 'Session' }, true],
    [{ metadata: { name: 'a' } }, true],
    [{ spec: {} }, true],
    [{ name: 'ci', on: ['push'] }, false],
    [['apiVersion'], false],
    ['apiVersion: x', false],
    [null, false],
  ] as const)('"looks like a manifest" rule: %j -> %s', (value, expected) => {
    expect(looksLikeManifest(value)).toBe(expected);
  });

  it.each(KINDS.map((k) => [k]))('the %s example in the doc is a valid manifest', (kind: Kind) => {
    const r = parseManifestText('/etc/cf/example.yaml', KIND_EXAMPLES[kind], { homeDir: '/home/op' });
    expect(r.diagnostics).toEqual([]);
    expect(r.objects.map((o) => o.kind)).toEqual([kind]);
  });
});

describe('schemas/ (JSON Schemas for editors)', () => {
  const out = mkdtempSync(join(tmpdir(), 'cf-schemas-'));
  afterAll(() => rmSync(out, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }));

  it('equals what `claude-failover schema -d` writes (run `npm run docs` after changing the schemas)', async () => {
    const r = await runCli(['schema', '-d', out]);
    expect(r.code, r.stderr).toBe(0);
    const generated = readdirSync(out).sort();
    expect(generated).toEqual(KINDS.map(schemaFileName).sort());
    expect(readdirSync(join(REPO, 'schemas')).sort()).toEqual(generated);
    for (const f of generated) {
      expect(readFileSync(join(REPO, 'schemas', f), 'utf8'), f).toBe(readFileSync(join(out, f), 'utf8'));
    }
  });

  it('each committed schema is the kind\'s JSON Schema and rejects unknown spec fields', () => {
    const all = jsonSchemas();
    for (const k of KINDS) {
      const committed = JSON.parse(readFileSync(join(REPO, 'schemas', schemaFileName(k)), 'utf8')) as Record<string, unknown>;
      expect(committed).toEqual(all[k]);
      const spec = (committed.properties as Record<string, { additionalProperties?: unknown }>).spec;
      expect(spec?.additionalProperties).toBe(false);
    }
  });
});
