#!/bin/sh
# Starts the tmux server that holds the agents, OUTSIDE the controller's cgroup, so that
# `systemctl restart claude-failover` (or a crash of the controller) never kills an agent.
#
# Two ways to run it:
#   1. As ExecStart of claude-failover-tmux.service (the default, see that unit): the server runs
#      in the foreground (`tmux -D`, tmux >= 3.2) in its own unit and cgroup.
#   2. By hand, without that unit:  start-tmux-server.sh --scope
#      starts the server detached in a transient user scope (`systemd-run --user --scope`), so it
#      is not a child of your shell's or the controller's unit either.
#
# Settings (environment):
#   CF_TMUX_SOCKET  tmux -L name the controller uses (default claude-failover; `run --tmux-socket`)
#   CF_TMUX_CONF    tmux config file for the server (default /dev/null: tmux defaults)
#   TMUX_TMPDIR     where tmux puts its socket directory (default /tmp); must match the controller's
#
# The server starts with an explicit environment (`env -i` plus the variables below), never the
# whole environment of the shell or unit that runs this script: tmux copies it into the server's
# global environment, which anyone with the socket (every agent) can read with
# `tmux show-environment -g`. The controller gives each agent its own explicit environment anyway
# (docs/security.md, "What agents inherit"); keep secrets out of this one too.
set -eu

MODE="${1:-}"
# The same allowlist as the controller's (src/adapters/agent-env.ts).
set --
for v in PATH HOME USER LOGNAME SHELL LANG LANGUAGE TZ TMPDIR TMUX_TMPDIR \
         LC_ALL LC_CTYPE LC_COLLATE LC_MESSAGES LC_NUMERIC LC_TIME LC_MONETARY \
         XDG_CONFIG_HOME XDG_DATA_HOME XDG_CACHE_HOME XDG_STATE_HOME XDG_RUNTIME_DIR \
         HTTP_PROXY HTTPS_PROXY NO_PROXY ALL_PROXY http_proxy https_proxy no_proxy all_proxy \
         NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR; do
  eval "val=\${$v-__cf_unset__}"
  [ "$val" = "__cf_unset__" ] || [ -z "$val" ] || set -- "$@" "$v=$val"
done

SOCKET="${CF_TMUX_SOCKET:-claude-failover}"
CONF="${CF_TMUX_CONF:-/dev/null}"
TMUX_BIN="${TMUX_BIN:-$(command -v tmux)}"

if [ -z "$TMUX_BIN" ]; then
  echo "start-tmux-server.sh: tmux not found in PATH" >&2
  exit 1
fi

running() {
  "$TMUX_BIN" -L "$SOCKET" list-sessions >/dev/null 2>&1 || "$TMUX_BIN" -L "$SOCKET" show-options -g exit-empty >/dev/null 2>&1
}

version_ok() {
  # tmux >= 3.2 has -D (run the server in the foreground).
  v=$("$TMUX_BIN" -V | sed -n 's/^tmux \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p')
  set -- $v
  [ "${1:-0}" -gt 3 ] || { [ "${1:-0}" -eq 3 ] && [ "${2:-0}" -ge 2 ]; }
}

case "$MODE" in
  --scope)
    if running; then
      echo "tmux server -L $SOCKET already runs"
      exit 0
    fi
    # A transient scope of the user's systemd instance; the server keeps running without sessions.
    systemd-run --user --scope --quiet --unit="claude-failover-tmux-$$" \
      env -i "$@" "$TMUX_BIN" -L "$SOCKET" -f "$CONF" start-server \; set-option -g exit-empty off
    echo "tmux server -L $SOCKET started in a transient scope (systemctl --user status 'claude-failover-tmux-*')"
    ;;
  ""|--foreground)
    if running; then
      echo "start-tmux-server.sh: a tmux server -L $SOCKET already runs (outside this unit); stop it first" >&2
      exit 1
    fi
    if version_ok; then
      # Foreground server: systemd tracks it as the unit's main process. -D turns exit-empty off.
      exec env -i "$@" "$TMUX_BIN" -D -L "$SOCKET" -f "$CONF"
    fi
    # tmux < 3.2: start detached and stay alive as long as the server does (Type=simple still works).
    env -i "$@" "$TMUX_BIN" -L "$SOCKET" -f "$CONF" start-server \; set-option -g exit-empty off
    while running; do sleep 10; done
    ;;
  *)
    echo "usage: start-tmux-server.sh [--foreground|--scope]" >&2
    exit 2
    ;;
esac
