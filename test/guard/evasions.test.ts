/**
 * The evasion classes of issue 15 through the policy, with both parser backends. The same cases run
 * through the deployed hook in corpus-deployed.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNativeParser, loadWasmParser, type ShellParser } from '../../src/guard/parser/tree-sitter.js';
import { evaluate } from '../../src/guard/policy/evaluate.js';
import { ENV, MANIFESTS, PROJECT, STATE_DIR, type CorpusCase } from './corpus.js';
import { EVASION_ALLOW, EVASION_DENY, REPO_BRANCHES, REPOS, SECRETS } from './corpus-evasions.js';

/** The repositories of the corpus, as the hook's reader of .git/HEAD would see them on disk. */
export function fakeReadGit(dir: string): { root: string; branch: string | null } | null {
  for (const [name, branch] of Object.entries(REPO_BRANCHES)) {
    const root = `${REPOS}/${name}`;
    if (dir === root || dir.startsWith(`${root}/`)) return { root, branch };
  }
  return null;
}

function run(parser: ShellParser, c: CorpusCase) {
  const tool = c.tool ?? 'Bash';
  const input = tool === 'Bash' ? { command: c.input } : tool === 'Grep' ? { pattern: '.', path: c.input } : { file_path: c.input };
  return evaluate(
    { tool_name: tool, tool_input: input, cwd: c.cwd ?? PROJECT, env: ENV },
    { parse: parser.parse, protectedPaths: [STATE_DIR, MANIFESTS], secretPaths: SECRETS, readGit: fakeReadGit, budgetMs: 2000 },
  );
}

describe('evasion corpus size', () => {
  it('has at least 150 must-deny and 60 must-allow cases, every class on both sides', () => {
    expect(EVASION_DENY.length).toBeGreaterThanOrEqual(150);
    expect(EVASION_ALLOW.length).toBeGreaterThanOrEqual(60);
    const inputs = [...EVASION_DENY, ...EVASION_ALLOW].map((c) => `${c.tool ?? 'Bash'} ${c.cwd ?? ''} ${c.input}`);
    expect(new Set(inputs).size).toBe(inputs.length);
  });
});

const backends: { name: string; load: () => Promise<ShellParser> }[] = [
  { name: 'native', load: async () => { const p = loadNativeParser(); if (p === null) throw new Error('native tree-sitter did not load'); return p; } },
  { name: 'wasm', load: () => loadWasmParser() },
];

for (const backend of backends) {
  describe(`evasion corpus (${backend.name} parser)`, () => {
    let parser: ShellParser;
    beforeAll(async () => {
      parser = await backend.load();
    });
    const all = [...EVASION_DENY, ...EVASION_ALLOW];
    it.each(all.map((c) => [`${c.expect} ${c.family}: ${JSON.stringify(c.input).slice(0, 90)}`, c] as const))('%s', (_label, c) => {
      const v = run(parser, c);
      expect({ decision: v.decision, rule: c.rule === undefined ? undefined : v.rule }, v.reason).toEqual({ decision: c.expect, rule: c.rule });
      if (v.decision !== 'allow') expect(v.reason.length).toBeGreaterThan(10);
    });
  });
}
