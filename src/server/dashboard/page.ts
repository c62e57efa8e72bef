/**
 * The dashboard: one static page (HTML + a plain script + a stylesheet), no build step. The page
 * holds no data; its script authenticates every call with the bearer token (taken once from the
 * URL fragment `#token=…` — fragments never reach the server or its logs — and kept in
 * sessionStorage) and stays live on the SSE stream, read with fetch() so the token travels in the
 * Authorization header.
 */
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>claude-failover</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>claude-failover</h1>
  <span id="conn" class="conn conn-off" data-testid="conn-state">disconnected</span>
  <span id="ready" class="pill" data-testid="ready">not ready</span>
  <span id="active" class="pill pill-active" data-testid="active-account">active: –</span>
  <span id="revision" class="muted"></span>
</header>
<section id="login" hidden>
  <form id="login-form">
    <label>API token <input id="token-input" type="password" autocomplete="off" size="48"></label>
    <button type="submit">Connect</button>
    <p class="muted">The token is in the controller's state dir (api-token). It is kept in this tab only.</p>
  </form>
</section>
<main id="main">
  <div id="rejected" class="banner" hidden data-testid="rejected"></div>
  <section>
    <h2>Accounts</h2>
    <table id="accounts" data-testid="accounts"><thead><tr><th>Account</th><th>Priority</th><th>5-hour window</th><th>Weekly window</th><th>Ready</th></tr></thead><tbody></tbody></table>
    <form id="failover-form" class="actions">
      <label>to <select id="failover-to" data-testid="failover-to"><option value="">next eligible</option></select></label>
      <label>reason <input id="failover-reason" data-testid="failover-reason" maxlength="500" placeholder="operator request"></label>
      <button type="submit" id="failover-button" data-testid="failover-button" class="danger">Fail over now</button>
      <span id="failover-result" data-testid="failover-result" class="muted"></span>
    </form>
  </section>
  <section>
    <h2>Sessions</h2>
    <table id="sessions" data-testid="sessions"><thead><tr><th>Session</th><th>Project</th><th>Account</th><th>Activity</th><th>Task</th><th>Restarts</th><th>Since</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Queues</h2>
    <table id="queues" data-testid="queues"><thead><tr><th>Project</th><th>inbox</th><th>dispatched</th><th>delegated</th><th>done</th><th>failed</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent events</h2>
    <table id="events" data-testid="events"><thead><tr><th>Time</th><th>Object</th><th>Type</th><th>Reason</th><th>Message</th></tr></thead><tbody></tbody></table>
  </section>
</main>
</body>
</html>
`;

export const DASHBOARD_CSS = String.raw`
:root { --bg: #f7f7f8; --fg: #1d1d1f; --muted: #6b6b73; --line: #dcdce0; --ok: #1f9d55; --warn: #d97706; --bad: #dc2626; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; gap: 12px; align-items: center; padding: 10px 20px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0 12px 0 0; }
h2 { font-size: 15px; margin: 18px 0 8px; }
main, #login { padding: 0 20px 20px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-weight: 600; color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
tr.active td { background: #eef4ff; }
tr.active td:first-child { border-left: 4px solid var(--accent); font-weight: 600; }
.pill { padding: 2px 8px; border-radius: 10px; background: #ececf0; font-size: 12px; }
.pill-active { background: #dbe7ff; color: #1e40af; }
.pill-warn { background: #fff1d6; color: #92400e; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; background: #ececf0; }
.badge.idle { background: #dcfce7; color: #166534; } .badge.working { background: #dbeafe; color: #1e40af; }
.badge.starting { background: #fef9c3; color: #854d0e; } .badge.rateLimited, .badge.exited { background: #fee2e2; color: #991b1b; }
.badge.waitingInput { background: #ffedd5; color: #9a3412; } .badge.True { background: #dcfce7; color: #166534; } .badge.False { background: #fee2e2; color: #991b1b; }
.bar { position: relative; width: 180px; height: 14px; background: #ececf0; border-radius: 7px; overflow: hidden; display: inline-block; vertical-align: middle; }
.bar > span { position: absolute; left: 0; top: 0; bottom: 0; background: var(--ok); }
.bar.warn > span { background: var(--warn); } .bar.bad > span { background: var(--bad); }
.quota-text { margin-left: 8px; font-variant-numeric: tabular-nums; }
.countdown { color: var(--muted); font-size: 12px; margin-left: 6px; }
.muted { color: var(--muted); }
.conn { font-size: 12px; } .conn-on { color: var(--ok); } .conn-off { color: var(--bad); }
.actions { margin-top: 8px; display: flex; gap: 10px; align-items: center; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; cursor: pointer; }
button.danger { border-color: var(--bad); color: var(--bad); }
.banner { margin-top: 12px; padding: 8px 12px; background: #fff7ed; border: 1px solid #fdba74; border-radius: 6px; }
tr.Warning td { color: #991b1b; }
`;
