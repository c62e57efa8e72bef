/**
 * Notifier controller: reports whether each notification channel is usable (its secrets
 * resolve) and what it delivered. Delivery itself is the dispatcher's (src/adapters/notify/),
 * fed by the event log; it never blocks reconciliation.
 */
import type { DesiredState, ManifestObject } from '../api/objects.js';
import { setCondition } from '../core/conditions.js';
import { emptyPlanPart, type Controller, type Inventory, type ObserveContext, type PlanInput, type PlanPart } from '../core/controller.js';

export type ChannelCheck = { ok: true } | { ok: false; reason: string; message: string };

export interface NotifierObserved {
  checks: Record<string, ChannelCheck>;
  stats: Record<string, Record<string, unknown>>;
}

export interface NotifierControllerDeps {
  check(spec: ManifestObject<'Notifier'>['spec']): Promise<ChannelCheck>;
  stats?(): Record<string, Record<string, unknown>>;
}

export class NotifierController implements Controller<NotifierObserved> {
  readonly kind = 'Notifier' as const;
  readonly #deps: NotifierControllerDeps;

  constructor(deps: NotifierControllerDeps) {
    this.#deps = deps;
  }

  names(desired: DesiredState, _inventory: Inventory): string[] {
    return desired.notifiers.map((n) => n.metadata.name);
  }

  async observe(names: readonly string[], ctx: ObserveContext): Promise<NotifierObserved> {
    const checks: Record<string, ChannelCheck> = {};
    for (const n of ctx.desired.notifiers) if (names.includes(n.metadata.name)) checks[n.metadata.name] = await this.#deps.check(n.spec);
    return { checks, stats: this.#deps.stats?.() ?? {} };
  }

  plan(input: PlanInput<NotifierObserved>, names: readonly string[]): PlanPart {
    const out = emptyPlanPart();
    for (const name of names) {
      const n = input.desired.notifiers.find((x) => x.metadata.name === name);
      const check = input.observed.checks[name];
      if (!n || !check) continue;
      const key = `Notifier/${name}`;
      const prior = input.prior[key];
      const cond = check.ok
        ? { type: 'Ready', status: 'True' as const, reason: 'ChannelReady', message: `${n.spec.type} channel configured` }
        : { type: 'Ready', status: 'False' as const, reason: check.reason, message: check.message };
      if (!check.ok) out.notes.push({ key, level: 'warning', message: `notifications cannot be sent: ${check.message}` });
      out.status[key] = { observedGeneration: n.generation, conditions: setCondition(prior?.conditions, cond, input.now, n.generation), ...(input.observed.stats[name] ? { delivery: input.observed.stats[name] } : {}) };
    }
    return out;
  }
}
