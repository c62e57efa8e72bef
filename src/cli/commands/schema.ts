import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { jsonSchemas, schemaFileName } from '../../api/json-schema.js';
import { KINDS, type Kind } from '../../api/schemas.js';
import { parse } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover schema [-d DIR] [--kind KIND]

Writes one JSON Schema per manifest kind (account.schema.json, session.schema.json, ...) so
that editors validate manifests as you type. Without -d, prints them as one JSON object.

Editors using yaml-language-server pick a schema from a modeline at the top of a file:
  # yaml-language-server: $schema=./schemas/session.schema.json

Options:
  -d, --dir DIR     Write the files into DIR (created when missing)
      --kind KIND   Only this kind (${KINDS.join(', ')})

Examples:
  claude-failover schema -d schemas/
  claude-failover schema --kind Session > session.schema.json
`;

export async function schemaCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; dir?: string; kind?: string }>(args, { dir: { type: 'string', short: 'd' }, kind: { type: 'string' } });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const all = jsonSchemas();
  let kinds: readonly Kind[] = KINDS;
  if (values.kind) {
    const k = KINDS.find((x) => x.toLowerCase() === values.kind?.toLowerCase());
    if (!k) {
      io.stderr.write(`claude-failover schema: unknown kind ${values.kind}; one of ${KINDS.join(', ')}\n`);
      return 1;
    }
    kinds = [k];
  }
  if (!values.dir) {
    const out = kinds.length === 1 ? all[kinds[0] as Kind] : Object.fromEntries(kinds.map((k) => [k, all[k]]));
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return 0;
  }
  const dir = resolve(io.cwd, values.dir);
  await mkdir(dir, { recursive: true });
  for (const k of kinds) {
    const file = join(dir, schemaFileName(k));
    await writeFile(file, `${JSON.stringify(all[k], null, 2)}\n`);
    io.stdout.write(`wrote ${file}\n`);
  }
  return 0;
}
