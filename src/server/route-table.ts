/**
 * The methods each path of the API is served with, for `405 Method Not Allowed` (with `Allow`):
 * fastify only knows "no route for this method and path" (404). Routes are recorded from the
 * `onRoute` hook; a pattern's `:param` matches one path segment, `*` the rest of the path.
 */
export class RouteTable {
  readonly #routes: { pattern: RegExp; methods: Set<string> }[] = [];
  readonly #byUrl = new Map<string, { pattern: RegExp; methods: Set<string> }>();

  add(method: string | readonly string[], url: string): void {
    let entry = this.#byUrl.get(url);
    if (!entry) {
      entry = { pattern: patternOf(url), methods: new Set() };
      this.#byUrl.set(url, entry);
      this.#routes.push(entry);
    }
    for (const m of typeof method === 'string' ? [method] : method) entry.methods.add(m.toUpperCase());
  }

  /** Methods served on `path` (no query), sorted; empty when no route matches the path. */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.#routes) if (r.pattern.test(path)) for (const m of r.methods) out.add(m);
    if (out.has('GET')) out.add('HEAD');
    return [...out].sort();
  }
}

function patternOf(url: string): RegExp {
  const parts = url.split('/').map((seg) => {
    if (seg === '*') return '.*';
    if (seg.startsWith(':')) return '[^/]+';
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join("/")}$`);
}
