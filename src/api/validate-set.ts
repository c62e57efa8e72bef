/**
 * Cross-object validation of a whole manifest set: duplicates, dangling references, accounts
 * sharing a config dir. Pure: it checks the manifests alone, never the host (a missing directory
 * is a controller condition, not a validation error).
 */
import type { AnyObject, Diagnostic, ManifestObject } from './objects.js';
import { keyOf } from './objects.js';
import type { Kind } from './schemas.js';
import { closest } from './suggest.js';
import { worktreeTarget } from './worktree.js';

function diag(obj: AnyObject, field: string, code: string, message: string): Diagnostic {
  const pos = obj.source.fields?.[field] ?? { line: obj.source.line, col: obj.source.col };
  return { file: obj.source.file, line: pos.line, col: pos.col, severity: 'error', code, message };
}

export function validateSet(objects: readonly AnyObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const names: Record<Kind, Map<string, AnyObject>> = {
    Account: new Map(), Project: new Map(), DelegationPolicy: new Map(), Session: new Map(), Notifier: new Map(),
  };
  for (const o of objects) {
    const seen = names[o.kind].get(o.metadata.name);
    if (seen) {
      out.push(diag(o, 'metadata.name', 'CF_MANIFEST_DUPLICATE', `duplicate ${keyOf(o)}: already defined at ${seen.source.file}:${seen.source.line}:${seen.source.col}`));
    } else {
      names[o.kind].set(o.metadata.name, o);
    }
  }
  const ref = (o: AnyObject, field: string, kind: Kind, name: string | undefined) => {
    if (name === undefined || names[kind].has(name)) return;
    const hint = closest(name, [...names[kind].keys()]);
    out.push(diag(o, field, 'CF_MANIFEST_DANGLING_REF', `${keyOf(o)} refers to ${kind} "${name}", which is not defined${hint ? ` (did you mean "${hint}"?)` : ''}`));
  };
  const configDirs = new Map<string, ManifestObject<'Account'>>();
  let activeLink: { path: string; obj: ManifestObject<'Account'> } | undefined;
  for (const o of objects) {
    switch (o.kind) {
      case 'Session':
        ref(o, 'spec.project', 'Project', o.spec.project);
        ref(o, 'spec.account', 'Account', o.spec.account);
        break;
      case 'Project':
        ref(o, 'spec.delegationPolicy', 'DelegationPolicy', o.spec.delegationPolicy);
        break;
      case 'DelegationPolicy':
        if (o.spec.defaultProvider !== undefined && !o.spec.providers.includes(o.spec.defaultProvider)) {
          out.push(diag(o, 'spec.defaultProvider', 'CF_MANIFEST_INVALID', `defaultProvider "${o.spec.defaultProvider}" is not one of providers (${o.spec.providers.join(', ')})`));
        }
        break;
      case 'Notifier':
        (o.spec.for ?? []).forEach((r, i) => {
          const [kind, name] = r.split('/') as [Kind, string];
          ref(o, `spec.for.${i}`, kind, name);
        });
        break;
      case 'Account': {
        const dir = o.spec.configDir.replace(/\/+$/, '');
        const other = configDirs.get(dir);
        if (other) {
          out.push(diag(o, 'spec.configDir', 'CF_MANIFEST_CONFIGDIR_CONFLICT', `Account/${o.metadata.name} uses configDir ${dir}, already used by Account/${other.metadata.name} (${other.source.file}:${other.source.line}:${other.source.col}); each account needs its own CLAUDE_CONFIG_DIR`));
        } else {
          configDirs.set(dir, o);
        }
        if (o.spec.activeLink !== undefined) {
          if (activeLink && activeLink.path !== o.spec.activeLink) {
            out.push(diag(o, 'spec.activeLink', 'CF_MANIFEST_INVALID', `activeLink ${o.spec.activeLink} differs from ${activeLink.path} set by Account/${activeLink.obj.metadata.name}: the pool has one active link`));
          } else if (!activeLink) {
            activeLink = { path: o.spec.activeLink, obj: o };
          }
        }
        break;
      }
    }
  }
  out.push(...worktreeConflicts(objects));
  return out;
}

/**
 * Sessions whose worktrees would collide: one path or one branch for two sessions (git checks a
 * branch out in one worktree only), or a worktree at the project checkout itself.
 */
function worktreeConflicts(objects: readonly AnyObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const projects = new Map<string, ManifestObject<'Project'>>();
  for (const o of objects) if (o.kind === 'Project') projects.set(o.metadata.name, o);
  const paths = new Map<string, ManifestObject<'Session'>>();
  const branches = new Map<string, ManifestObject<'Session'>>();
  const at = (o: AnyObject) => `${o.source.file}:${o.source.line}:${o.source.col}`;
  const field = (o: ManifestObject<'Session'>, f: string) => (o.source.fields?.[`spec.worktree.${f}`] ? `spec.worktree.${f}` : 'spec.worktree');
  for (const o of objects) {
    if (o.kind !== 'Session') continue;
    const project = projects.get(o.spec.project);
    const t = worktreeTarget(o, project);
    if (!t || !project) continue;
    const path = t.path.replace(/\/+$/, '');
    const top = project.spec.path.replace(/\/+$/, '');
    if (path === top || top.startsWith(`${path}/`)) {
      out.push(diag(o, field(o, 'path'), 'CF_MANIFEST_WORKTREE_CONFLICT', `Session/${o.metadata.name}: the worktree path ${path} is the project checkout ${top} (or contains it); choose another worktree.path`));
      continue;
    }
    const samePath = paths.get(path);
    if (samePath) out.push(diag(o, field(o, 'path'), 'CF_MANIFEST_WORKTREE_CONFLICT', `Session/${o.metadata.name}: worktree path ${path} is already the worktree of Session/${samePath.metadata.name} (${at(samePath)}); each session needs its own`));
    else paths.set(path, o);
    const branchKey = `${o.spec.project}\u0000${t.branch}`;
    const sameBranch = branches.get(branchKey);
    if (sameBranch) out.push(diag(o, field(o, 'branch'), 'CF_MANIFEST_WORKTREE_CONFLICT', `Session/${o.metadata.name}: branch ${t.branch} is already the worktree branch of Session/${sameBranch.metadata.name} (${at(sameBranch)}); git checks a branch out in one worktree only`));
    else branches.set(branchKey, o);
  }
  return out;
}
