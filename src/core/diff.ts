/** Field-level differences between two JSON values, from a JSON patch (RFC 6902). */
import jsonpatch from 'fast-json-patch';
import type { FieldDiff } from './plan.js';

const { compare, getValueByPointer } = jsonpatch;

export function fieldDiff(from: unknown, to: unknown): FieldDiff[] {
  const a = (from ?? {}) as object;
  const b = (to ?? {}) as object;
  const out: FieldDiff[] = [];
  for (const op of compare(a, b)) {
    if (op.op === 'add') leaves(op.path, op.value, (path, v) => out.push({ path, op: 'add', to: v }));
    else if (op.op === 'remove') leaves(op.path, getValueByPointer(a, op.path), (path, v) => out.push({ path, op: 'remove', from: v }));
    else if (op.op === 'replace') out.push({ path: op.path, op: 'replace', from: getValueByPointer(a, op.path), to: op.value });
  }
  return out.sort((x, y) => x.path.localeCompare(y.path));
}

/** Expands an added or removed object into one line per leaf, so plans show each field. */
function leaves(path: string, value: unknown, emit: (path: string, v: unknown) => void): void {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leaves(`${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, v, emit);
  } else {
    emit(path, value);
  }
}
