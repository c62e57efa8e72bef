/** Reads the guard's audit log of a state dir as records (test helper). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditRecord } from '../../src/guard/audit.js';

export async function readAuditTail(stateDir: string): Promise<AuditRecord[]> {
  const text = await readFile(join(stateDir, 'audit', 'guard.jsonl'), 'utf8');
  return text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}
