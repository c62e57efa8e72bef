import { formatDiagnostic } from '../../api/objects.js';
import { loadManifests } from '../../adapters/manifest-files.js';
import { COMMON, oneOf, parse, requireFiles } from '../args.js';
import type { CliIO } from '../io.js';

const HELP = `Usage: claude-failover validate -f PATH... [-o text|json]

Checks manifests without touching the host: YAML syntax, fields and types, unknown fields,
durations, duplicate names, references between objects, accounts sharing a config dir.
Every problem is printed as FILE:LINE:COL: message. Host facts (missing directories,
diverged links) are reported by the controllers as conditions, not here.

Options:
  -f, --filename PATH   Manifest file or directory (recursive *.yaml/*.yml); repeatable
  -o, --output FORMAT   text (default) or json

Exit codes: 0 valid, 1 invalid (or a usage error).

Examples:
  claude-failover validate -f manifests/
  claude-failover validate -f accounts.yaml -f sessions.yaml -o json
`;

export async function validateCommand(args: string[], io: CliIO): Promise<number> {
  const { values } = parse<{ help?: boolean; filename?: string[]; output?: string }>(args, { filename: COMMON.filename, output: { type: 'string', short: 'o' } });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const output = oneOf('--output', values.output, ['text', 'json'] as const, 'text');
  const files = requireFiles(values.filename, io);
  const r = await loadManifests(files, { displayBase: io.cwd, gitRevision: false });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (output === 'json') {
    const counts: Record<string, number> = {};
    for (const o of r.objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
    io.stdout.write(`${JSON.stringify({ valid: errors.length === 0, objects: counts, files: r.files.length, skippedFiles: r.skippedFiles, diagnostics: r.diagnostics }, null, 2)}\n`);
    return errors.length === 0 ? 0 : 1;
  }
  for (const d of r.diagnostics) io.stderr.write(`${formatDiagnostic(d)}\n`);
  if (errors.length > 0) {
    io.stderr.write(`\n${errors.length} problem${errors.length === 1 ? '' : 's'} found; nothing is valid until all are fixed.\n`);
    return 1;
  }
  const counts = new Map<string, number>();
  for (const o of r.objects) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
  const summary = [...counts].map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`).join(', ');
  io.stdout.write(`valid: ${r.objects.length} object${r.objects.length === 1 ? '' : 's'} (${summary || 'none'}) in ${r.files.length - r.skippedFiles.length} file(s)${r.skippedFiles.length ? `; ${r.skippedFiles.length} non-manifest YAML file(s) skipped` : ''}\n`);
  return 0;
}
