/** JSON Schema per kind, for editors (yaml-language-server) and docs. */
import { z } from 'zod';
import { API_VERSION, KINDS, objectSchema, type Kind } from './schemas.js';

export function jsonSchemaFor(kind: Kind): Record<string, unknown> {
  const schema = z.toJSONSchema(objectSchema(kind), { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    ...schema,
    $id: `https://claudefailover.io/schemas/${API_VERSION}/${kind.toLowerCase()}.json`,
    title: `${kind} (${API_VERSION})`,
  };
}

export function jsonSchemas(): Record<Kind, Record<string, unknown>> {
  return Object.fromEntries(KINDS.map((k) => [k, jsonSchemaFor(k)])) as Record<Kind, Record<string, unknown>>;
}

export function schemaFileName(kind: Kind): string {
  return `${kind.toLowerCase()}.schema.json`;
}
