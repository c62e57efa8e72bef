import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface HookCommand {
  type: 'command';
  command: string;
  /** Seconds. */
  timeout?: number;
}
export interface HookGroup {
  matcher?: string;
  hooks: HookCommand[];
}
export type HooksConfig = Record<string, HookGroup[]>;

export interface StatusLineConfig {
  type: 'command';
  command: string;
  padding?: number;
}

export interface Settings {
  hooks?: HooksConfig;
  statusLine?: StatusLineConfig;
  env?: Record<string, string>;
  permissions?: { allow?: string[]; deny?: string[]; defaultMode?: string };
  disableAllHooks?: boolean;
  skipDangerousModePermissionPrompt?: boolean;
  model?: string;
}

export interface SettingsSource {
  /** user | project | local | flag | managed */
  scope: string;
  origin: string;
  settings: Settings;
}

export interface LoadedSettings {
  merged: Settings;
  sources: SettingsSource[];
  warnings: string[];
}

export class SettingsFileNotFoundError extends Error {
  readonly code = 'SIM_SETTINGS_NOT_FOUND';
}

function sanitize(raw: unknown): Settings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const r = raw as Record<string, unknown>;
  const out: Settings = {};
  if (typeof r['hooks'] === 'object' && r['hooks'] !== null) {
    const hooks: HooksConfig = {};
    for (const [event, groups] of Object.entries(r['hooks'] as Record<string, unknown>)) {
      if (!Array.isArray(groups)) continue;
      hooks[event] = groups.flatMap((g: unknown): HookGroup[] => {
        if (typeof g !== 'object' || g === null) return [];
        const gr = g as Record<string, unknown>;
        const list = Array.isArray(gr['hooks']) ? gr['hooks'] : [];
        const cmds = list.flatMap((h: unknown): HookCommand[] => {
          if (typeof h !== 'object' || h === null) return [];
          const hr = h as Record<string, unknown>;
          if (hr['type'] !== 'command' || typeof hr['command'] !== 'string') return [];
          const t = hr['timeout'];
          return [typeof t === 'number' && t > 0 ? { type: 'command', command: hr['command'], timeout: t } : { type: 'command', command: hr['command'] }];
        });
        const matcher = typeof gr['matcher'] === 'string' ? gr['matcher'] : undefined;
        return [matcher === undefined ? { hooks: cmds } : { matcher, hooks: cmds }];
      });
    }
    out.hooks = hooks;
  }
  const sl = r['statusLine'];
  if (typeof sl === 'object' && sl !== null && typeof (sl as Record<string, unknown>)['command'] === 'string') {
    out.statusLine = { type: 'command', command: (sl as Record<string, string>)['command'] ?? '' };
  }
  if (typeof r['env'] === 'object' && r['env'] !== null) {
    out.env = Object.fromEntries(Object.entries(r['env'] as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }
  if (typeof r['permissions'] === 'object' && r['permissions'] !== null) {
    const p = r['permissions'] as Record<string, unknown>;
    const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
    const allow = strings(p['allow']);
    const deny = strings(p['deny']);
    out.permissions = {};
    if (allow !== undefined) out.permissions.allow = allow;
    if (deny !== undefined) out.permissions.deny = deny;
    if (typeof p['defaultMode'] === 'string') out.permissions.defaultMode = p['defaultMode'];
  }
  if (typeof r['disableAllHooks'] === 'boolean') out.disableAllHooks = r['disableAllHooks'];
  if (typeof r['skipDangerousModePermissionPrompt'] === 'boolean') out.skipDangerousModePermissionPrompt = r['skipDangerousModePermissionPrompt'];
  if (typeof r['model'] === 'string') out.model = r['model'];
  return out;
}

/**
 * Merges sources given from lowest to highest precedence (user, project, local, flag, managed):
 * hook lists concatenate; scalar settings and `statusLine` take the highest source that sets them;
 * `env` and permission lists merge.
 */
export function mergeSettings(sources: readonly Settings[]): Settings {
  const merged: Settings = {};
  for (const s of sources) {
    if (s.hooks !== undefined) {
      merged.hooks ??= {};
      for (const [event, groups] of Object.entries(s.hooks)) merged.hooks[event] = [...(merged.hooks[event] ?? []), ...groups];
    }
    if (s.statusLine !== undefined) merged.statusLine = s.statusLine;
    if (s.env !== undefined) merged.env = { ...(merged.env ?? {}), ...s.env };
    if (s.permissions !== undefined) {
      const p = merged.permissions ?? {};
      merged.permissions = {
        allow: [...(p.allow ?? []), ...(s.permissions.allow ?? [])],
        deny: [...(p.deny ?? []), ...(s.permissions.deny ?? [])],
        ...(s.permissions.defaultMode !== undefined ? { defaultMode: s.permissions.defaultMode } : p.defaultMode !== undefined ? { defaultMode: p.defaultMode } : {}),
      };
    }
    if (s.disableAllHooks !== undefined) merged.disableAllHooks = s.disableAllHooks;
    if (s.skipDangerousModePermissionPrompt !== undefined) merged.skipDangerousModePermissionPrompt = s.skipDangerousModePermissionPrompt;
    if (s.model !== undefined) merged.model = s.model;
  }
  return merged;
}

/**
 * Matcher semantics: absent, `""` and `*` match everything; a plain word list (`Edit|Write`) matches
 * exactly; anything else is a regular expression that must match the whole value.
 */
export function matcherMatches(matcher: string | undefined, value: string | undefined): boolean {
  if (matcher === undefined || matcher === '' || matcher === '*') return true;
  if (value === undefined) return false;
  if (/^[A-Za-z0-9_|]+$/.test(matcher)) return matcher.split('|').includes(value);
  try {
    return new RegExp(`^(?:${matcher})$`).test(value);
  } catch {
    return false;
  }
}

export function hooksFor(settings: Settings, event: string, matchValue: string | undefined): HookCommand[] {
  if (settings.disableAllHooks === true) return [];
  const groups = settings.hooks?.[event] ?? [];
  const seen = new Set<string>();
  const out: HookCommand[] = [];
  for (const g of groups) {
    if (!matcherMatches(g.matcher, matchValue)) continue;
    for (const h of g.hooks) {
      if (seen.has(h.command)) continue; // identical commands run once, like Claude Code
      seen.add(h.command);
      out.push(h);
    }
  }
  return out;
}

function readJsonFile(path: string, warnings: string[]): Settings | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return sanitize(JSON.parse(text));
  } catch (e) {
    warnings.push(`Settings error: ${path}: invalid JSON (${(e as Error).message}); file ignored`);
    return undefined;
  }
}

export interface LoadSettingsOptions {
  configDir: string;
  cwd: string;
  flagValues: readonly string[];
  managedPath: string | undefined;
}

export function loadSettings(opts: LoadSettingsOptions): LoadedSettings {
  const warnings: string[] = [];
  const sources: SettingsSource[] = [];
  const addFile = (scope: string, path: string): void => {
    const s = readJsonFile(path, warnings);
    if (s !== undefined) sources.push({ scope, origin: path, settings: s });
  };
  addFile('user', join(opts.configDir, 'settings.json'));
  addFile('project', join(opts.cwd, '.claude', 'settings.json'));
  addFile('local', join(opts.cwd, '.claude', 'settings.local.json'));
  for (const value of opts.flagValues) {
    if (value.trimStart().startsWith('{')) {
      try {
        sources.push({ scope: 'flag', origin: '--settings (inline)', settings: sanitize(JSON.parse(value)) });
      } catch (e) {
        warnings.push(`Settings error: --settings: invalid JSON (${(e as Error).message}); ignored`);
      }
      continue;
    }
    const path = resolve(opts.cwd, value);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new SettingsFileNotFoundError(`Error: Settings file not found: ${path}`);
    }
    try {
      sources.push({ scope: 'flag', origin: path, settings: sanitize(JSON.parse(text)) });
    } catch (e) {
      warnings.push(`Settings error: ${path}: invalid JSON (${(e as Error).message}); file ignored`);
    }
  }
  if (opts.managedPath !== undefined && opts.managedPath !== '') addFile('managed', opts.managedPath);
  return { merged: mergeSettings(sources.map((s) => s.settings)), sources, warnings };
}
