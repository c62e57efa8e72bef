/** The dashboard's browser script (plain ES2019, no framework, no build step). Data goes in with textContent only. */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var state = { snapshot: null, events: [], connected: false };
  var token = null;
  var abort = null;
  var retryMs = 1000;

  function $(id) { return document.getElementById(id); }
  function el(tag, opts, children) {
    var n = document.createElement(tag);
    if (opts) {
      if (opts.cls) n.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) n.textContent = String(opts.text);
      if (opts.data) Object.keys(opts.data).forEach(function (k) { n.setAttribute('data-' + k, String(opts.data[k])); });
      if (opts.title) n.title = opts.title;
    }
    (children || []).forEach(function (c) { if (c) n.appendChild(c); });
    return n;
  }
  function td(text, cls) { return el('td', { text: text, cls: cls }); }

  function takeToken() {
    var m = /(?:^#|&)token=([^&]+)/.exec(location.hash || '');
    if (m) {
      sessionStorage.setItem('cf-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem('cf-token');
  }

  function api(method, path, body) {
    var init = { method: method, headers: { Authorization: 'Bearer ' + token } };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) {
          if (r.status === 401) showLogin('The token was refused.');
          var msg = j && j.error ? j.error.code + ': ' + j.error.message : 'HTTP ' + r.status;
          throw new Error(msg);
        }
        return j;
      });
    });
  }

  function showLogin(why) {
    $('login').hidden = false;
    setConn(false, why || 'token needed');
  }

  function setConn(on, text) {
    state.connected = on;
    var c = $('conn');
    c.textContent = text || (on ? 'live' : 'disconnected');
    c.className = 'conn ' + (on ? 'conn-on' : 'conn-off');
  }

  // ---- SSE over fetch (the token goes in a header, which EventSource cannot send) ----
  function connect() {
    if (!token) { showLogin(); return; }
    if (abort) abort.abort();
    abort = new AbortController();
    setConn(false, 'connecting');
    fetch('/api/v1/stream', { headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' }, signal: abort.signal })
      .then(function (r) {
        if (r.status === 401) { showLogin('The token was refused.'); return null; }
        if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
        $('login').hidden = true;
        retryMs = 1000;
        setConn(true, 'live');
        var reader = r.body.getReader();
        var dec = new TextDecoder();
        var buf = '';
        function pump() {
          return reader.read().then(function (res) {
            if (res.done) throw new Error('stream ended');
            buf += dec.decode(res.value, { stream: true });
            var i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              var frame = buf.slice(0, i);
              buf = buf.slice(i + 2);
              handleFrame(frame);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) {
        if (err && err.name === 'AbortError') return;
        setConn(false, 'reconnecting');
        setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      });
  }

  function handleFrame(frame) {
    var ev = 'message';
    var data = [];
    frame.split('\n').forEach(function (line) {
      if (line.indexOf('event:') === 0) ev = line.slice(6).trim();
      else if (line.indexOf('data:') === 0) data.push(line.slice(5).replace(/^ /, ''));
    });
    if (data.length === 0) return;
    var msg;
    try { msg = JSON.parse(data.join('\n')); } catch (e) { return; }
    if (ev === 'snapshot') { state.snapshot = msg; state.events = msg.events || []; fillAccountsSelect(); }
    else if (ev === 'status') applyStatus(msg);
    else if (ev === 'event') { state.events.push(msg); if (state.events.length > 200) state.events.shift(); }
    else if (ev === 'queues' && state.snapshot) state.snapshot.queues = msg;
    render();
  }

  function applyStatus(msg) {
    var s = state.snapshot;
    if (!s) return;
    if (msg.pool) s.pool = msg.pool;
    if (typeof msg.ready === 'boolean') s.ready = msg.ready;
    var lists = { Account: s.accounts, Session: s.sessions, Project: s.projects, DelegationPolicy: s.delegation };
    msg.changes.forEach(function (c) {
      var i = c.key.indexOf('/');
      var kind = c.key.slice(0, i), name = c.key.slice(i + 1);
      var list = lists[kind];
      if (!list || name === '*') return;
      var obj = list.find(function (o) { return o.metadata.name === name; });
      if (obj) obj.status = c.status || {};
      else if (c.status) { list.push({ kind: kind, metadata: { name: name }, status: c.status }); list.sort(function (a, b) { return a.metadata.name < b.metadata.name ? -1 : 1; }); }
    });
  }

  // ---- rendering ----
  function readyOf(st) {
    var c = (st && st.conditions || []).find(function (x) { return x.type === 'Ready'; });
    return c ? c : { status: 'Unknown', reason: '', message: '' };
  }
  function fmtDuration(ms) {
    if (ms <= 0) return 'now';
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    return m + 'm ' + (s % 60) + 's';
  }
  function ago(iso) {
    if (!iso) return '';
    var t = Date.parse(iso);
    return isNaN(t) ? '' : fmtDuration(Date.now() - t) + ' ago';
  }
  function quotaCell(win) {
    var cell = el('td', { cls: 'quota' });
    if (!win || typeof win.utilization !== 'number') { cell.appendChild(el('span', { cls: 'muted', text: 'no data' })); return cell; }
    var pct = win.utilization;
    var bar = el('span', { cls: 'bar' + (pct >= 90 ? ' bad' : pct >= 70 ? ' warn' : '') });
    var fill = el('span');
    fill.style.width = Math.max(0, Math.min(100, pct)) + '%';
    bar.appendChild(fill);
    cell.appendChild(bar);
    cell.appendChild(el('span', { cls: 'quota-text', text: Math.round(pct) + '%' }));
    if (win.resetsAt) {
      var left = Date.parse(win.resetsAt) - Date.now();
      cell.appendChild(el('span', { cls: 'countdown', text: 'resets in ' + fmtDuration(left), data: { testid: 'countdown' }, title: win.resetsAt }));
    }
    return cell;
  }

  function fillAccountsSelect() {
    var sel = $('failover-to');
    var keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    (state.snapshot ? state.snapshot.accounts : []).forEach(function (a) {
      if (!a.spec) return;
      var o = document.createElement('option');
      o.value = a.metadata.name; o.textContent = a.metadata.name;
      sel.appendChild(o);
    });
    sel.value = keep;
  }

  function replaceBody(table, rows) {
    var tbody = table.tBodies[0];
    var fresh = document.createElement('tbody');
    rows.forEach(function (r) { fresh.appendChild(r); });
    table.replaceChild(fresh, tbody);
  }

  function render() {
    var s = state.snapshot;
    if (!s) return;
    var active = s.pool ? s.pool.activeAccount : null;
    $('ready').textContent = s.ready ? 'ready' : 'not ready';
    $('active').textContent = 'active: ' + (active || '–') + (s.pool && s.pool.source === 'preferred' ? ' (preferred)' : '');
    $('revision').textContent = s.revision ? 'manifests ' + s.revision.slice(0, 12) : '';
    var rej = $('rejected');
    if (s.rejected) { rej.hidden = false; rej.textContent = 'Manifests rejected at ' + s.rejected.at + ': ' + s.rejected.diagnostics.slice(0, 3).join('; '); }
    else rej.hidden = true;

    replaceBody($('accounts'), s.accounts.map(function (a) {
      var st = a.status || {};
      var usage = st.usage || {};
      var isActive = a.metadata.name === active;
      var r = readyOf(st);
      var nameCell = el('td', { text: a.metadata.name });
      if (isActive) nameCell.appendChild(el('span', { cls: 'pill pill-active', text: 'active' }));
      if (a.spec && a.spec.suspended) nameCell.appendChild(el('span', { cls: 'pill', text: 'suspended' }));
      var quota = (st.conditions || []).filter(function (c) { return c.type === 'QuotaAvailable'; })[0];
      if (quota && quota.status === 'Unknown' && (quota.reason === 'UsagePollsFailing' || quota.reason === 'UsageStale')) {
        nameCell.appendChild(el('span', { cls: 'pill pill-warn', text: 'usage unknown', title: quota.message, data: { testid: 'usage-unknown' } }));
      }
      return el('tr', { cls: isActive ? 'active' : '', data: { testid: 'account-row', name: a.metadata.name, active: isActive } }, [
        nameCell, td(a.spec ? a.spec.priority : ''), quotaCell(usage.fiveHour), quotaCell(usage.sevenDay),
        el('td', {}, [el('span', { cls: 'badge ' + r.status, text: r.status + (r.reason ? ' · ' + r.reason : ''), title: r.message })]),
      ]);
    }));

    replaceBody($('sessions'), s.sessions.map(function (x) {
      var st = x.status || {};
      var activity = st.activity || 'unknown';
      var btn = el('button', { text: 'restart', data: { testid: 'restart', name: x.metadata.name } });
      btn.addEventListener('click', function () {
        if (!confirm('Restart session ' + x.metadata.name + '? It resumes its conversation.')) return;
        api('POST', '/api/v1/sessions/' + encodeURIComponent(x.metadata.name) + '/restart').catch(function (e) { alert(e.message); });
      });
      return el('tr', { data: { testid: 'session-row', name: x.metadata.name } }, [
        td(x.metadata.name), td(x.spec ? x.spec.project : ''), td(st.account || ''),
        el('td', {}, [el('span', { cls: 'badge ' + activity, text: activity, data: { testid: 'activity' } })]),
        td(st.currentTask || ''), td(st.restarts || 0), td(ago(st.since)), el('td', {}, [btn]),
      ]);
    }));

    replaceBody($('queues'), Object.keys(s.queues || {}).sort().map(function (p) {
      var c = s.queues[p];
      return el('tr', { data: { testid: 'queue-row', name: p } }, [td(p), td(c.inbox), td(c.dispatched), td(c.delegated), td(c.done), td(c.failed)]);
    }));

    replaceBody($('events'), state.events.slice(-30).reverse().map(function (e) {
      return el('tr', { cls: e.type, data: { testid: 'event-row', reason: e.reason } }, [td(e.time.replace('T', ' ').slice(0, 19)), td(e.key), td(e.type), td(e.reason), td(e.message)]);
    }));
  }

  document.addEventListener('DOMContentLoaded', function () {
    token = takeToken();
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      token = $('token-input').value.trim();
      sessionStorage.setItem('cf-token', token);
      connect();
    });
    $('failover-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {};
      if ($('failover-to').value) body.to = $('failover-to').value;
      if ($('failover-reason').value.trim()) body.reason = $('failover-reason').value.trim();
      var out = $('failover-result');
      out.textContent = 'requesting…';
      api('POST', '/api/v1/failover', body).then(function (r) { out.textContent = r.message; }, function (e) { out.textContent = e.message; });
    });
    setInterval(render, 1000);
    connect();
  });
})();
`;
