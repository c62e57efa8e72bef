/** Plain column tables for `get` (kubectl style). Pure. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** `3m`, `2h`, `5d` since `iso` (kubectl's AGE). */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '<none>';
  return span(now - Date.parse(iso));
}

/** `in 3m`, or `passed`, until `iso`. */
export function until(iso: string | undefined, now: number): string {
  if (!iso) return '<none>';
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? 'passed' : `in ${span(ms)}`;
}

function span(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
