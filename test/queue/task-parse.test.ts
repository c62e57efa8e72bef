import { describe, expect, it } from 'vitest';
import {
  TaskParseError,
  appendOnce,
  compareTasks,
  decodeTaskBytes,
  deriveTitle,
  footerKinds,
  formatDelegatedFooter,
  formatDoneFooter,
  formatDuration,
  formatFailedFooter,
  invalidTaskIdReason,
  isTaskFileName,
  makeTaskId,
  nearMissField,
  parseFrontmatter,
  parseTask,
  planRecovery,
  setFrontmatterFields,
  sortTasks,
  taskIdFromFileName,
} from '../../src/core/task.js';
import type { FinishIntent, Lease, QueueSnapshot, TaskState } from '../../src/core/task.js';

const meta = { id: 't1', state: 'inbox' as const, fileName: 't1.md', path: '/q/inbox/t1.md', mtimeMs: 1000, size: 10 };

describe('parseFrontmatter: valid inputs', () => {
  const cases: { name: string; text: string; fields: Record<string, unknown>; body: string; present?: boolean; warnings?: number }[] = [
    { name: 'no frontmatter', text: 'Do the thing\n', fields: {}, body: 'Do the thing\n', present: false },
    { name: 'BOM is dropped', text: '\uFEFFDo it', fields: {}, body: 'Do it', present: false },
    { name: 'empty frontmatter', text: '---\n---\nbody', fields: {}, body: 'body', present: true },
    { name: 'all fields', text: '---\nneeds_claude_code: true\npreferred_ai: gemini\nallow_delegation: false\ncomplexity_hint: high\npriority: high\nsession: ccl-3\nmax_attempts: 5\ntitle: Fix it\n---\nbody\n', fields: { needs_claude_code: true, preferred_ai: 'gemini', allow_delegation: false, complexity_hint: 'high', priority: 'high', session: 'ccl-3', max_attempts: 5, title: 'Fix it' }, body: 'body\n' },
    { name: 'yaml 1.1 booleans', text: '---\nneeds_claude_code: yes\nallow_delegation: Off\n---\nb', fields: { needs_claude_code: true, allow_delegation: false }, body: 'b' },
    { name: 'priority is case-insensitive', text: '---\npriority: LOW\n---\nb', fields: { priority: 'low' }, body: 'b' },
    { name: 'numeric complexity_hint kept as text', text: '---\ncomplexity_hint: 3\n---\nb', fields: { complexity_hint: '3' }, body: 'b' },
    { name: 'null value = absent', text: '---\npreferred_ai:\n---\nb', fields: {}, body: 'b' },
    { name: '... closes', text: '---\npriority: low\n...\nb', fields: { priority: 'low' }, body: 'b' },
    { name: 'CRLF', text: '---\r\npriority: high\r\n---\r\nline1\r\nline2', fields: { priority: 'high' }, body: 'line1\r\nline2' },
    { name: 'unknown field kept with a warning', text: '---\nowner: alice\n---\nb', fields: {}, body: 'b', warnings: 1 },
    { name: 'body keeps later --- lines', text: '---\ntitle: x\n---\na\n---\nb\n', fields: { title: 'x' }, body: 'a\n---\nb\n' },
    { name: 'a leading rule without newline is not frontmatter', text: '--- not yaml', fields: {}, body: '--- not yaml', present: false },
    { name: 'controller fields', text: '---\nattempts: 2\nlast_error: session died\n---\nb', fields: { attempts: 2, last_error: 'session died' }, body: 'b' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = parseFrontmatter(c.text);
      expect(r.fields).toEqual(c.fields);
      expect(r.body).toBe(c.body);
      if (c.present !== undefined) expect(r.present).toBe(c.present);
      expect(r.warnings).toHaveLength(c.warnings ?? 0);
    });
  }
  const variants: { key: string; value: string; field: string; expected: unknown }[] = [
    { key: 'allow-delegation', value: 'false', field: 'allow_delegation', expected: false },
    { key: 'Allow_Delegation', value: 'true', field: 'allow_delegation', expected: true },
    { key: 'needs-claude-code', value: 'yes', field: 'needs_claude_code', expected: true },
    { key: 'preferredAi', value: 'gemini', field: 'preferred_ai', expected: 'gemini' },
    { key: 'PRIORITY', value: 'High', field: 'priority', expected: 'high' },
    { key: 'max-attempts', value: '2', field: 'max_attempts', expected: 2 },
    { key: 'complexity hint', value: '3', field: 'complexity_hint', expected: '3' },
  ];
  for (const v of variants) {
    it(`spelling variant "${v.key}" is read as ${v.field}, with a warning`, () => {
      const r = parseFrontmatter(`---\n${v.key}: ${v.value}\n---\nb`);
      expect(r.fields).toEqual({ [v.field]: v.expected });
      expect(r.extra).toEqual({});
      expect(r.warnings).toEqual([`frontmatter field "${v.key}" read as "${v.field}" (spell it ${v.field})`]);
    });
  }
  it('keeps unknown fields in extra', () => {
    expect(parseFrontmatter('---\nowner: alice\n---\nb').extra).toEqual({ owner: 'alice' });
  });
});

describe('parseFrontmatter: malformed inputs → TaskParseError with a human reason', () => {
  const cases: { name: string; text: string; reason: RegExp }[] = [
    { name: 'never closed', text: '---\npriority: high\nbody', reason: /never closed/ },
    { name: 'only the opening line', text: '---', reason: /never closed/ },
    { name: 'yaml syntax error', text: '---\npriority: [high\n---\nb', reason: /invalid YAML in frontmatter/ },
    { name: 'duplicate key', text: '---\npriority: high\npriority: low\n---\nb', reason: /invalid YAML.*(unique|duplicate)/i },
    { name: 'list instead of mapping', text: '---\n- a\n- b\n---\nb', reason: /must be a mapping/ },
    { name: 'scalar instead of mapping', text: '---\njust text\n---\nb', reason: /must be a mapping/ },
    { name: 'bad boolean', text: '---\nneeds_claude_code: maybe\n---\nb', reason: /needs_claude_code must be true or false, got "maybe"/ },
    { name: 'bad priority', text: '---\npriority: urgent\n---\nb', reason: /priority must be high, normal or low, got "urgent"/ },
    { name: 'max_attempts zero', text: '---\nmax_attempts: 0\n---\nb', reason: /max_attempts must be at least 1/ },
    { name: 'max_attempts fraction', text: '---\nmax_attempts: 1.5\n---\nb', reason: /max_attempts must be a whole number/ },
    { name: 'max_attempts text', text: '---\nmax_attempts: three\n---\nb', reason: /max_attempts must be a whole number, got "three"/ },
    { name: 'empty preferred_ai', text: '---\npreferred_ai: "  "\n---\nb', reason: /preferred_ai must not be empty/ },
    { name: 'preferred_ai list', text: '---\npreferred_ai: [a, b]\n---\nb', reason: /preferred_ai must be text, got a list/ },
    { name: 'typo of a routing field is an error', text: '---\nneed_claude_code: true\n---\nb', reason: /unknown field "need_claude_code" \(did you mean "needs_claude_code"\?\)/ },
    { name: 'a typo beyond spelling is still an error', text: '---\nalow-delegation: false\n---\nb', reason: /unknown field "alow-delegation" \(did you mean "allow_delegation"\?\)/ },
    { name: 'a field in two spellings', text: '---\nallow_delegation: true\nallow-delegation: false\n---\nb', reason: /"allow-delegation" and "allow_delegation" both set allow_delegation; keep one/ },
    { name: 'two variants of one field', text: '---\nPriority: high\nPRIORITY: low\n---\nb', reason: /both set priority/ },
    { name: 'an unknown value of an enum lists the allowed ones', text: '---\npriority: urgent\n---\nb', reason: /^frontmatter: priority must be high, normal or low, got "urgent"$/ },
    { name: 'a variant with a bad value', text: '---\nAllow-Delegation: perhaps\n---\nb', reason: /allow_delegation must be true or false, got "perhaps"/ },
    { name: 'several problems are all named', text: '---\npriority: x\nmax_attempts: 0\n---\nb', reason: /priority.*; max_attempts/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let caught: unknown;
      try {
        parseFrontmatter(c.text);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(TaskParseError);
      expect((caught as TaskParseError).code).toBe('CF_ERR_TASK_MALFORMED');
      expect((caught as TaskParseError).reason).toMatch(c.reason);
    });
  }
  it('reports the file line of a YAML error', () => {
    try {
      parseFrontmatter('---\ntitle: ok\npriority: [x\n---\nb');
      expect.unreachable();
    } catch (err) {
      expect((err as TaskParseError).line).toBeGreaterThanOrEqual(3);
    }
  });
});

describe('parseTask', () => {
  it('derives title, priority, attempts', () => {
    const t = parseTask('---\npriority: low\nattempts: 2\nmax_attempts: 4\n---\n# Fix login\nDetails', meta);
    expect(t).toMatchObject({ id: 't1', title: 'Fix login', priority: 'low', attempts: 2, maxAttempts: 4, hasFrontmatter: true, body: '# Fix login\nDetails' });
  });
  it('a task without frontmatter is plain local with defaults', () => {
    const t = parseTask('just do it', meta);
    expect(t).toMatchObject({ priority: 'normal', attempts: 0, maxAttempts: undefined, frontmatter: {}, title: 'just do it', hasFrontmatter: false });
  });
  it('frontmatter title wins', () => {
    expect(parseTask('---\ntitle: T\n---\n# H\n', meta).title).toBe('T');
  });
  it('empty body is malformed', () => {
    expect(() => parseTask('---\ntitle: T\n---\n  \n', meta)).toThrow(/no body/);
    expect(() => parseTask('', meta)).toThrow(TaskParseError);
  });
  it('invalid id is malformed', () => {
    expect(() => parseTask('x', { ...meta, id: 'a\nb' })).toThrow(/control characters/);
  });
});

describe('decodeTaskBytes', () => {
  it('accepts UTF-8 with emoji', () => {
    expect(decodeTaskBytes(Buffer.from('héllo 🎉'))).toBe('héllo 🎉');
  });
  it('rejects invalid UTF-8', () => {
    expect(() => decodeTaskBytes(Buffer.from([0x68, 0xff, 0xfe]))).toThrow(/not valid UTF-8/);
  });
  it('rejects files above the limit', () => {
    expect(() => decodeTaskBytes(Buffer.alloc(11, 0x61), 10)).toThrow(/larger than the limit of 10/);
  });
});

describe('task id rule', () => {
  it.each([
    ['a.md', true],
    ['.a.md', false],
    ['a.md.tmp', false],
    ['a.MD', false],
    ['.md', false],
    ['a.txt', false],
    ['.cf-tmp.1.ab.a.md', false],
  ])('isTaskFileName(%s) = %s', (name, ok) => {
    expect(isTaskFileName(name)).toBe(ok);
  });
  it('id is the name without .md', () => {
    expect(taskIdFromFileName('20260501-120102-abc.md')).toBe('20260501-120102-abc');
    expect(taskIdFromFileName('x.txt')).toBeUndefined();
  });
  it.each([
    ['ok-id', undefined],
    ['', /empty/],
    ['.x', /starts with/],
    ['a\tb', /control/],
    ['x'.repeat(201), /longer than 200/],
    ['é'.repeat(101), /longer than 200/],
  ])('invalidTaskIdReason(%j)', (id, reason) => {
    const r = invalidTaskIdReason(id);
    if (reason === undefined) expect(r).toBeUndefined();
    else expect(r).toMatch(reason);
  });
  it('makeTaskId is time-sortable with an optional slug', () => {
    const t = Date.UTC(2026, 4, 1, 12, 1, 2);
    expect(makeTaskId(t, 'a1b2c3')).toBe('20260501-120102-a1b2c3');
    expect(makeTaskId(t, 'a1b2c3', 'Fix the Login — now!')).toBe('20260501-120102-a1b2c3-fix-the-login-now');
    expect(makeTaskId(t, 'a1b2c3', '🎉🎉')).toBe('20260501-120102-a1b2c3');
    expect(invalidTaskIdReason(makeTaskId(t, 'ff', 'x'.repeat(500)))).toBeUndefined();
  });
});

describe('nearMissField', () => {
  it.each([
    ['needs_claude', undefined],
    ['need_claude_code', 'needs_claude_code'],
    ['prefered_ai', 'preferred_ai'],
    ['Priority', 'priority'],
    ['owner', undefined],
    ['labels', undefined],
    ['maxAttempts', 'max_attempts'],
  ])('%s → %s', (key, field) => {
    expect(nearMissField(key)).toBe(field);
  });
});

describe('setFrontmatterFields', () => {
  it('adds a block to a plain task, body byte-exact', () => {
    const out = setFrontmatterFields('body\r\nline', { attempts: 1 });
    expect(out).toBe('---\nattempts: 1\n---\nbody\r\nline');
    expect(parseFrontmatter(out).fields.attempts).toBe(1);
  });
  it('updates and removes keys, keeps comments and other keys', () => {
    const src = '---\n# a comment\npriority: high\nowner: bob\nattempts: 1\n---\nthe body\n';
    const out = setFrontmatterFields(src, { attempts: 2, owner: undefined, last_error: 'died' });
    expect(out).toContain('# a comment');
    expect(out).not.toContain('owner');
    const p = parseFrontmatter(out);
    expect(p.fields).toMatchObject({ priority: 'high', attempts: 2, last_error: 'died' });
    expect(p.body).toBe('the body\n');
  });
  it('is a no-op with nothing to set on a plain task', () => {
    expect(setFrontmatterFields('x', {})).toBe('x');
  });
  it('handles an empty block', () => {
    expect(parseFrontmatter(setFrontmatterFields('---\n---\nb', { priority: 'low' })).fields).toEqual({ priority: 'low' });
  });
  it('throws on malformed frontmatter', () => {
    expect(() => setFrontmatterFields('---\na: [\n---\nb', { attempts: 1 })).toThrow(TaskParseError);
  });
  it('replaces a field written in a spelling variant instead of adding a second one', () => {
    const out = setFrontmatterFields('---\nallow-delegation: true\nMax-Attempts: 2\n---\nb', { allow_delegation: false, attempts: 1 });
    expect(out).not.toContain('allow-delegation');
    expect(out).toContain('Max-Attempts: 2');
    const p = parseFrontmatter(out);
    expect(p.fields).toEqual({ allow_delegation: false, attempts: 1, max_attempts: 2 });
  });
});

describe('ordering', () => {
  const t = (id: string, priority: 'high' | 'normal' | 'low', mtimeMs: number) => ({ id, priority, mtimeMs });
  it('priority, then age, then id', () => {
    const sorted = sortTasks([t('a', 'low', 1), t('b', 'normal', 5), t('c', 'high', 9), t('d', 'normal', 2), t('e', 'high', 3), t('f', 'normal', 2)]);
    expect(sorted.map((x) => x.id)).toEqual(['e', 'c', 'd', 'f', 'b', 'a']);
  });
  it('compareTasks is antisymmetric', () => {
    expect(compareTasks(t('a', 'high', 1), t('b', 'high', 1))).toBeLessThan(0);
    expect(compareTasks(t('b', 'high', 1), t('a', 'high', 1))).toBeGreaterThan(0);
  });
});

describe('footers', () => {
  const started = Date.UTC(2026, 4, 1, 12, 0, 0);
  it('done footer carries every field', () => {
    const f = formatDoneFooter({ taskId: 't1', session: 'ccl-3', account: 'work-a', conversationId: 'c-123', startedAt: started, finishedAt: started + 245_000, attempts: 2 });
    expect(f).toBe(
      '\n---\n<!-- claude-failover:done -->\n**claude-failover: done**\n\n- task: t1\n- session: ccl-3\n- account: work-a\n- conversation: c-123\n- started: 2026-05-01T12:00:00.000Z\n- finished: 2026-05-01T12:04:05.000Z\n- duration: 4m 05s\n- attempts: 2\n',
    );
  });
  it('done footer says when the task was continued after a relaunch, and on which account it finished', () => {
    const f = formatDoneFooter({ taskId: 't1', session: 'ccl-3', account: 'work-a', startedAt: started, finishedAt: started + 1000, attempts: 1, continuations: 1, finishedOnAccount: 'work-b' });
    expect(f).toContain('- duration: 1s\n- continued: 1 time(s) after a relaunch; finished on account work-b\n- attempts: 1\n');
    expect(formatDoneFooter({ taskId: 't1', session: 's', account: 'a', startedAt: 0, finishedAt: 0, attempts: 1, continuations: 2, finishedOnAccount: 'a' })).toContain('- continued: 2 time(s) after a relaunch\n');
  });
  it('failed footer keeps a multi-line reason as a list continuation', () => {
    const f = formatFailedFooter({ taskId: 't1', reason: 'line one\nline two', failedAt: started });
    expect(f).toContain('- reason: line one\n  line two\n');
    expect(footerKinds(`x\n${f}`)).toEqual(['failed']);
  });
  it('failed footer caps huge reasons', () => {
    expect(formatFailedFooter({ taskId: 't', reason: 'x'.repeat(10_000), failedAt: started }).length).toBeLessThan(4300);
  });
  it('delegated footer: provider, job, cost, duration', () => {
    const f = formatDelegatedFooter({ taskId: 't1', provider: 'gemini', jobId: 'job-9', cost: 0.0123, startedAt: started, finishedAt: started + 1500 });
    expect(f).toContain('- provider: gemini\n- job: job-9\n- cost: 0.0123 USD\n');
    expect(f).toContain('- duration: 1s');
  });
  it('single-line fields cannot inject lines', () => {
    const f = formatDoneFooter({ taskId: 't1', session: 'a\n- account: evil', account: 'x', startedAt: 0, finishedAt: 0, attempts: 1 });
    expect(f.match(/^- account:/gm)).toHaveLength(1);
  });
  it.each([
    [850, '850ms'],
    [42_000, '42s'],
    [245_000, '4m 05s'],
    [7_390_000, '2h 03m 10s'],
    [93_600_000, '1d 02h 00m'],
    [-1, 'unknown'],
  ])('formatDuration(%d) = %s', (ms, s) => {
    expect(formatDuration(ms)).toBe(s);
  });
  it('appendOnce is idempotent and adds a missing newline', () => {
    const f = '\n---\nfooter\n';
    const once = appendOnce('body', f);
    expect(once).toBe('body\n\n---\nfooter\n');
    expect(appendOnce(once, f)).toBe(once);
  });
  it('deriveTitle', () => {
    expect(deriveTitle('\n\nintro\n## Heading here\n')).toBe('Heading here');
    expect(deriveTitle('x'.repeat(100))?.length).toBe(80);
    expect(deriveTitle('  \n')).toBeUndefined();
  });
});

describe('planRecovery', () => {
  const lease = (taskId: string, attempt = 1): Lease => ({ version: 1, taskId, claimId: 'c', session: 's', account: 'a', attempt, claimedAt: '2026-01-01T00:00:00.000Z' });
  const intent = (taskId: string, from: FinishIntent['from'], to: FinishIntent['to']): FinishIntent => ({ version: 1, taskId, from, to, text: 'F', at: '2026-01-01T00:00:00.000Z' });
  const snap = (locs: Record<string, TaskState[]>, leases: Lease[] = [], intents: FinishIntent[] = []): QueueSnapshot => ({
    locations: new Map(Object.entries(locs)),
    leases: leases.map((l) => ({ taskId: l.taskId, lease: l, mtimeMs: 0 })),
    intents: intents.map((i) => ({ taskId: i.taskId, intent: i, mtimeMs: 0 })),
  });
  const cases: { name: string; snap: QueueSnapshot; actions: string[]; anomalies?: number }[] = [
    { name: 'healthy dispatched task with lease', snap: snap({ a: ['dispatched'] }, [lease('a')]), actions: [] },
    { name: 'lease, task still in inbox (claim interrupted)', snap: snap({ a: ['inbox'] }, [lease('a')]), actions: ['dropLease:a'] },
    { name: 'lease, task in done (lease removal interrupted)', snap: snap({ a: ['done'] }, [lease('a')]), actions: ['dropLease:a'] },
    { name: 'lease, task gone', snap: snap({}, [lease('a')]), actions: ['dropLease:a'] },
    { name: 'dispatched without lease', snap: snap({ a: ['dispatched'] }), actions: ['requeueUnleased:a'] },
    { name: 'intent, task still in from', snap: snap({ a: ['dispatched'] }, [lease('a')], [intent('a', 'dispatched', 'done')]), actions: ['rollForward:a'] },
    { name: 'intent, task already in to', snap: snap({ a: ['done'] }, [lease('a')], [intent('a', 'dispatched', 'done')]), actions: ['rollForward:a'] },
    { name: 'intent, task elsewhere', snap: snap({ a: ['inbox'] }, [], [intent('a', 'dispatched', 'done')]), actions: ['dropIntent:a'] },
    { name: 'intent for a malformed inbox task', snap: snap({ a: ['inbox'] }, [], [intent('a', 'inbox', 'failed')]), actions: ['rollForward:a'] },
    { name: 'id in two state dirs → anomaly only', snap: snap({ a: ['inbox', 'done'] }), actions: [], anomalies: 1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRecovery(c.snap, 10_000);
      expect(plan.actions.map((a) => `${a.type}:${a.taskId}`)).toEqual(c.actions);
      expect(plan.anomalies).toHaveLength(c.anomalies ?? 0);
    });
  }
  it('unreadable lease on a dispatched task: drop it and requeue', () => {
    const s: QueueSnapshot = { locations: new Map([['a', ['dispatched']]]), leases: [{ taskId: 'a', error: 'bad', mtimeMs: 0 }], intents: [] };
    expect(planRecovery(s, 0).actions.map((a) => a.type)).toEqual(['dropLease', 'requeueUnleased']);
  });
  it('grace leaves young leases and their tasks alone', () => {
    const s: QueueSnapshot = { locations: new Map([['a', ['inbox']], ['b', ['dispatched']]]), leases: [{ taskId: 'a', lease: lease('a'), mtimeMs: 9_500 }], intents: [] };
    const plan = planRecovery(s, 10_000, 1_000);
    expect(plan.actions.map((a) => `${a.type}:${a.taskId}`)).toEqual(['requeueUnleased:b']);
    expect(planRecovery(s, 10_000, 0).actions.map((a) => `${a.type}:${a.taskId}`)).toEqual(['dropLease:a', 'requeueUnleased:b']);
  });
});
