import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimScenario } from './harness.js';
import { buildSim, cleanEnv, pollUntil, readJsonl, SIM_BIN, SIM_JS } from './support.js';

const SID = '0b6f1c2e-4d5a-4e8b-9c1d-2e3f4a5b6c7d';

function run(cmd: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    execFile(cmd, args, { env, cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1;
      resolveRun({ code, stdout, stderr });
    });
  });
}

function sha256(b: string | Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function encodeCwd(p: string): string {
  return p.replace(/[^a-zA-Z0-9]/g, '-');
}

let s: SimScenario;

beforeAll(async () => {
  await buildSim();
}, 120_000);

afterEach(async () => {
  await s.dispose();
});

describe('claude-sim CLI surface', () => {
  it('prints its version through the sh wrapper, like the real binary', async () => {
    s = new SimScenario();
    const r = await run(SIM_BIN, ['--version'], s.env(), s.work);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('2.1.332 (Claude Code simulator)');
  });

  it('--resume of an unknown id prints the real message and exits 1', async () => {
    s = new SimScenario();
    const r = await run(process.execPath, [SIM_JS, '--resume', SID], s.env(), s.work);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`No conversation found with session ID: ${SID}`);
  });

  it('rejects unknown flags and invalid session ids (exit 1)', async () => {
    s = new SimScenario();
    const bad = await run(process.execPath, [SIM_JS, '--no-such-flag'], s.env(), s.work);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown option '--no-such-flag'");
    const badId = await run(process.execPath, [SIM_JS, '--session-id', 'not-a-uuid'], s.env(), s.work);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toContain('Invalid session ID');
  });

  it('refuses --dangerously-skip-permissions as root only when CLAUDE_SIM_ENFORCE_ROOT_CHECK=1', async () => {
    s = new SimScenario();
    const root = process.getuid?.() === 0;
    const r = await run(process.execPath, [SIM_JS, '--dangerously-skip-permissions', '-p', 'hello'], s.env({ CLAUDE_SIM_ENFORCE_ROOT_CHECK: '1' }), s.work);
    if (root) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('cannot be used with root/sudo privileges');
    } else expect(r.code).toBe(0);
    const ok = await run(process.execPath, [SIM_JS, '--dangerously-skip-permissions', '-p', 'hello'], s.env(), s.work);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Done: hello');
  });

  it('fails fast on a --settings file that does not exist', async () => {
    s = new SimScenario();
    const r = await run(process.execPath, [SIM_JS, '--settings', join(s.root, 'missing.json'), '-p', 'x'], s.env(), s.work);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Settings file not found');
  });
});

describe('claude-sim in a private tmux server', () => {
  it('writes the transcript under projects/<encoded cwd>/<session-id>.jsonl and logs the invocation', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('a1', ['--dangerously-skip-permissions', '--session-id', SID, '--settings', settings, '--model', 'claude-opus-4-1']);
    await s.ready('a1');
    await s.submit('a1', 'Task: write the report', 'Task: write the report');
    await s.stopCount(1);

    const transcript = join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`);
    expect(encodeCwd(s.work)).toMatch(/-work-dir-x$/);
    const records = readJsonl(transcript);
    expect(records.map((r) => r['type'])).toEqual(['user', 'assistant']);
    for (const r of records) {
      expect(r['sessionId']).toBe(SID);
      expect(r['cwd']).toBe(s.work);
      expect(typeof r['uuid']).toBe('string');
      expect(Number.isNaN(Date.parse(String(r['timestamp'])))).toBe(false);
    }
    expect(records[1]?.['parentUuid']).toBe(records[0]?.['uuid']);
    expect((records[0]?.['message'] as { content: string }).content).toBe('Task: write the report');

    const inv = s.log('invocations').find((r) => r['type'] === 'invocation');
    expect(inv).toMatchObject({
      argv: ['--dangerously-skip-permissions', '--session-id', SID, '--settings', settings, '--model', 'claude-opus-4-1'],
      cwd: s.work, sessionId: SID, resumed: false, env: { CLAUDE_CONFIG_DIR: s.config }, transcriptPath: transcript,
    });
    expect(inv?.['env']).not.toHaveProperty('CLAUDE_CODE_CHILD_SESSION');
  });

  it('resumes an existing conversation with --resume: same file, SessionStart source "resume"', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('r1', ['--session-id', SID, '--settings', settings]);
    await s.ready('r1');
    await s.submit('r1', 'first task', 'first task');
    await s.stopCount(1);
    s.tmux.tmux(['kill-session', '-t', '=r1']);

    s.launch('r2', ['--resume', SID, '--settings', settings]);
    await pollUntil(() => s.hookEvents('SessionStart').length >= 2 || undefined, 'second SessionStart');
    await pollUntil(() => s.tmux.capture('r2').includes(`Resumed conversation ${SID}`), 'resume banner');
    await s.submit('r2', 'second task', 'second task');
    await s.stopCount(2);

    const starts = s.hookEvents('SessionStart');
    expect(starts.map((e) => e['source'])).toEqual(['startup', 'resume']);
    expect(starts[1]?.['session_id']).toBe(SID);
    const records = readJsonl(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`));
    expect(records.map((r) => r['type'])).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(records[2]?.['parentUuid']).toBe(records[1]?.['uuid']);
    const invs = s.log('invocations').filter((r) => r['type'] === 'invocation');
    expect(invs.map((r) => r['resumed'])).toEqual([false, true]);
    // --session-id of an existing conversation is refused, like the real CLI.
    const again = await run(process.execPath, [SIM_JS, '--session-id', SID, '-p', 'x'], s.env(), s.work);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`Session ID ${SID} is already in use`);
    // From another directory the conversation is not found, like the real CLI (transcripts live per cwd).
    const elsewhere = join(s.work, 'elsewhere');
    mkdirSync(elsewhere);
    const moved = await run(process.execPath, [SIM_JS, '--resume', SID, '-p', 'x'], s.env(), elsewhere);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toContain(`No conversation found with session ID: ${SID}`);
  });

  it('submits on a separate Enter; an Enter in the same write as the paste is swallowed', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('p1', ['--settings', settings]);
    await s.ready('p1');

    s.tmux.paste('p1', 'alpha task', { enterInSameCommand: true });
    await pollUntil(() => s.log('received').some((r) => r['type'] === 'enter-swallowed') || undefined, 'swallowed Enter record');
    expect(s.log('received').filter((r) => r['type'] === 'received')).toHaveLength(0);
    expect(s.tmux.capture('p1')).toContain('❯ alpha task');
    const shownAt = Date.now();
    expect(s.hookEvents('UserPromptSubmit')).toHaveLength(0);

    await s.enterAfter('p1', shownAt); // the separate Enter submits what is in the box
    await s.stopCount(1);
    const received = s.log('received').filter((r) => r['type'] === 'received');
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ sha256: sha256('alpha task'), bytes: 10, pasted: true, queued: false });
    expect(s.hookEvents('UserPromptSubmit')[0]?.['prompt']).toBe('alpha task');
  });

  it('receives a tricky UTF-8 body byte-exact through load-buffer + paste-buffer -p -r', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('u1', ['--settings', settings]);
    await s.ready('u1');
    const body = `-leading dash "double" 'single' \`tick\` ; semi;\r\n$(echo pwned) \${HOME} emoji 😀👩‍💻 ünïcödé 中文\r\nlast line\\ with backslash;`;
    await s.submit('u1', body, '-leading dash');
    await s.stopCount(1);
    const received = s.log('received').filter((r) => r['type'] === 'received');
    expect(received).toHaveLength(1);
    expect(received[0]?.['sha256']).toBe(sha256(Buffer.from(body, 'utf8')));
    expect(received[0]?.['bytes']).toBe(Buffer.byteLength(body));
    expect(received[0]?.['textSha256']).toBe(sha256(body.replace(/\r\n?/g, '\n')));
    // `$(echo pwned)` is text, not a command: it reaches the prompt unexpanded.
    expect(s.hookEvents('UserPromptSubmit')[0]?.['prompt']).toBe(body.replace(/\r\n?/g, '\n'));
  });

  it('documents what tmux delivers without -r: every LF becomes CR (so CRLF arrives as CR CR)', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('u2', ['--settings', settings]);
    await s.ready('u2');
    const body = 'one\r\ntwo\nthree';
    s.tmux.paste('u2', body, { raw: false });
    await pollUntil(() => s.tmux.capture('u2').includes('three'), 'paste shown');
    await s.enterAfter('u2', Date.now());
    await s.stopCount(1);
    const received = s.log('received').filter((r) => r['type'] === 'received');
    expect(received[0]?.['sha256']).toBe(sha256('one\r\rtwo\rthree'));
    expect(received[0]?.['sha256']).not.toBe(sha256(body));
  });

  it('passes Claude Code stdin JSON and environment to hooks from --settings and the config dir settings.json', async () => {
    s = new SimScenario();
    const envFile = join(s.root, 'hook-env.txt');
    writeFileSync(join(s.config, 'settings.json'), JSON.stringify({
      hooks: { UserPromptSubmit: [{ hooks: [{ type: 'command', command: `printf '%s|%s\\n' "$CLAUDE_PROJECT_DIR" "$CLAUDE_CODE_SESSION_ID" >> '${envFile}'` }] }] },
    }));
    const settings = s.writeSettings('session-settings.json');
    s.launch('h1', ['--dangerously-skip-permissions', '--session-id', SID, '--settings', settings], { CLAUDE_SIM_IDLE_NOTIFY_MS: '300' });
    await s.ready('h1');
    await s.submit('h1', 'hook check\n#sim bash echo from-bash', 'hook check');
    await s.stopCount(1);
    await pollUntil(() => s.hookEvents('Notification').length > 0, 'idle Notification');
    s.tmux.keys('h1', '/exit');
    await pollUntil(() => s.tmux.capture('h1').includes('❯ /exit'), '/exit typed');
    await s.enterAfter('h1', Date.now());
    expect(await s.exitStatus('h1')).toBe(0);

    const transcriptPath = join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`);
    const base = { session_id: SID, transcript_path: transcriptPath, cwd: s.work };
    const common = { ...base, permission_mode: 'bypassPermissions' };
    // As 2.1.332: SessionStart and SessionEnd carry no permission_mode; hooks after a prompt carry its prompt_id.
    expect(s.hookEvents('SessionStart')[0]).toEqual({ ...base, hook_event_name: 'SessionStart', source: 'startup', model: expect.any(String) });
    expect(s.hookEvents('UserPromptSubmit')[0]).toMatchObject({ ...common, hook_event_name: 'UserPromptSubmit', prompt: 'hook check\n#sim bash echo from-bash' });
    const pre = s.hookEvents('PreToolUse')[0];
    expect(pre).toMatchObject({ ...common, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'echo from-bash' } });
    expect(String(pre?.['tool_use_id'])).toMatch(/^toolu_/);
    expect(s.hookEvents('PostToolUse')[0]).toMatchObject({ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_response: { stdout: 'from-bash\n' }, tool_use_id: pre?.['tool_use_id'] });
    expect(s.hookEvents('Stop')[0]).toMatchObject({ ...common, hook_event_name: 'Stop', stop_hook_active: false });
    expect(s.hookEvents('SessionEnd')[0]).toEqual({ ...base, prompt_id: expect.any(String), hook_event_name: 'SessionEnd', reason: 'prompt_input_exit' });
    // The idle reminder as 2.1.332 sends it (no permission_mode).
    expect(s.hookEvents('Notification')[0]).toEqual({ ...base, prompt_id: expect.any(String), hook_event_name: 'Notification', message: 'Claude is waiting for your input', notification_type: 'idle_prompt' });
    expect(s.hookEvents('Stop')[0]?.['prompt_id']).toBe(s.hookEvents('UserPromptSubmit')[0]?.['prompt_id']);
    expect(readFileSync(envFile, 'utf8').trim()).toBe(`${s.work}|${SID}`);
    expect(s.log('invocations').find((r) => r['type'] === 'exit')).toMatchObject({ code: 0, reason: 'prompt_input_exit' });
  });

  it('PreToolUse: exit 2 blocks and shows the reason; exit 0 allows; exit 1 does not block; JSON deny blocks', async () => {
    s = new SimScenario();
    const guard = join(s.root, 'guard.sh');
    writeFileSync(guard, [
      '#!/bin/sh',
      'input=$(cat)',
      'case "$input" in',
      '  *BLOCK2*) echo "guard: destructive command refused, use a safer path" >&2; exit 2 ;;',
      '  *CRASH1*) echo "guard crashed" >&2; exit 1 ;;',
      '  *JSONDENY*) printf \'{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"json says no"}}\'; exit 0 ;;',
      'esac',
      'exit 0',
    ].join('\n'), { mode: 0o755 });
    const settings = s.writeSettings('settings.json', { PreToolUse: [{ matcher: 'Bash|Write', hooks: [{ type: 'command', command: guard, timeout: 10 }] }] });
    s.launch('g1', ['--dangerously-skip-permissions', '--session-id', SID, '--settings', settings]);
    await s.ready('g1');
    const prompt = [
      '#sim bash touch BLOCK2.txt',
      '#sim bash touch allowed.txt',
      '#sim bash touch CRASH1.txt',
      '#sim bash touch JSONDENY.txt',
      '#sim write notes/BLOCK2.md secret',
      '#sim write notes/ok.md hello\\nworld',
    ].join('\n');
    await s.submit('g1', prompt, '#sim bash touch BLOCK2.txt');
    await s.stopCount(1);

    expect(existsSync(join(s.work, 'BLOCK2.txt'))).toBe(false);
    expect(existsSync(join(s.work, 'allowed.txt'))).toBe(true);
    expect(existsSync(join(s.work, 'CRASH1.txt'))).toBe(true);
    expect(existsSync(join(s.work, 'JSONDENY.txt'))).toBe(false);
    expect(existsSync(join(s.work, 'notes/BLOCK2.md'))).toBe(false);
    expect(readFileSync(join(s.work, 'notes/ok.md'), 'utf8')).toBe('hello\nworld');

    const pane = s.tmux.capture('g1');
    expect(pane).toContain('guard: destructive command refused, use a safer path');
    expect(pane).toContain('json says no');
    expect(pane).toMatch(/PreToolUse:Bash hook error: .*exited with status 1: guard crashed/);

    const records = readJsonl(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`));
    const results = records.flatMap((r) => {
      const c = (r['message'] as { content?: unknown }).content;
      return Array.isArray(c) ? (c as { type: string; content?: string; is_error?: boolean }[]).filter((b) => b.type === 'tool_result') : [];
    });
    expect(results).toHaveLength(6);
    expect(results[0]).toMatchObject({ is_error: true });
    expect(results[0]?.content).toContain('guard: destructive command refused');
    expect(results[1]).toMatchObject({ is_error: false });
    expect(results[3]?.content).toContain('json says no');
    const tools = s.log('events').filter((e) => e['type'] === 'tool');
    expect(tools.map((t) => t['blocked'])).toEqual([true, false, false, true, true, false]);
  });

  it('usage >= 100: prints the limit message, writes the rate_limit record, fires StopFailure (not Stop)', async () => {
    s = new SimScenario();
    mkdirSync(join(s.config, 'claude-sim'), { recursive: true });
    writeFileSync(join(s.config, 'claude-sim', 'usage.json'), JSON.stringify({
      five_hour: { utilization: 100, resets_at: '2099-01-02T15:45:00.000000+00:00' }, seven_day: { utilization: 40, resets_at: '2099-01-05T00:00:00+00:00' },
    }));
    const settings = s.writeSettings('settings.json');
    s.launch('q1', ['--session-id', SID, '--settings', settings]);
    await s.ready('q1');
    await s.submit('q1', 'a task that cannot run', 'a task that cannot run');
    await pollUntil(() => s.hookEvents('StopFailure').length > 0 || undefined, 'StopFailure hook');

    const message = "You've hit your 5-hour limit · resets 3:45pm (UTC)";
    const pane = await pollUntil(() => {
      const p = s.tmux.capture('q1');
      return p.includes('Continuing automatically at 3:45pm · Esc to cancel') ? p : undefined;
    }, 'auto-continue notice');
    expect(pane).toContain(message);
    expect(pane).toContain('● Usage limit reached · set to continue automatically at 3:45pm');
    expect(pane).toContain('⚠ Usage limit reached · limit resets 3:45pm');
    expect(s.hookEvents('StopFailure')[0]).toEqual({ session_id: SID, transcript_path: expect.any(String), cwd: s.work, prompt_id: expect.any(String), hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: message });
    expect(s.hookEvents('Stop')).toHaveLength(0);
    const records = readJsonl(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`));
    const last = records[records.length - 1];
    expect(last).toMatchObject({ type: 'assistant', error: 'rate_limit', isApiErrorMessage: true, apiErrorStatus: 429, message: { content: [{ type: 'text', text: message }] } });
    expect(records.some((r) => r['type'] === 'assistant' && r['error'] === undefined)).toBe(false);
  });

  it('printing a limit message as ordinary output is not a limit hit (false positive)', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('f1', ['--session-id', SID, '--settings', settings]);
    await s.ready('f1');
    await s.submit('f1', "#sim print You've hit your session limit · resets 3pm", '#sim print');
    await s.stopCount(1);
    expect(s.tmux.capture('f1')).toContain("● You've hit your session limit · resets 3pm");
    expect(s.hookEvents('StopFailure')).toHaveLength(0);
    const records = readJsonl(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`));
    expect(records.some((r) => 'error' in r || 'isApiErrorMessage' in r)).toBe(false);
  });

  it('#sim usage and #sim fail rate_limit drive the limit from inside a session', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('f2', ['--session-id', SID, '--settings', settings]);
    await s.ready('f2');
    await s.submit('f2', '#sim fail rate_limit', '#sim fail');
    await pollUntil(() => s.hookEvents('StopFailure').length >= 1 || undefined, 'first StopFailure');
    await s.submit('f2', '#sim usage 100', '#sim usage 100');
    await s.stopCount(1);
    await s.submit('f2', 'next task', 'next task');
    await pollUntil(() => s.hookEvents('StopFailure').length >= 2 || undefined, 'second StopFailure');
    const usage = JSON.parse(readFileSync(join(s.config, 'claude-sim', 'usage.json'), 'utf8')) as { five_hour: { utilization: number } };
    expect(usage.five_hour.utilization).toBe(100);
    expect(s.hookEvents('StopFailure').map((e) => e['error'])).toEqual(['rate_limit', 'rate_limit']);
  });

  it('as 2.1.332: a long paste reaches the hook and the transcript wrapped in <pasted_content>, tabs expanded', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('w2', ['--session-id', SID, '--settings', settings]);
    await s.ready('w2');
    const body = 'first line\n\tindented\nthird\nfourth';
    await s.submit('w2', body, 'fourth');
    await s.stopCount(1);
    const prompt = s.hookEvents('UserPromptSubmit')[0]?.['prompt'] as string;
    expect(prompt).toMatch(/^\n\n<pasted_content id="([0-9a-f]{4})">\nfirst line\n {4}indented\nthird\nfourth\n<\/pasted_content id="\1">\n$/);
    const records = readJsonl(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`));
    expect(records.find((r) => r['type'] === 'user')?.['message']).toEqual({ role: 'user', content: prompt });
    expect(s.tmux.capture('w2')).toContain('● Done: first line');
  });

  it('as 2.1.332: Ctrl-C during a turn puts the prompt back into the input box; the next Ctrl-C clears it and arms, a third exits', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('i1', ['--settings', settings]);
    await s.ready('i1');
    await s.submit('i1', 'long task\n#sim work 60000', '#sim work 60000');
    await pollUntil(() => s.log('events').some((e) => e['type'] === 'turn-start') || undefined, 'turn started');
    s.tmux.keys('i1', 'C-c');
    await pollUntil(() => s.log('events').some((e) => e['type'] === 'turn-end' && e['outcome'] === 'interrupted') || undefined, 'interrupted');
    // The input box: the lines between the last two rules.
    const box = () => s.tmux.capture('i1').split('\n').reduceRight<{ lines: string[]; rules: number }>((acc, l) => {
      if (/^─{10,}/.test(l)) acc.rules += 1;
      else if (acc.rules === 1) acc.lines.unshift(l.trimEnd());
      return acc;
    }, { lines: [], rules: 0 }).lines.join('\n');
    await pollUntil(() => box() === '❯ long task\n  #sim work 60000' || undefined, 'prompt back in the input box');
    s.tmux.keys('i1', 'C-c');
    await pollUntil(() => s.tmux.capture('i1').includes('Press Ctrl-C again to exit') || undefined, 'cleared and armed');
    expect(box()).toBe('❯');
    expect(s.tmux.paneDead('i1').dead).toBe(false);
    s.tmux.keys('i1', 'C-c');
    expect(await s.exitStatus('i1')).toBe(0);
    expect(s.hookEvents('SessionEnd').map((e) => e['reason'])).toEqual(['prompt_input_exit']);
  });

  it('as 2.1.332: a 5-hour limit continues automatically at the reset; a weekly limit asks what to do', async () => {
    s = new SimScenario();
    mkdirSync(join(s.config, 'claude-sim'), { recursive: true });
    const usage = join(s.config, 'claude-sim', 'usage.json');
    // The 5-hour window resets in 3 s: the prompt is submitted again then (and works: the file is reset first).
    writeFileSync(usage, JSON.stringify({ five_hour: { utilization: 100, resets_at: new Date(Date.now() + 3000).toISOString() } }));
    const settings = s.writeSettings('settings.json');
    s.launch('l1', ['--settings', settings]);
    await s.ready('l1');
    await s.submit('l1', 'limited task', 'limited task');
    await pollUntil(() => s.tmux.capture('l1').includes('Esc to cancel') || undefined, 'auto-continue notice');
    writeFileSync(usage, JSON.stringify({ five_hour: { utilization: 0, resets_at: new Date(Date.now() + 3_600_000).toISOString() } }));
    await s.stopCount(1);
    expect(s.log('events').filter((e) => e['type'] === 'auto-continue')).toHaveLength(1);
    expect(s.hookEvents('UserPromptSubmit').map((e) => e['prompt'])).toEqual(['limited task', 'limited task']);

    writeFileSync(usage, JSON.stringify({ seven_day: { utilization: 100, resets_at: '2099-12-10T13:54:00Z' } }));
    await s.submit('l1', 'weekly task', 'weekly task');
    await pollUntil(() => s.tmux.capture('l1').includes('What do you want to do?') || undefined, 'limit dialog');
    expect(s.tmux.capture('l1')).toContain('Wait here, then continue automatically at Dec 10, 1:54pm');
    expect(s.hookEvents('StopFailure').at(-1)?.['last_assistant_message']).toBe("You've hit your weekly limit · resets Dec 10, 1:54pm (UTC)");
  });

  it('CLAUDE_CODE_CHILD_SESSION disables transcripts (and the invocation log records it)', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('c1', ['--session-id', SID, '--settings', settings], { CLAUDE_CODE_CHILD_SESSION: '1', CLAUDECODE: '1' });
    await s.ready('c1');
    await s.submit('c1', 'child session task', 'child session task');
    await s.stopCount(1);
    expect(existsSync(join(s.config, 'projects', encodeCwd(s.work), `${SID}.jsonl`))).toBe(false);
    const inv = s.log('invocations').find((r) => r['type'] === 'invocation');
    expect(inv).toMatchObject({ transcriptsDisabled: true, env: { CLAUDE_CODE_CHILD_SESSION: '1', CLAUDECODE: '1' } });
    expect(s.log('events').some((e) => e['type'] === 'transcripts-disabled')).toBe(true);
  });

  it('runs the status line with rate_limits from the usage file and shows its output', async () => {
    s = new SimScenario();
    mkdirSync(join(s.config, 'claude-sim'), { recursive: true });
    writeFileSync(join(s.config, 'claude-sim', 'usage.json'), JSON.stringify({
      five_hour: { utilization: 42.5, resets_at: '2099-01-02T15:45:00+00:00' }, seven_day: { utilization: 7, resets_at: '2099-01-05T00:00:00+00:00' }, seven_day_opus: null,
    }));
    const statusFile = join(s.root, 'status.jsonl');
    const settings = s.writeSettings('settings.json', {}, `line=$(cat); printf '%s\n' "$line" >> '${statusFile}'; echo 'SL acct-a 5h 42%'`);
    s.launch('s1', ['--settings', settings]);
    await s.ready('s1');
    await s.submit('s1', 'status task', 'status task');
    await s.stopCount(1);
    const calls = await pollUntil(() => {
      const c = readJsonl(statusFile);
      return c.some((x) => 'rate_limits' in x) ? c : undefined;
    }, 'status line call with rate_limits');
    expect(calls[0]).not.toHaveProperty('rate_limits'); // before the first response
    const withRl = calls.find((x) => 'rate_limits' in x);
    expect(withRl?.['rate_limits']).toEqual({
      five_hour: { used_percentage: 42.5, resets_at: Date.parse('2099-01-02T15:45:00Z') / 1000 },
      seven_day: { used_percentage: 7, resets_at: Date.parse('2099-01-05T00:00:00Z') / 1000 },
    });
    expect(withRl).toMatchObject({ cwd: s.work, transcript_path: expect.stringContaining('.jsonl') as unknown });
    await pollUntil(() => s.tmux.capture('s1').includes('SL acct-a 5h 42%'), 'status line shown');
  });

  it('queues prompts submitted while working and runs them in order', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('w1', ['--settings', settings], { CLAUDE_SIM_WORK_MS: '1500' });
    await s.ready('w1');
    await s.submit('w1', 'first long task', 'first long task');
    await pollUntil(() => s.tmux.capture('w1').includes('esc to interrupt'), 'working spinner');
    await s.submit('w1', '  second task', 'second task');
    await s.stopCount(2);
    const received = s.log('received').filter((r) => r['type'] === 'received');
    expect(received.map((r) => r['queued'])).toEqual([false, true]);
    // A queued prompt is trimmed at both ends (2.1.332); one submitted while idle keeps its leading spaces.
    expect(s.hookEvents('UserPromptSubmit').map((e) => e['prompt'])).toEqual(['first long task', 'second task']);
  });

  it('Ctrl-C twice exits 0 with SessionEnd; #sim exit N dies with N and no SessionEnd', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('x1', ['--settings', settings]);
    s.launch('x2', ['--settings', settings]);
    await s.ready('x1');
    await pollUntil(() => s.tmux.capture('x2').includes('❯ '), 'x2 prompt');
    s.tmux.keys('x1', 'C-c');
    await pollUntil(() => s.tmux.capture('x1').includes('Press Ctrl-C again to exit'), 'ctrl-c hint');
    s.tmux.keys('x1', 'C-c');
    expect(await s.exitStatus('x1')).toBe(0);
    expect(s.hookEvents('SessionEnd')).toHaveLength(1);

    await s.submit('x2', '#sim exit 3', '#sim exit 3');
    expect(await s.exitStatus('x2')).toBe(3);
    expect(s.hookEvents('SessionEnd')).toHaveLength(1);
  });

  it('CLAUDE_SIM_SCRIPT runs directives at startup (e.g. a crash on launch)', async () => {
    s = new SimScenario();
    const script = join(s.root, 'script.sim');
    writeFileSync(script, '#sim print starting up\n#sim exit 7\n');
    s.launch('k1', [], { CLAUDE_SIM_SCRIPT: script });
    expect(await s.exitStatus('k1')).toBe(7);
    expect(s.log('invocations').find((r) => r['type'] === 'exit')).toMatchObject({ code: 7, reason: 'directive' });
  });

  it('reads task files named in the prompt and follows their directives', async () => {
    s = new SimScenario();
    const task = join(s.work, '.agent-queue', 'dispatched', 'task-1.md');
    mkdirSync(join(s.work, '.agent-queue', 'dispatched'), { recursive: true });
    writeFileSync(task, '---\npriority: high\n---\nBuild the thing\n#sim write out/result.txt built\n');
    const settings = s.writeSettings('settings.json');
    s.launch('t1', ['--dangerously-skip-permissions', '--settings', settings]);
    await s.ready('t1');
    await s.submit('t1', `Work on task task-1: read "${task}" and do it.`, 'Work on task');
    await s.stopCount(1);
    expect(readFileSync(join(s.work, 'out/result.txt'), 'utf8')).toBe('built');
    expect(s.hookEvents('PreToolUse').map((e) => e['tool_name'])).toEqual(['Read', 'Write']);
  });

  it('without bypass permissions a Bash call waits on a permission dialog and fires Notification', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('d1', ['--settings', settings]);
    await s.ready('d1');
    await s.submit('d1', '#sim bash touch approved.txt', '#sim bash touch');
    await pollUntil(() => s.tmux.capture('d1').includes('Do you want to proceed?'), 'permission dialog');
    await pollUntil(() => s.hookEvents('Notification').some((e) => e['notification_type'] === 'permission_prompt') || undefined, 'permission Notification');
    expect(existsSync(join(s.work, 'approved.txt'))).toBe(false);
    s.tmux.keys('d1', '1');
    await s.stopCount(1);
    expect(existsSync(join(s.work, 'approved.txt'))).toBe(true);
  });
});

describe('claude-sim first-launch dialogs (CLAUDE_SIM_ENFORCE_TRUST=1)', () => {
  it('asks for folder trust and records it; refuses bypass mode unless the prompt is pre-seeded as skipped', async () => {
    s = new SimScenario();
    const settings = s.writeSettings('settings.json');
    s.launch('t1', ['--dangerously-skip-permissions', '--settings', settings], { CLAUDE_SIM_ENFORCE_TRUST: '1' });
    await pollUntil(() => s.tmux.capture('t1').includes('Do you trust the files in this folder?'), 'trust dialog');
    expect(s.hookEvents('SessionStart')).toHaveLength(0); // nothing runs before the dialog is answered
    s.tmux.keys('t1', '1');
    await pollUntil(() => s.tmux.capture('t1').includes('Bypass Permissions mode'), 'bypass warning');
    const state = JSON.parse(readFileSync(join(s.config, '.claude.json'), 'utf8')) as { projects: Record<string, { hasTrustDialogAccepted?: boolean }> };
    expect(state.projects[s.work]?.hasTrustDialogAccepted).toBe(true);
    s.tmux.keys('t1', 'Enter'); // the default answer is "No, exit"
    expect(await s.exitStatus('t1')).toBe(1);

    // Pre-seeded like the controller does: no dialog at all.
    writeFileSync(join(s.config, 'settings.json'), JSON.stringify({ skipDangerousModePermissionPrompt: true }));
    s.launch('t2', ['--dangerously-skip-permissions', '--settings', settings], { CLAUDE_SIM_ENFORCE_TRUST: '1' });
    await s.ready('t2');
    expect(s.tmux.capture('t2')).not.toContain('Do you trust');
  });
});

describe('claude-sim auth status', () => {
  it('exits 0 with JSON when an access token exists and 1 otherwise, without touching the credentials', async () => {
    s = new SimScenario();
    const out = await run(process.execPath, [SIM_JS, 'auth', 'status'], s.env(), s.work);
    expect(out.code).toBe(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ loggedIn: false });
    const creds = JSON.stringify({ claudeAiOauth: { accessToken: 'sk-ant-oat01-test', refreshToken: 'r', expiresAt: 1, scopes: [], subscriptionType: 'max' } });
    writeFileSync(join(s.config, '.credentials.json'), creds, { mode: 0o600 });
    const inn = await run(process.execPath, [SIM_JS, 'auth', 'status'], s.env(), s.work);
    expect(inn.code).toBe(0);
    expect(JSON.parse(inn.stdout)).toMatchObject({ loggedIn: true, subscriptionType: 'max' });
    expect(readFileSync(join(s.config, '.credentials.json'), 'utf8')).toBe(creds);
  });
});

describe('claude-sim environment for launched tools', () => {
  it('gives Bash tool calls CLAUDECODE=1 and CLAUDE_CODE_CHILD_SESSION (what a daemon started from an agent inherits)', async () => {
    s = new SimScenario();
    const r = await run(process.execPath, [SIM_JS, '--dangerously-skip-permissions', '-p', '#sim bash env | grep -E "^CLAUDE(CODE|_CODE_CHILD_SESSION)=" | sort > tool-env.txt'], cleanEnv({ CLAUDE_CONFIG_DIR: s.config }), s.work);
    expect(r.code).toBe(0);
    expect(readFileSync(join(s.work, 'tool-env.txt'), 'utf8')).toBe('CLAUDECODE=1\nCLAUDE_CODE_CHILD_SESSION=1\n');
  });
});
