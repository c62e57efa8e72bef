/**
 * Property tests: evaluate() and the hook never throw, always answer allow/warn/deny, and stay within
 * the time budget, on random and adversarial input.
 */
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { runPreToolUseHook } from '../../src/guard/hook.js';
import { loadNativeParser, type ShellParser } from '../../src/guard/parser/tree-sitter.js';
import { evaluate } from '../../src/guard/policy/evaluate.js';
import { ENV, PROJECT } from './corpus.js';

const BUDGET_MS = 2000;
let parser: ShellParser;

beforeAll(() => {
  const p = loadNativeParser();
  if (p === null) throw new Error('native tree-sitter did not load');
  parser = p;
});

const TOKENS = [
  'rm', '-rf', '/', '~', '$HOME', '*', '..', 'sudo', 'env', '-S', 'sh', '-c', 'bash', 'eval', 'xargs', 'find', '-exec', '{}', '\\;', '-delete',
  'python3', '-c', 'node', '-e', 'perl', 'curl', 'wget', 'base64', '-d', '|', '||', '&&', ';', '&', '>', '>>', '<', '<<EOF', '<<<', 'EOF', '\n',
  '$(', ')', '`', '(', '{', '}', '"', "'", "$'", '\\', '$((', '))', '<(', '${', '${X:?}', '=', 'X=/', '$X', 'git', 'push', '--force', '+main', '-C',
  'cd', 'tee', 'cp', 'mv', 'ln', '-s', '.claude/settings.json', '.claude/hooks/x', 'dd', 'of=/dev/sda', 'chmod', '-R', '777', 'crontab', '-r',
  ':(){', ':|:&', '};:', 'for', 'in', 'do', 'done', 'if', 'then', 'fi', 'case', 'esac', 'function', 'alias', 'a=b', '#', '!', '\x00', '\u202e',
];

const shellish = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join(' '));
const glued = fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((ts) => ts.join(''));
const nested = fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom('$(', '`', '"$(', '<(', '${', '(', '{ ', 'sh -c "', "bash -c '", 'eval "')).map(([n, open]) => `echo ${open.repeat(n)}rm -rf /`);
const anyCommand = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 200 }), shellish, glued, nested);

function timed<T>(fn: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t0 };
}

describe('evaluate() on random input', () => {
  it('never throws, answers a valid decision, and stays within the budget (Bash)', () => {
    fc.assert(
      fc.property(anyCommand, fc.constantFrom(PROJECT, '/', '/tmp', 'relative/dir', ''), (command, cwd) => {
        const { value: v, ms } = timed(() => evaluate({ tool_name: 'Bash', tool_input: { command }, cwd, env: ENV }, { parse: parser.parse, budgetMs: BUDGET_MS }));
        expect(['allow', 'warn', 'deny']).toContain(v.decision);
        expect(typeof v.rule).toBe('string');
        if (v.decision !== 'allow') expect(v.reason.length).toBeGreaterThan(0);
        expect(ms).toBeLessThan(BUDGET_MS + 500);
      }),
      { numRuns: 600 },
    );
  });

  it('never throws on random tool names and inputs', () => {
    fc.assert(
      fc.property(fc.constantFrom('Bash', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Read', ''), fc.object(), fc.string(), (tool, input, cwd) => {
        const v = evaluate({ tool_name: tool, tool_input: input as Record<string, unknown>, cwd, env: ENV }, { parse: parser.parse });
        expect(['allow', 'warn', 'deny']).toContain(v.decision);
        if (tool === 'Bash') expect(v.decision).toBe(typeof (input as Record<string, unknown>).command === 'string' ? v.decision : 'deny');
      }),
      { numRuns: 300 },
    );
  });

  it('a budget that is already spent denies instead of allowing', () => {
    let t = 0;
    const v = evaluate({ tool_name: 'Bash', tool_input: { command: 'ls; '.repeat(5000) }, cwd: PROJECT, env: ENV }, { parse: parser.parse, budgetMs: 5, now: () => (t += 1) });
    expect(v).toMatchObject({ decision: 'deny', rule: 'budget-exceeded' });
  });

  it('deep nesting is denied, not crashed on', () => {
    for (const n of [100, 1000, 10_000]) {
      const { value: v, ms } = timed(() => evaluate({ tool_name: 'Bash', tool_input: { command: `${'$('.repeat(n)}rm -rf /${')'.repeat(n)}` }, cwd: PROJECT, env: ENV }, { parse: parser.parse }));
      expect(v.decision).toBe('deny');
      expect(ms).toBeLessThan(BUDGET_MS);
    }
  });
});

describe('the hook on random stdin', () => {
  it('always exits 0 or 2 and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.json(),
          anyCommand.map((command) => JSON.stringify({ tool_name: 'Bash', tool_input: { command }, cwd: PROJECT })),
          fc.record({ tool_name: fc.constantFrom('Bash', 'Write', 'Edit', 'X'), tool_input: fc.anything(), cwd: fc.anything() }).map((o) => JSON.stringify(o)),
        ),
        async (stdinText) => {
          const stdin = new PassThrough();
          const err: string[] = [];
          stdin.end(stdinText);
          const code = await runPreToolUseHook(['--budget-ms', String(BUDGET_MS)], { stdin, stderr: { write: (s: string) => err.push(s) }, env: ENV });
          expect([0, 2]).toContain(code);
          if (code === 2) expect(err.join('')).toMatch(/safety guard/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('denies when stdin never ends (budget)', async () => {
    const stdin = new PassThrough();
    stdin.write('{"tool_name":"Bash",');
    const err: string[] = [];
    const t0 = performance.now();
    const code = await runPreToolUseHook(['--budget-ms', '200'], { stdin, stderr: { write: (s: string) => err.push(s) }, env: ENV });
    expect(code).toBe(2);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(err.join('')).toContain('no complete hook input');
  });
});
