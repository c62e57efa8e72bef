import { existsSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Claude Code's project folder name: the absolute cwd with every non-alphanumeric character replaced by `-`. */
export function encodeCwd(cwd: string): string {
  return resolve(cwd).replace(/[^a-zA-Z0-9]/g, '-');
}

export function configDirFrom(env: NodeJS.ProcessEnv): string {
  const dir = env['CLAUDE_CONFIG_DIR'];
  return dir !== undefined && dir !== '' ? resolve(dir) : join(homedir(), '.claude');
}

export interface SimPaths {
  configDir: string;
  simDir: string;
  invocationsLog: string;
  receivedLog: string;
  eventsLog: string;
  usageFile: string;
  projectsDir: string;
}

export function simPaths(configDir: string): SimPaths {
  const simDir = join(configDir, 'claude-sim');
  return {
    configDir,
    simDir,
    invocationsLog: join(simDir, 'invocations.jsonl'),
    receivedLog: join(simDir, 'received.jsonl'),
    eventsLog: join(simDir, 'events.jsonl'),
    usageFile: join(simDir, 'usage.json'),
    projectsDir: join(configDir, 'projects'),
  };
}

export function transcriptPathFor(configDir: string, cwd: string, sessionId: string): string {
  return join(configDir, 'projects', encodeCwd(cwd), `${sessionId}.jsonl`);
}

/**
 * The transcript `--resume <id>` continues: only the cwd's project folder, like the real CLI
 * (run from another directory it answers `No conversation found with session ID`).
 */
export function resumableTranscript(configDir: string, cwd: string, sessionId: string): string | undefined {
  const own = transcriptPathFor(configDir, cwd, sessionId);
  return existsSync(own) ? own : undefined;
}

/** Finds `<config>/projects/<any>/<id>.jsonl`, preferring the current project's folder (an id in use anywhere). */
export function findTranscript(configDir: string, cwd: string, sessionId: string): string | undefined {
  const own = transcriptPathFor(configDir, cwd, sessionId);
  if (existsSync(own)) return own;
  const projects = join(configDir, 'projects');
  let entries: string[];
  try {
    entries = readdirSync(projects);
  } catch {
    return undefined;
  }
  for (const entry of entries.sort()) {
    const candidate = join(projects, entry, `${sessionId}.jsonl`);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The most recently modified transcript of the cwd's project folder (`--continue`). */
export function latestTranscript(configDir: string, cwd: string): { path: string; sessionId: string } | undefined {
  const dir = join(configDir, 'projects', encodeCwd(cwd));
  let best: { path: string; sessionId: string; mtime: number } | undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of entries) {
    if (!name.endsWith('.jsonl')) continue;
    const path = join(dir, name);
    const mtime = statSync(path).mtimeMs;
    if (best === undefined || mtime > best.mtime) best = { path, sessionId: name.slice(0, -'.jsonl'.length), mtime };
  }
  return best === undefined ? undefined : { path: best.path, sessionId: best.sessionId };
}
