/**
 * Where Claude Code keeps things inside a CLAUDE_CONFIG_DIR: conversations as
 * `projects/<cwd, every non-alphanumeric character as ->/<conversation id>.jsonl`, and the other
 * paths below. Pure.
 */
import { posix } from 'node:path';

/** The project folder name: the absolute cwd with every non-alphanumeric character replaced by `-`. */
export function encodeCwd(cwd: string): string {
  return cwd.replace(/[^a-zA-Z0-9]/g, '-');
}

export function transcriptPath(configDir: string, cwd: string, conversationId: string): string {
  return posix.join(configDir, 'projects', encodeCwd(cwd), `${conversationId}.jsonl`);
}

export function credentialsPath(configDir: string): string {
  return posix.join(configDir, '.credentials.json');
}

export function claudeJsonPath(configDir: string): string {
  return posix.join(configDir, '.claude.json');
}

export function userSettingsPath(configDir: string): string {
  return posix.join(configDir, 'settings.json');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isConversationId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}
