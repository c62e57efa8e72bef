/** Request validation with zod: unknown fields are rejected (400 CF_API_BAD_REQUEST). */
import { z } from 'zod';
import { ApiError } from './errors.js';

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: 'query' | 'body' | 'params'): z.infer<S> {
  // Only an absent body counts as `{}`; a JSON `null` is a body, and not an object.
  if (value === null) throw new ApiError('CF_API_BAD_REQUEST', `${where} must be a JSON object, not null`);
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => {
    const path = i.path.length > 0 ? i.path.join('.') : where;
    if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''} in ${where}: ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    return `${where === 'body' || path === where ? '' : `${where}.`}${path}: ${i.message}`;
  });
  throw new ApiError('CF_API_BAD_REQUEST', issues.join('; '));
}

/** An empty query (routes that take no parameters still reject unknown ones). */
export const emptyQuery = z.strictObject({});

export const nameParam = z.strictObject({
  name: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'not a valid object name'),
});

/** A positive integer given as a query string. */
export function intParam(max: number) {
  return z.coerce.number().int().min(1).max(max);
}

/** `Kind/name` (an object key). */
export const objectKey = z.string().regex(/^(Account|Project|DelegationPolicy|Session|Notifier)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?|\*)$/, 'must be Kind/name, e.g. Session/ccl-1');
