/**
 * Path facts for the policy: normalisation (cwd, `..`, `~`), and classification of a target as
 * critical (never delete recursively), protected (never write), or a block device.
 *
 * Values that the guard cannot know statically are carried inside strings as markers:
 * - MARK_EMPTYABLE: a parameter expansion of an unknown variable (may be empty);
 * - MARK_ANY: output of a command, of xargs input, ... (anything, including `/`);
 * - MARK_NONEMPTY: an unknown but non-empty name (`${X:?}`, a file matched by `find -name`).
 */
import { posix } from 'node:path';

export const MARK_EMPTYABLE = '\uE000';
export const MARK_ANY = '\uE001';
export const MARK_NONEMPTY = '\uE002';
const MARKS = /[\uE000-\uE002]/;

export function hasMarker(s: string): boolean {
  return MARKS.test(s);
}

/** Renders a value for a human: markers become `$?`, control characters are escaped. */
export function display(s: string, max = 120): string {
  let out = s.replace(/\uE000|\uE001|\uE002/g, '…');
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  out = out.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/** Facts about the machine the paths are resolved against. */
export interface PathEnv {
  home: string | null;
  tmpdir: string | null;
  project: string | null;
  configDir: string | null;
  extraProtected: readonly string[];
  /** Files agents may not read (the control-plane token, the controller's secrets). Absolute. */
  secrets: readonly string[];
}

/**
 * Resolves `p` against `cwd` and normalises `.`/`..`/`//`. Returns null when the path is relative and
 * the cwd is unknown. The worst case for an empty-able unknown is that it is empty: callers replace
 * MARK_EMPTYABLE before calling when they want that reading.
 */
export function resolvePath(p: string, cwd: string | null): string | null {
  if (p === '') return null;
  if (p.startsWith('/')) return normalize(p);
  if (cwd === null) return null;
  return normalize(`${cwd}/${p}`);
}

export function normalize(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function isUnder(p: string, dir: string): boolean {
  if (dir === '/') return p.startsWith('/');
  return p === dir || p.startsWith(`${dir}/`);
}

const SYSTEM_TOP = new Set([
  '/etc', '/var', '/usr', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/opt', '/srv', '/root', '/home',
  '/dev', '/proc', '/sys', '/run', '/snap', '/mnt', '/media', '/tmp', '/nix', '/System', '/Library', '/Applications', '/Users', '/private',
]);
/** Whole subtrees where any recursive delete is denied. */
const SYSTEM_SUBTREES = ['/etc', '/boot', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/dev', '/proc', '/sys'];
/** Directories whose direct children are critical (`/usr/lib`, `/var/log`, `/home/alice`). */
const CRITICAL_CHILDREN_OF = new Set(['/usr', '/var', '/home', '/Users', '/snap', '/nix']);
const TEMP_CHILD_OK = new Set(['/var/tmp']);
const HOME_CRITICAL_CHILDREN = ['.ssh', '.gnupg', '.claude', '.config', '.local'];

/** Why deleting `p` recursively is catastrophic, or null when it is not. `p` is absolute and normalised. */
export function criticalReason(p: string, env: PathEnv): string | null {
  if (p === '/') return 'the filesystem root';
  if (env.home !== null) {
    if (p === env.home) return 'your home directory';
    if (isUnder(env.home, p)) return `a parent of your home directory (${p})`;
    for (const c of HOME_CRITICAL_CHILDREN) if (p === `${env.home}/${c}`) return `~/${c}`;
  }
  if (SYSTEM_TOP.has(p)) return `the system directory ${p}`;
  for (const d of SYSTEM_SUBTREES) if (isUnder(p, d)) return `system files under ${d}`;
  const parent = posix.dirname(p);
  if (CRITICAL_CHILDREN_OF.has(parent) && !TEMP_CHILD_OK.has(p)) return `the system directory ${p}`;
  if (env.project !== null) {
    if (p === env.project) return 'the project root';
    if (isUnder(env.project, p)) return `a parent of the project root (${p})`;
  }
  if (env.configDir !== null && (p === env.configDir || isUnder(env.configDir, p))) return 'the Claude Code config directory';
  for (const x of env.extraProtected) {
    if (p === x || isUnder(x, p)) return `the controller's protected path ${x}`;
  }
  return null;
}

/**
 * Whether a child of `dir` with an unknown name could be critical (`/<x>` could be `/etc`).
 */
export function unknownChildCritical(dir: string, env: PathEnv): string | null {
  if (dir === '/') return 'an unknown directory at the filesystem root (it could be /etc or /usr)';
  if (CRITICAL_CHILDREN_OF.has(dir)) return `an unknown system directory under ${dir}`;
  for (const d of SYSTEM_SUBTREES) if (isUnder(dir, d)) return `system files under ${d}`;
  if (SYSTEM_TOP.has(dir) && dir !== '/tmp' && dir !== '/mnt' && dir !== '/media' && dir !== '/opt' && dir !== '/srv') {
    return `an unknown directory under ${dir}`;
  }
  if (env.home !== null && posix.dirname(env.home) === dir) return `an unknown home directory under ${dir}`;
  return null;
}

const RC_FILES = [
  '.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.bash_aliases', '.profile', '.zshrc', '.zshenv', '.zprofile',
  '.zlogin', '.zlogout', '.kshrc', '.mkshrc', '.cshrc', '.tcshrc', '.login', '.logout', '.xprofile', '.xsession', '.xinitrc', '.inputrc',
  '.config/fish/config.fish', '.config/fish/conf.d', '.config/fish/functions', '.config/environment.d',
];
/** Persistence points in every user's home (`~`, `/root`, `/home/<user>`, `/Users/<user>`). */
const HOME_PROTECTED = [...RC_FILES, '.ssh/authorized_keys', '.ssh/authorized_keys2', '.ssh/rc', '.ssh/environment', '.config/systemd/user', '.config/autostart', '.local/share/systemd/user'];
const SYSTEM_PROTECTED = [
  '/etc/sudoers', '/etc/sudoers.d', '/etc/systemd', '/etc/claude-code', '/etc/profile', '/etc/profile.d', '/etc/bash.bashrc',
  '/etc/bashrc', '/etc/zsh', '/etc/zshrc', '/etc/zprofile', '/etc/zshenv', '/etc/environment', '/etc/ld.so.preload', '/etc/ld.so.conf', '/etc/ld.so.conf.d',
  '/etc/crontab', '/etc/cron.d', '/etc/cron.hourly', '/etc/cron.daily', '/etc/cron.weekly', '/etc/cron.monthly', '/etc/anacrontab',
  '/var/spool/cron', '/etc/pam.d', '/etc/security', '/etc/passwd', '/etc/shadow', '/etc/group', '/etc/gshadow', '/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d',
  '/etc/init.d', '/etc/rc.local', '/etc/xdg/autostart', '/etc/update-motd.d', '/etc/apt/apt.conf.d', '/etc/modprobe.d', '/etc/udev/rules.d',
  '/lib/systemd/system', '/usr/lib/systemd/system', '/usr/lib/systemd/user', '/run/systemd/system', '/etc/polkit-1',
];

/**
 * Unknown parts that could spell a protected name. MARK_NONEMPTY (a `${X:?}` value, a file matched by
 * `find`) is not counted: treating every unknown name as `.claude` would block routine clean-ups.
 */
function wildMarker(s: string): boolean {
  return s.includes(MARK_EMPTYABLE) || s.includes(MARK_ANY);
}

/**
 * A matcher for one path segment with wildcards (`*`, `?`, unknown markers as `*`; bracket expressions
 * are replaced by `?` by the callers). Wildcard matching without backtracking (O(pattern × name)):
 * a pattern crafted with many stars cannot make the guard slow.
 */
function globToRegExp(seg: string): { test(name: string): boolean } {
  const p = seg.replace(/[\uE000\uE001]/g, '*');
  // A glob does not match a leading dot unless it spells one (bash without dotglob).
  const noDot = /^[*?[]/.test(seg);
  return { test: (name: string): boolean => !(noDot && name.startsWith('.')) && wildcardMatch(p, name) };
}

/** `*` any run, `?` any one character, everything else literal. */
export function wildcardMatch(p: string, t: string): boolean {
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < t.length) {
    if (i < p.length && (p[i] === '?' || p[i] === t[j])) { i++; j++; }
    else if (i < p.length && p[i] === '*') { star = i++; mark = j; }
    else if (star >= 0) { i = star + 1; j = ++mark; }
    else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

/** Segment-wise match of a (possibly globbed) path against a concrete protected path. */
function couldMatch(pathSegs: string[], targetSegs: string[], glob: boolean): boolean {
  if (pathSegs.length !== targetSegs.length) return false;
  for (let i = 0; i < pathSegs.length; i++) {
    const a = pathSegs[i] as string;
    const b = targetSegs[i] as string;
    if (a === b) continue;
    if ((glob && /[*?[]/.test(a)) || wildMarker(a)) {
      if (!globToRegExp(a.replace(/\[[^\]]*\]/g, '?')).test(b)) return false;
      continue;
    }
    return false;
  }
  return true;
}

function segs(p: string): string[] {
  return p.split('/').filter((s) => s.length > 0);
}

export interface ProtectedHit {
  /** The protected thing, for the deny reason. */
  what: string;
}

/** Concrete protected paths (absolute) for this environment. */
export function protectedList(env: PathEnv): string[] {
  const out: string[] = [...SYSTEM_PROTECTED];
  if (env.home !== null) for (const f of HOME_PROTECTED) out.push(`${env.home}/${f}`);
  if (env.configDir !== null) {
    out.push(`${env.configDir}/settings.json`, `${env.configDir}/settings.local.json`, `${env.configDir}/hooks`);
  }
  out.push(...env.extraProtected);
  return out;
}

/** Pattern rule: any `.claude/settings*.json` or anything under `.claude/hooks/`, wherever it is. */
function claudeDirHit(pathSegs: string[], glob: boolean, includeAncestors: boolean): string | null {
  for (let i = 0; i < pathSegs.length; i++) {
    const s = pathSegs[i] as string;
    const isClaude = s === '.claude' || ((glob && /[*?[]/.test(s)) || wildMarker(s) ? globToRegExp(s).test('.claude') : false);
    if (!isClaude) continue;
    const next = pathSegs[i + 1];
    if (next === undefined) {
      if (includeAncestors) return 'the .claude directory (it holds the hook settings)';
      continue;
    }
    const rest = pathSegs.length - i - 1;
    const wild = (glob && /[*?[]/.test(next)) || wildMarker(next);
    if (rest === 1 && (/^settings.*\.json$/.test(next) || (wild && (globToRegExp(next).test('settings.json') || globToRegExp(next).test('settings.local.json'))))) {
      return `.claude/${next === 'settings.json' || next === 'settings.local.json' ? next : 'settings*.json'}`;
    }
    if (next === 'hooks' || (wild && globToRegExp(next).test('hooks'))) return '.claude/hooks/';
  }
  return null;
}

/**
 * Whether writing/creating `p` touches a protected path. With `includeAncestors`, deleting or moving
 * a directory that contains a protected path also counts (used for rm/mv/chmod).
 */
export function protectedHit(p: string, env: PathEnv, glob: boolean, includeAncestors: boolean): ProtectedHit | null {
  const ps = segs(p);
  const pattern = claudeDirHit(ps, glob, includeAncestors) ?? sshDirHit(ps, glob, includeAncestors);
  if (pattern !== null) return { what: pattern };
  if (!p.startsWith('/')) return null;
  const wild = glob || wildMarker(p);
  const home = otherHomeHit(ps, glob || wild, includeAncestors);
  if (home !== null) return { what: home };
  // /etc/sudoers*: any file whose name starts with sudoers
  if (ps[0] === 'etc' && ps[1] !== undefined && /^sudoers/.test(ps[1])) return { what: '/etc/sudoers*' };
  for (const t of protectedList(env)) {
    const ts = segs(t);
    if (p === t || isUnder(p, t)) return { what: displayProtected(t, env) };
    if (includeAncestors && isUnder(t, p) && p !== '/') return { what: displayProtected(t, env) };
    if (wild) {
      for (let n = 1; n <= ts.length; n++) {
        if (ps.length === n && couldMatch(ps, ts.slice(0, n), true) && (n === ts.length || includeAncestors)) return { what: displayProtected(t, env) };
      }
      if (ps.length > ts.length && couldMatch(ps.slice(0, ts.length), ts, true)) return { what: displayProtected(t, env) };
    }
  }
  return null;
}

function segMatches(seg: string, name: string, glob: boolean): boolean {
  if (seg === name) return true;
  if ((glob && /[*?[]/.test(seg)) || wildMarker(seg)) return globToRegExp(seg.replace(/\[[^\]]*\]/g, '?')).test(name);
  return false;
}

/** Any user's `.ssh/authorized_keys*`, `.ssh/rc`, `.ssh/environment`, wherever the home is. */
function sshDirHit(ps: string[], glob: boolean, includeAncestors: boolean): string | null {
  for (let i = 0; i < ps.length; i++) {
    if (!segMatches(ps[i] as string, '.ssh', glob)) continue;
    const next = ps[i + 1];
    if (next === undefined) {
      if (includeAncestors && ps[i] === '.ssh') return '.ssh (it holds authorized_keys)';
      continue;
    }
    if (/^authorized_keys/.test(next) || next === 'rc' || next === 'environment') return `.ssh/${next}`;
    if (segMatches(next, 'authorized_keys', glob) || segMatches(next, 'authorized_keys2', glob) || segMatches(next, 'rc', glob) || segMatches(next, 'environment', glob)) return '.ssh/authorized_keys';
  }
  return null;
}

/** Shell start-up files and user units in any user's home: /root, /home/<user>, /Users/<user>, /var/root. */
function otherHomeHit(ps: string[], glob: boolean, includeAncestors: boolean): string | null {
  let base = 0;
  if (segMatches(ps[0] ?? '', 'root', glob) && ps[0] !== 'home') base = 1;
  else if ((segMatches(ps[0] ?? '', 'home', glob) || segMatches(ps[0] ?? '', 'Users', glob)) && ps.length >= 2) base = 2;
  else if (ps[0] === 'var' && segMatches(ps[1] ?? '', 'root', glob)) base = 2;
  if (base === 0) return null;
  const rest = ps.slice(base);
  for (const item of HOME_PROTECTED) {
    const is = item.split('/');
    if (rest.length >= is.length && is.every((x, k) => segMatches(rest[k] as string, x, glob))) return `${item} of a user's home`;
    if (includeAncestors && rest.length > 0 && rest.length < is.length && rest.every((x, k) => segMatches(x, is[k] as string, glob))) return `${item} of a user's home`;
  }
  return null;
}

/**
 * Whether reading `p` may read a secret (the control-plane token, …): `p` is one, or a pattern that
 * may match one, or — with `recursive` — a directory that holds one.
 */
export function secretHit(p: string, env: PathEnv, glob: boolean, recursive: boolean): string | null {
  if (env.secrets.length === 0 || !p.startsWith('/')) return null;
  const ps = segs(p);
  const wild = glob || /[\uE000-\uE002]/.test(p);
  for (const s of env.secrets) {
    if (p === s) return s;
    if (recursive && p !== '/' && isUnder(s, p)) return s;
    if (recursive && p === '/') return s;
    if (wild) {
      const ss = segs(s);
      const unknownLeaf = (x: string): boolean => /[\uE000-\uE002]/.test(x) || (glob && /[*?[]/.test(x));
      if (ps.length === ss.length && ps.every((x, k) => x === ss[k] || (unknownLeaf(x) && globToRegExp(x.replace(/\[[^\]]*\]/g, '?').replace(/\uE002/g, '*')).test(ss[k] as string)))) return s;
      if (recursive && ps.length < ss.length && ps.every((x, k) => x === ss[k] || unknownLeaf(x))) return s;
    }
  }
  return null;
}

function displayProtected(t: string, env: PathEnv): string {
  if (env.home !== null && isUnder(t, env.home)) return `~${t.slice(env.home.length)}`;
  return t;
}

const BLOCK_DEVICE = /^\/dev\/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|loop\d|dm-\d|md\d|sr\d|nbd\d|zd\d|rbd\d|bcache\d|mapper\/|disk|rdisk\d|mem$|kmem$|port$)/;

/** A block device or raw memory device: writing it destroys data. */
export function isBlockDevice(p: string): boolean {
  return BLOCK_DEVICE.test(p);
}

export function isTempPath(p: string, env: PathEnv): boolean {
  if (isUnder(p, '/tmp') && p !== '/tmp') return true;
  if (isUnder(p, '/var/tmp') && p !== '/var/tmp') return true;
  return env.tmpdir !== null && isUnder(p, env.tmpdir) && p !== env.tmpdir;
}
