import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/guard/policy/evaluate.js';
import { loadNativeParser, loadWasmParser, type ShellParser } from '../../src/guard/parser/tree-sitter.js';
import { ALLOW, DENY, ENV, MANIFESTS, PROJECT, STATE_DIR, WARN, type CorpusCase } from './corpus.js';

function run(parser: ShellParser, c: CorpusCase) {
  const tool = c.tool ?? 'Bash';
  const input = tool === 'Bash' ? { command: c.input } : tool === 'NotebookEdit' ? { notebook_path: c.input } : { file_path: c.input, content: 'x' };
  return evaluate(
    { tool_name: tool, tool_input: input, cwd: c.cwd ?? PROJECT, env: ENV },
    { parse: parser.parse, protectedPaths: [STATE_DIR, MANIFESTS], gitBranch: c.branch === undefined ? 'feature' : c.branch },
  );
}

describe('corpus size', () => {
  it('has at least 80 must-deny and 40 must-allow cases', () => {
    expect(DENY.length).toBeGreaterThanOrEqual(80);
    expect(ALLOW.length).toBeGreaterThanOrEqual(40);
    expect(WARN.length).toBeGreaterThan(0);
  });
});

const backends: { name: string; load: () => Promise<ShellParser> }[] = [
  { name: 'native', load: async () => { const p = loadNativeParser(); if (p === null) throw new Error('native tree-sitter did not load'); return p; } },
  { name: 'wasm', load: () => loadWasmParser() },
];

for (const backend of backends) {
  describe(`policy corpus (${backend.name} parser)`, () => {
    let parser: ShellParser;
    beforeAll(async () => {
      parser = await backend.load();
    });
    const all = [...DENY, ...WARN, ...ALLOW];
    it.each(all.map((c) => [`${c.expect} ${c.family}: ${JSON.stringify(c.input).slice(0, 90)}`, c] as const))('%s', (_label, c) => {
      const v = run(parser, c);
      expect({ decision: v.decision, rule: c.rule === undefined ? undefined : v.rule }, v.reason).toEqual({ decision: c.expect, rule: c.rule });
      if (v.decision !== 'allow') expect(v.reason.length).toBeGreaterThan(10);
    });
  });
}
