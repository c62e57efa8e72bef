# claude-failover — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
NPM ?= npm
# `make demo CLAUDE=real` runs the demo with the real Claude Code CLI (pinned in package.json,
# installed by npm ci) instead of the simulator; CLAUDE=/path/to/claude runs that binary.
CLAUDE ?= sim

.PHONY: all deps tmux build lint test bench demo clean

all: build

# Install node modules when missing or out of date with the lock file. `npm ci` refuses a lock
# that lacks another platform's optional packages (e.g. rollup's android/darwin binaries, which
# a registry mirror may not serve, so no lock written there can list them); then `npm install`
# installs the same locked versions. Install scripts run only for packages in package.json's
# allowScripts (tree-sitter: the guard's native shell parser; @anthropic-ai/claude-code: links its
# platform binary to bin/claude.exe, for `npx claude`; the tests find the platform binary anyway).
node_modules/.package-lock.json: package.json package-lock.json
	@log=$$(mktemp); if $(NPM) ci --no-audit --no-fund >"$$log" 2>&1; then tail -n 3 "$$log"; else \
	  grep -m 3 -E '^npm error (code|`npm ci`|Missing)' "$$log" || tail -n 5 "$$log"; \
	  echo "npm ci refused the lock file (see above); installing the locked versions with npm install"; \
	  $(NPM) install --no-audit --no-fund; fi; rm -f "$$log"
	@touch $@

deps: node_modules/.package-lock.json tmux

# tmux is needed by the controller and by the tests; install it from Debian when absent.
tmux:
	@command -v tmux >/dev/null 2>&1 || { \
	  echo "tmux not found: installing it with apt-get"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y tmux; }

build: node_modules/.package-lock.json
	$(NPM) run build

lint: node_modules/.package-lock.json
	$(NPM) run lint

test: deps
	$(NPM) run build
	$(NPM) run lint
	$(NPM) test

bench: deps build
	$(NPM) run bench

demo: deps build
	node dist/cli/main.js demo --claude $(CLAUDE)

clean:
	rm -rf dist coverage
