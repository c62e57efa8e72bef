/** Renders a Plan as terraform-style text. The text is derived from the Plan object only. */
import type { Change, FieldDiff, Plan } from '../core/plan.js';

export interface RenderOptions {
  color?: boolean;
}

const SYMBOL: Record<Change['action'], string> = { create: '+', update: '~', delete: '-', replace: '-/+' };
const PHRASE: Record<Change['action'], string> = {
  create: 'will be created',
  update: 'will be updated in-place',
  delete: 'will be destroyed',
  replace: 'must be replaced',
};
const COLOR: Record<Change['action'], string> = { create: '32', update: '33', delete: '31', replace: '35' };

function paint(on: boolean, code: string, s: string): string {
  return on ? `\u001b[${code}m${s}\u001b[0m` : s;
}

function value(v: unknown): string {
  if (v === undefined) return '(known after apply)';
  return JSON.stringify(v);
}

function diffLines(diff: readonly FieldDiff[], color: boolean): string[] {
  const width = Math.max(...diff.map((d) => d.path.length));
  return diff.map((d) => {
    const name = d.path.replace(/^\//, '').replaceAll('/', '.').padEnd(Math.max(0, width - 1));
    if (d.op === 'add') return `      ${paint(color, '32', '+')} ${name} = ${value(d.to)}`;
    if (d.op === 'remove') return `      ${paint(color, '31', '-')} ${name} = ${value(d.from)} -> null`;
    return `      ${paint(color, '33', '~')} ${name} = ${value(d.from)} -> ${value(d.to)}`;
  });
}

export function renderPlanText(plan: Plan, opts: RenderOptions = {}): string {
  const color = opts.color ?? false;
  const out: string[] = [];
  if (plan.drift.length > 0) {
    out.push('Objects have changed outside of claude-failover:', '');
    for (const d of plan.drift) out.push(`  ${paint(color, '1', d.key)}: ${d.message}`);
    out.push('');
  }
  if (plan.changes.length === 0) {
    out.push(paint(color, '1;32', 'No changes.') + ' Actual state matches the manifests.');
  } else {
    out.push(
      `claude-failover ${plan.dryRun ? 'would perform' : 'will perform'} the following actions:`,
      '',
      'Resource actions are indicated with the following symbols:',
      `  ${paint(color, COLOR.create, '+')} create`,
      `  ${paint(color, COLOR.update, '~')} update in-place`,
      `  ${paint(color, COLOR.delete, '-')} destroy`,
      `${paint(color, COLOR.replace, '-/+')} destroy and then create replacement`,
      '',
    );
    for (const c of plan.changes) {
      out.push(paint(color, '1', `  # ${c.key}: ${c.resource} ${PHRASE[c.action]}`));
      out.push(`  # (${c.reason})`);
      out.push(`${SYMBOL[c.action] === '-/+' ? '' : '  '}${paint(color, COLOR[c.action], SYMBOL[c.action])} ${c.resource}`);
      if (c.diff && c.diff.length > 0) out.push(...diffLines(c.diff, color));
      out.push('');
    }
  }
  if (plan.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of plan.notes) out.push(`  ${n.level === 'warning' ? paint(color, '33', '!') : '-'} ${n.key ? `${n.key}: ` : ''}${n.message}`);
  }
  if (plan.changes.length > 0) {
    out.push('', paint(color, '1', `Plan: ${plan.summary.add} to add, ${plan.summary.change} to change, ${plan.summary.destroy} to destroy.`));
  }
  return `${out.join('\n')}\n`;
}

export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
