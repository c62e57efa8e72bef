import { describe, expect, it } from 'vitest';
import { desiredFromObjects, type AnyObject } from '../api/objects.js';
import { parseManifestText } from '../api/parse.js';
import { agentBaseEnv, isAgentEnvName, secretEnvNames } from './agent-env.js';

describe('agent environment', () => {
  it.each([
    ['PATH', true], ['HOME', true], ['LANG', true], ['LC_ALL', true], ['LC_CTYPE', true], ['TZ', true], ['TMPDIR', true],
    ['HTTPS_PROXY', true], ['no_proxy', true], ['NODE_EXTRA_CA_CERTS', true], ['XDG_CONFIG_HOME', true],
    ['CF_JOBS_API_KEY', false], ['CF_TELEGRAM_TOKEN', false], ['CLAUDE_FAILOVER_TOKEN', false], ['ANTHROPIC_API_KEY', false],
    ['AWS_SECRET_ACCESS_KEY', false], ['TMUX', false], ['TMUX_PANE', false], ['TERM', false], ['CLAUDECODE', false],
    ['CLAUDE_CODE_CHILD_SESSION', false], ['SSH_AUTH_SOCK', false], ['LC_', false], ['NODE_OPTIONS', false],
  ])('%s passes from the controller to agents: %s', (name, passes) => {
    expect(isAgentEnvName(name)).toBe(passes);
  });

  it('keeps only allowlisted, non-empty variables', () => {
    expect(agentBaseEnv({ PATH: '/bin', HOME: '/h', LANG: '', LC_ALL: 'C.UTF-8', CF_JOBS_API_KEY: 'sk-x', TMUX: '/tmp/s,1,0', X: undefined })).toEqual({ PATH: '/bin', HOME: '/h', LC_ALL: 'C.UTF-8' });
  });

  it('always has PATH and HOME, even when the controller runs without them', () => {
    expect(agentBaseEnv({ CF_JOBS_API_KEY: 'sk-x' }, () => '/home/claude')).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/claude' });
  });

  it('lists the variables the controller reads secrets from: {env} references and the API token variable', () => {
    const text = `apiVersion: claudefailover.io/v1alpha1
kind: DelegationPolicy
metadata: {name: jobs}
spec: {endpoint: "http://127.0.0.1:9/", apiKey: {env: CF_JOBS_API_KEY}, providers: [codex]}
---
apiVersion: claudefailover.io/v1alpha1
kind: Notifier
metadata: {name: tg}
spec: {type: telegram, telegram: {botToken: {env: CF_TG}, chatId: 1}}
---
apiVersion: claudefailover.io/v1alpha1
kind: Notifier
metadata: {name: wh}
spec: {type: webhook, webhook: {url: "http://127.0.0.1:9/h", secret: {env: CF_WH}}}
---
apiVersion: claudefailover.io/v1alpha1
kind: Notifier
metadata: {name: wh2}
spec: {type: webhook, webhook: {url: "http://127.0.0.1:9/h", secret: {file: /etc/cf/secret}}}
`;
    const r = parseManifestText('/m/x.yaml', text, { homeDir: '/h' });
    expect(r.diagnostics).toEqual([]);
    expect(secretEnvNames(desiredFromObjects(r.objects as AnyObject[]))).toEqual(['CF_JOBS_API_KEY', 'CF_TG', 'CF_WH', 'CLAUDE_FAILOVER_TOKEN']);
  });
});
