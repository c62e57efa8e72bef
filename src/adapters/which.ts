/** Resolves a command name through PATH, as a shell would; undefined when not found. */
import { access, constants, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export async function resolveExecutable(command: string, pathEnv: string): Promise<string | undefined> {
  const candidates = command.includes('/') ? [isAbsolute(command) ? command : resolve(command)] : pathEnv.split(delimiter).filter(Boolean).map((d) => join(d, command));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if ((await stat(c)).isFile()) return c;
    } catch {
      // not here
    }
  }
  return undefined;
}
