/** QuotaPort over the credentials reader and the usage client: the token stays in here. */
import type { Dispatcher } from 'undici';
import type { CredentialsCheck, QuotaPort, UsageFetch, UsageProbe } from '../../core/ports.js';
import { readCredentials } from './credentials.js';
import { fetchUsage, probeUsageEndpoint } from './usage-client.js';

export class UsageQuotaPort implements QuotaPort {
  readonly #dispatcher: Dispatcher | undefined;

  constructor(opts: { dispatcher?: Dispatcher } = {}) {
    this.#dispatcher = opts.dispatcher;
  }

  async readCredentials(configDir: string, now: number): Promise<CredentialsCheck> {
    const r = await readCredentials(configDir, { now });
    if (!r.ok) return { ok: false, reason: r.problem.reason, message: r.problem.message };
    return { ok: true, ...(r.credentials.expiresAt !== undefined ? { expiresAt: r.credentials.expiresAt } : {}), ...(r.credentials.subscriptionType ? { subscriptionType: r.credentials.subscriptionType } : {}), ...(r.credentials.accessTokenExpired ? { accessTokenExpired: true } : {}) };
  }

  async fetchUsage(configDir: string, endpoint: string): Promise<UsageFetch> {
    const c = await readCredentials(configDir);
    if (!c.ok) return { ok: false, kind: 'NoCredentials', message: c.problem.message };
    // An expired token would be answered 401 and read as a rejection; the controller never refreshes it.
    if (c.credentials.accessTokenExpired) return { ok: false, kind: 'NoCredentials', message: `the access token in ${c.credentials.path} has expired; not polling until claude refreshes it` };
    const r = await fetchUsage({ endpoint, accessToken: c.credentials.accessToken, ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}) });
    if (r.ok) return { ok: true, snapshot: r.snapshot, observedAt: r.observedAt };
    return { ok: false, kind: r.kind, message: r.message, ...('retryAfterMs' in r && r.retryAfterMs !== undefined ? { retryAfterMs: r.retryAfterMs } : {}) };
  }

  async probeUsage(endpoint: string): Promise<UsageProbe> {
    const r = await probeUsageEndpoint({ endpoint, ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}) });
    return { reachable: r.reachable, message: r.message };
  }
}
