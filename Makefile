# claude-failover — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
NPM ?= npm
# `make demo CLAUDE=real` runs the demo with the real Claude Code CLI (pinned in package.json,
# installed by npm ci) instead of the simulator; CLAUDE=/path/to/claude runs that binary.
CLAUDE ?= sim

.PHONY: all deps tmux build lint test bench demo install uninstall clean

all: build

# Install node modules when missing or out of date with the lock file, with `npm ci`: the lock
# file is the contract (it lists every platform's optional packages), and `npm ci` never rewrites
# it. A refused lock is an error to fix in the repository, not something to paper over here.
node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
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

# Puts `claude-failover` and `ccl-delegate` on PATH from this clone (npm link: symlinks in npm's
# global prefix, pointing at this directory, so a rebuild is picked up without reinstalling).
install: build
	$(NPM) link --no-audit --no-fund
	@echo "installed: $$(command -v claude-failover || echo "$$($(NPM) prefix -g)/bin/claude-failover (add $$($(NPM) prefix -g)/bin to PATH)")"

uninstall:
	$(NPM) unlink -g claude-failover

clean:
	rm -rf dist coverage
