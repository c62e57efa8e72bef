import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rateLimitHeaders, startFakeAnthropicServer, turnPosition, unwrapPasted, type FakeAnthropicServer, type FakeMessage } from '../../src/demo/fake-anthropic-server.js';
import { REPO } from '../support/cli.js';

const TOKEN = 'sk-ant-oat01-test-a';
const TOOLS = [{ name: 'Bash', description: 'run', input_schema: { type: 'object' } }];

let api: FakeAnthropicServer;
beforeAll(async () => {
  api = await startFakeAnthropicServer({ clock: () => Date.parse('2026-03-10T12:00:00Z') });
  api.setWindows(TOKEN, { fiveHour: 23, sevenDay: 11 });
});
afterAll(async () => {
  await api.close();
});
afterEach(() => api.clearRules());

interface Sent {
  status: number;
  headers: Headers;
  json?: Record<string, unknown>;
  events?: { event: string; data: Record<string, unknown> }[];
}

async function messages(body: Record<string, unknown>, opts: { token?: string; session?: string } = {}): Promise<Sent> {
  const res = await fetch(`${api.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.token ?? TOKEN}`, 'x-claude-code-session-id': opts.session ?? 'conv-1', 'user-agent': 'claude-cli/2.1.332 (external, cli)' },
    body: JSON.stringify({ model: 'claude-opus-5-5', max_tokens: 1000, tools: TOOLS, ...body }),
  });
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const events = text.split('\n\n').filter(Boolean).map((chunk) => {
      const event = /^event: (.+)$/m.exec(chunk)?.[1] ?? '';
      const data = JSON.parse(/^data: (.+)$/m.exec(chunk)?.[1] ?? '{}') as Record<string, unknown>;
      return { event, data };
    });
    return { status: res.status, headers: res.headers, events };
  }
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}

const user = (text: string): FakeMessage => ({ role: 'user', content: [{ type: 'text', text: '<system-reminder>\nctx\n</system-reminder>' }, { type: 'text', text }] });

describe('fake Anthropic API: protocol', () => {
  it('answers HEAD / and logs it as the CLI\'s probe', async () => {
    const res = await fetch(`${api.url}/`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(api.requests.at(-1)).toMatchObject({ method: 'HEAD', path: '/', kind: 'probe', status: 200 });
  });

  it('rejects an unknown token with 401 (messages and count_tokens)', async () => {
    const r = await messages({ messages: [user('hi')] }, { token: 'sk-ant-oat01-nobody' });
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const c = await fetch(`${api.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'x-api-key': 'nobody' }, body: '{}' });
    expect(c.status).toBe(401);
  });

  it('counts tokens for a known token (Bearer or x-api-key)', async () => {
    const c = await fetch(`${api.url}/v1/messages/count_tokens?beta=true`, { method: 'POST', headers: { 'x-api-key': TOKEN }, body: JSON.stringify({ messages: [user('x'.repeat(400))] }) });
    expect(c.status).toBe(200);
    expect(((await c.json()) as { input_tokens: number }).input_tokens).toBeGreaterThan(100);
  });

  it('non-streaming: one message, "Done: <first line>", with the unified rate-limit headers', async () => {
    const r = await messages({ messages: [user('fix the parser\nsecond line')] });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Done: fix the parser' }], stop_reason: 'end_turn' });
    expect(r.headers.get('anthropic-ratelimit-unified-status')).toBe('allowed');
    expect(r.headers.get('anthropic-ratelimit-unified-5h-utilization')).toBe('0.23');
    expect(r.headers.get('anthropic-ratelimit-unified-7d-utilization')).toBe('0.11');
    expect(r.headers.get('anthropic-ratelimit-unified-5h-reset')).toBe(String(Date.parse('2026-03-10T17:00:00Z') / 1000));
    expect(r.headers.get('anthropic-ratelimit-unified-reset')).toBe(r.headers.get('anthropic-ratelimit-unified-5h-reset'));
    expect(r.headers.get('anthropic-ratelimit-unified-representative-claim')).toBe('five_hour');
    expect(r.headers.get('anthropic-ratelimit-unified-fallback')).toBe('unavailable');
    expect(r.headers.get('anthropic-ratelimit-unified-overage-status')).toBe('rejected');
    expect(api.requests.at(-1)).toMatchObject({ kind: 'turn', token: TOKEN, sessionId: 'conv-1', prompt: 'fix the parser\nsecond line', step: 0, status: 200, stream: false, answered: { text: 'Done: fix the parser' } });
  });

  it('streaming: message_start, content_block_start/delta/stop, message_delta, message_stop', async () => {
    const r = await messages({ stream: true, messages: [user('stream me')] });
    expect(r.events?.map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(r.events?.[2]?.data).toMatchObject({ delta: { type: 'text_delta', text: 'Done: stream me' } });
    expect(r.events?.[4]?.data).toMatchObject({ delta: { stop_reason: 'end_turn' } });
  });

  it('a side request (no tools) gets a plain answer and no scripted turn', async () => {
    api.onPrompt('side', { text: 'scripted' });
    const r = await messages({ tools: undefined, messages: [user('side question')] });
    expect(r.json).toMatchObject({ content: [{ type: 'text', text: 'ok' }] });
    expect(api.requests.at(-1)?.kind).toBe('side');
  });
});

describe('fake Anthropic API: scripted turns', () => {
  it('runs the prompt\'s #sim directives as tool calls, one per request, continuing on each tool_result', async () => {
    const prompt = '<pasted_content id="ab12">\nship it\n#sim bash git push --force origin main\n#sim write notes.md a\\nb\n#sim tool mcp__srv__echo {"text":"hi"}\n#sim print all done\n</pasted_content id="ab12">';
    const convo: FakeMessage[] = [user(prompt)];
    const answers: unknown[] = [];
    for (let step = 0; step < 4; step++) {
      const r = await messages({ stream: true, messages: convo });
      const start = r.events?.find((e) => e.event === 'content_block_start')?.data.content_block as { type: string; id?: string; name?: string };
      const delta = r.events?.find((e) => e.event === 'content_block_delta')?.data.delta as { partial_json?: string; text?: string };
      if (start.type === 'tool_use') {
        answers.push({ name: start.name, input: JSON.parse(delta.partial_json ?? '{}') });
        expect(r.events?.find((e) => e.event === 'message_delta')?.data).toMatchObject({ delta: { stop_reason: 'tool_use' } });
        convo.push({ role: 'assistant', content: [{ type: 'tool_use', id: start.id as string, name: start.name as string, input: {} }] });
        convo.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: start.id as string, content: step === 0 ? 'blocked by the guard' : 'ok', is_error: step === 0 }] });
      } else answers.push({ text: delta.text });
    }
    expect(answers).toEqual([
      { name: 'Bash', input: { command: 'git push --force origin main', description: 'Run git push --force origin main' } },
      { name: 'Write', input: { file_path: 'notes.md', content: 'a\nb' } },
      { name: 'mcp__srv__echo', input: { text: 'hi' } },
      { text: 'all done' },
    ]);
    const log = api.requests.filter((r) => r.prompt === prompt);
    expect(log.map((r) => r.step)).toEqual([0, 1, 2, 3]);
    expect(log[1]?.toolResults).toEqual([{ toolUseId: expect.stringMatching(/^toolu_/), text: 'blocked by the guard', isError: true }]);
  });

  it('rules match prompts (string, RegExp, function), per token, for a number of turns; an error turn answers that API error', async () => {
    api.onPrompt(/^deploy/, { text: 'deployed' }, { times: 1 });
    api.onPrompt('overload', { error: 'overloaded' });
    api.onPrompt((p) => p.endsWith('!'), { text: 'excited' }, { token: 'someone-else' });
    expect((await messages({ messages: [user('deploy now')] })).json).toMatchObject({ content: [{ text: 'deployed' }] });
    expect((await messages({ messages: [user('deploy again')] }, { session: 'conv-2' })).json).toMatchObject({ content: [{ text: 'Done: deploy again' }] });
    const o = await messages({ messages: [user('overload please')] });
    expect([o.status, (o.json as { error: { type: string } }).error.type]).toEqual([529, 'overloaded_error']);
    expect((await messages({ messages: [user('wow!')] })).json).toMatchObject({ content: [{ text: 'Done: wow!' }] });
  });
});

describe('fake Anthropic API: one usage table per token, two sources', () => {
  it('drives the usage endpoint and the headers; over 100 % the API answers the quota 429', async () => {
    api.setWindows('tok-q', { fiveHour: 95, sevenDay: 40 });
    const warn = await messages({ messages: [user('a')] }, { token: 'tok-q' });
    expect(warn.headers.get('anthropic-ratelimit-unified-status')).toBe('allowed_warning');
    api.setWindows('tok-q', { fiveHour: 100, sevenDay: 40 });
    const limited = await messages({ messages: [user('b')] }, { token: 'tok-q' });
    expect(limited.status).toBe(429);
    expect(limited.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(limited.headers.get('anthropic-ratelimit-unified-status')).toBe('rejected');
    expect(limited.headers.get('anthropic-ratelimit-unified-representative-claim')).toBe('five_hour');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const usage = await fetch(api.usageEndpoint, { headers: { authorization: 'Bearer tok-q', 'anthropic-beta': 'oauth-2025-04-20' } });
    expect(((await usage.json()) as { five_hour: { utilization: number } }).five_hour.utilization).toBe(100);
  });

  it('setApiWindows makes the API disagree with the usage endpoint (and HTTP control does the same)', async () => {
    api.setWindows('tok-d', { fiveHour: 10, sevenDay: 10 });
    api.setApiWindows('tok-d', { fiveHour: 100, sevenDay: 10 });
    expect((await messages({ messages: [user('a')] }, { token: 'tok-d' })).status).toBe(429);
    const usage = await fetch(api.usageEndpoint, { headers: { authorization: 'Bearer tok-d', 'anthropic-beta': 'oauth-2025-04-20' } });
    expect(((await usage.json()) as { five_hour: { utilization: number } }).five_hour.utilization).toBe(10);
    expect((await fetch(`${api.url}/__fake/api-windows/tok-d`, { method: 'PUT', body: 'null' })).status).toBe(200);
    expect((await messages({ messages: [user('b')] }, { token: 'tok-d' })).status).toBe(200);
    expect((await fetch(`${api.url}/__fake/api-windows/tok-d`, { method: 'PUT', body: JSON.stringify({ sevenDay: 100 }) })).status).toBe(200);
    const weekly = await messages({ messages: [user('c')] }, { token: 'tok-d' });
    expect([weekly.status, weekly.headers.get('anthropic-ratelimit-unified-representative-claim')]).toEqual([429, 'seven_day']);
    const log = (await (await fetch(`${api.url}/__fake/api-requests`)).json()) as { token?: string; status: number; messages?: unknown }[];
    expect(log.filter((r) => r.token === 'tok-d').map((r) => r.status)).toEqual([429, 200, 200, 429]);
    expect(log.every((r) => r.messages === undefined)).toBe(true);
  });
});

describe('fake Anthropic API: request log', () => {
  it('waitForRequest resolves on a later request and rejects with what it saw', async () => {
    const waiting = api.waitForRequest((r) => r.prompt === 'later', 5_000);
    await messages({ messages: [user('later')] });
    expect((await waiting).prompt).toBe('later');
    await expect(api.waitForRequest((r) => r.prompt === 'never', 50, 'nothing')).rejects.toThrow(/nothing: no matching API request within 50 ms \(\d+ usage polls and \d+ other requests: .*#\d+ POST \/v1\/messages turn 200 step 0 "later"\)$/);
  });

  it('a client that goes away in the middle of a long turn does not break the server', async () => {
    api.onPrompt('slow', { text: 'late', durationMs: 5_000 });
    const ac = new AbortController();
    const res = await fetch(`${api.url}/v1/messages`, { method: 'POST', signal: ac.signal, headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ stream: true, tools: TOOLS, messages: [user('slow one')] }) });
    expect(res.status).toBe(200);
    ac.abort();
    expect((await messages({ messages: [user('after the abort')] })).status).toBe(200);
  });
});

describe('fake Anthropic API: helpers', () => {
  it('turnPosition finds the last prompt, the step and the tool results', () => {
    const m: FakeMessage[] = [
      user('first'), { role: 'assistant', content: [{ type: 'text', text: 'Done' }] },
      user('second'), { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'Bash', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'out' }] }, { type: 'text', text: '<system-reminder>x</system-reminder>' }] },
    ];
    expect(turnPosition(m)).toEqual({ prompt: 'second', promptIndex: 2, step: 1, toolResults: [{ toolUseId: 't1', text: 'out', isError: false }] });
    expect(turnPosition([])).toBeUndefined();
  });

  it('unwrapPasted removes the CLI\'s <pasted_content> wrappers', () => {
    expect(unwrapPasted('\n\n<pasted_content id="0733">\nline 1\nline 2\n</pasted_content id="0733">\n')).toBe('line 1\nline 2');
  });

  it.each([
    [{ five_hour: { utilization: 50 }, seven_day: { utilization: 80 } }, 'allowed', 'seven_day'],
    [{ five_hour: { utilization: 90 }, seven_day: { utilization: 10 } }, 'allowed_warning', 'five_hour'],
    [{ five_hour: { utilization: 120 }, seven_day: { utilization: 100 } }, 'rejected', 'seven_day'],
    [{}, 'allowed', 'five_hour'],
  ])('rateLimitHeaders(%j) → %s, claim %s', (body, status, claim) => {
    const h = rateLimitHeaders(body, 0).headers;
    expect([h['anthropic-ratelimit-unified-status'], h['anthropic-ratelimit-unified-representative-claim']]).toEqual([status, claim]);
  });
});

describe('fake Anthropic API: standalone process', () => {
  it('prints its URLs, serves the seeded tokens and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-fake-api-'));
    try {
      writeFileSync(join(dir, 'seed.json'), JSON.stringify({ 'tok-s': { fiveHour: 42, sevenDay: 7 } }));
      const child = spawn(process.execPath, [join(REPO, 'dist', 'demo', 'fake-anthropic-server.js'), '--seed', join(dir, 'seed.json')], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const info = JSON.parse(line) as { url: string; usageEndpoint: string; pid: number };
      expect(info.usageEndpoint).toBe(`${info.url}/api/oauth/usage`);
      const res = await fetch(`${info.url}/v1/messages`, { method: 'POST', headers: { authorization: 'Bearer tok-s' }, body: JSON.stringify({ messages: [user('hello')] }) });
      expect(res.headers.get('anthropic-ratelimit-unified-5h-utilization')).toBe('0.42');
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('demo with the real CLI: its Session manifests', () => {
  it('replace each demo session\'s command by the real binary and its env by the stand-in\'s', async () => {
    const { realSessionsYaml } = await import('../../src/demo/run-demo.js');
    const { readFileSync } = await import('node:fs');
    const { parseAllDocuments } = await import('yaml');
    const out = realSessionsYaml(readFileSync(join(REPO, 'examples', 'demo', 'sessions.yaml'), 'utf8'), '/opt/claude', 'http://127.0.0.1:18471');
    const docs = parseAllDocuments(out).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { project: string; command: string[]; env: Record<string, string>; mode?: string; model?: string } });
    expect(docs.map((d) => d.metadata.name)).toEqual(['ccl-0', 'ccl-1', 'ccl-2', 'ccl-3', 'reviewer']);
    for (const d of docs) {
      expect(d.kind).toBe('Session');
      expect(d.spec.command).toEqual(['/opt/claude', '--dangerously-skip-permissions']);
      expect(d.spec.env).toMatchObject({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:18471', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1' });
      expect(Object.keys(d.spec.env).some((k) => k.startsWith('CLAUDE_SIM_'))).toBe(false);
    }
    expect(docs.find((d) => d.metadata.name === 'reviewer')?.spec).toMatchObject({ mode: 'dedicated', model: 'opus', project: 'webapp' });
  });

  it('`demo --claude PATH` refuses a binary that does not exist', async () => {
    const { runCli } = await import('../support/cli.js');
    const r = await runCli(['demo', '--claude', '/nonexistent/claude']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--claude: \/nonexistent\/claude does not exist/);
  });
});
