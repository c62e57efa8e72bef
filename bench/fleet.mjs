// Generates a fleet of manifests and queued task files for benchmarks.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loginAccount } from './lib/login.mjs';

/** accounts, sessions, projects, tasks: counts. Returns the manifests dir. */
export function generateFleet(root, { accounts, sessions, projects, tasks }) {
  const m = join(root, 'manifests');
  mkdirSync(m, { recursive: true });
  const docs = [];
  for (let i = 0; i < accounts; i++) {
    loginAccount(join(root, 'accounts', `acct-${i}`));
    docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Account\nmetadata:\n  name: acct-${i}\nspec:\n  configDir: ${root}/accounts/acct-${i}\n  priority: ${i * 10}\n  sharedStateDir: ${root}/shared\n  quota:\n    usageEndpoint: http://127.0.0.1:9/api/oauth/usage\n`);
  }
  writeFileSync(join(m, 'accounts.yaml'), docs.join('---\n'));
  docs.length = 0;
  for (let i = 0; i < projects; i++) docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Project\nmetadata:\n  name: proj-${i}\nspec:\n  path: ${root}/projects/proj-${i}\n`);
  writeFileSync(join(m, 'projects.yaml'), docs.join('---\n'));
  docs.length = 0;
  for (let i = 0; i < sessions; i++) docs.push(`apiVersion: claudefailover.io/v1alpha1\nkind: Session\nmetadata:\n  name: ccl-${i}\nspec:\n  project: proj-${i % projects}\n  command: ["claude", "--dangerously-skip-permissions"]\n`);
  writeFileSync(join(m, 'sessions.yaml'), docs.join('---\n'));
  for (let p = 0; p < projects; p++) {
    const inbox = join(root, 'projects', `proj-${p}`, '.agent-queue', 'inbox');
    mkdirSync(inbox, { recursive: true });
  }
  for (let t = 0; t < tasks; t++) {
    const p = t % projects;
    const inbox = join(root, 'projects', `proj-${p}`, '.agent-queue', 'inbox');
    const body = t % 3 === 0 ? `---\npriority: ${['high', 'normal', 'low'][t % 3]}\n---\n# Task ${t}\n\nDo thing ${t}.\n` : `# Task ${t}\n\nDo thing ${t}.\n`;
    writeFileSync(join(inbox, `task-${String(t).padStart(6, '0')}.md`), body);
  }
  return m;
}
