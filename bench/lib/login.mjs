// Benchmark pools log their accounts in (issue 19: while no account can take the pool, no session
// is launched). The access token has expired but a refresh token is present, as on an idle
// account: the account can take the pool and its usage is never polled (no request leaves the
// machine).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function loginAccount(configDir) {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, '.credentials.json'), JSON.stringify({ claudeAiOauth: { accessToken: 'sk-ant-oat01-bench-only', refreshToken: 'sk-ant-ort01-bench-only', expiresAt: Date.now() - 3_600_000, scopes: ['user:inference'], subscriptionType: 'max' } }), { mode: 0o600 });
}
