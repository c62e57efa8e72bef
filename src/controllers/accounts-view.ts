/** Pure helpers other controllers use to read the Account controller's decision. */
import type { DesiredState, ManifestObject } from '../api/objects.js';
import type { StatusMap } from '../core/controller.js';
import { poolStatus } from '../core/status.js';

/** Where the Account controller records the pool-wide decision (src/core/status.ts). */
export { POOL_KEY } from '../core/status.js';

/**
 * The account sessions should run under when not pinned: the Account controller's decision when
 * there is one, otherwise the preferred account (lowest priority, then name) that is not suspended.
 */
export function activeAccount(desired: DesiredState, prior: StatusMap): ManifestObject<'Account'> | undefined {
  const decided = poolStatus(prior)?.activeAccount;
  if (typeof decided === 'string') {
    const a = desired.accounts.find((x) => x.metadata.name === decided);
    if (a) return a;
  }
  return preferredAccount(desired);
}

export function preferredAccount(desired: DesiredState): ManifestObject<'Account'> | undefined {
  return [...desired.accounts]
    .filter((a) => !a.spec.suspended)
    .sort((a, b) => a.spec.priority - b.spec.priority || a.metadata.name.localeCompare(b.metadata.name))[0];
}
