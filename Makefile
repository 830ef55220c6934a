# Tether: entry points. `make demo` to see it work, `make test` for everything CI runs.
BOARDS := $(basename $(notdir $(wildcard board-configs/*.conf)))
PYTHON := .venv/bin/python
TETHER_BIN ?= $(CURDIR)/.build/debug/tether
export TETHER_BIN

# The real ShellHub binaries (../shared/peers/shellhub, read-only), decompressed on demand.
PEERS ?= $(CURDIR)/../shared/peers/shellhub
SHELLHUB_SERVER_BIN ?= $(CURDIR)/.cache/peers/shellhub-server
SHELLHUB_AGENT_BIN ?= $(CURDIR)/.cache/peers/shellhub-agent
export SHELLHUB_SERVER_BIN SHELLHUB_AGENT_BIN

.PHONY: all deps build test test-fresh test-host test-embedded test-boards test-boards-ssh test-interop test-python test-ssh-agent test-fuzz demo cross cross-all fuzz clean

all: build

deps:
	bash scripts/install-deps.sh

build:
	swift build

# Everything CI runs. `deps` installs what is missing (a no-op when all is there) and then checks,
# file by file, that nothing the build and the tests use is absent (scripts/check-deps.sh).
test: deps test-host test-embedded test-boards test-boards-ssh test-interop test-fuzz test-python test-ssh-agent

# What CI runs: a brand-new Debian 12 root (mmdebstrap), a clean clone of HEAD inside it, the
# install step, then `make test` there (scripts/fresh-root.sh; ~30 min on 2 cores).
test-fresh:
	bash scripts/fresh-root.sh

test-host:
	swift build
	swift test

# The agent modules compiled in Embedded mode for the host triple: fails at once on any
# host-only construct. The board builds below do the same for ARM and x86_64 with musl.
test-embedded:
	bash cross/embedded-check.sh

# Cross-build every board, then check each binary (static ELF of the right machine, runs under
# qemu-user or, x86_64, natively, passes its self checks).
test-boards: cross-all
	@set -e; for b in $(BOARDS); do bash cross/check.sh $$b; done

# The SSH server of each ARM board binary under qemu-user, against OpenSSH's ssh/sftp/scp
# (the Tests/e2e/ssh cases, ~1 min per board), and each also through the product path (`tether
# run` behind the dev hub's port map, TETHER_SSH_VIA=agent: ~1.5 min more per board).
test-boards-ssh: test-boards
	TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh
	TETHER_SSH_VIA=agent TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh
	TETHER_RUNNER=qemu-arm-static TETHER_BIN=$(CURDIR)/dist/beaglebone-black/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh
	TETHER_SSH_VIA=agent TETHER_RUNNER=qemu-arm-static TETHER_BIN=$(CURDIR)/dist/beaglebone-black/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh

# Tests/interop against the real ShellHub server (PostgreSQL, Redis, server, nginx): every case
# with the host build, then the SSH cases (`-m ssh`) with the raspberrypi4 board binary under
# qemu-user. The server's ports 8080/2222 are fixed in its code: each run gets a network
# namespace of its own (loopback only, scripts/in-netns.sh), so it never meets another server,
# a developer's or a second run's.
test-interop: $(SHELLHUB_SERVER_BIN) $(SHELLHUB_AGENT_BIN)
	swift build
	@test -x dist/raspberrypi4/tether || bash cross/build.sh raspberrypi4
	bash scripts/in-netns.sh $(PYTHON) -m pytest -q -p no:cacheprovider Tests/interop
	TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		bash scripts/in-netns.sh $(PYTHON) -m pytest -q -p no:cacheprovider -m ssh Tests/interop

$(CURDIR)/.cache/peers/shellhub-%:
	@mkdir -p $(dir $@)
	xz -dkc $(PEERS)/shellhub-$*-v0.27.0-rc.6-linux-amd64.xz > $@.part
	chmod 0755 $@.part && mv $@.part $@

test-python:
	bash scripts/run-python-tests.sh

# The Tests/e2e/ssh cases (run by test-python against `tether ssh-serve`) again through the
# product path: the dev hub's port map, the tunnel, a session slot and the SSH server on the
# agent's EventLoop (`tether run`, TETHER_SSH_VIA=agent; ~1.5 min, needs root).
test-ssh-agent:
	swift build
	TETHER_SSH_VIA=agent TETHER_BIN=$(CURDIR)/.build/debug/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh

# A short libFuzzer smoke of every codec target (`make fuzz` runs them longer).
test-fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-5} bash Tests/fuzz/run-all.sh

cross:
	@test -n "$(BOARD)" || { echo "usage: make cross BOARD=<one of: $(BOARDS)>"; exit 2; }
	bash cross/build.sh $(BOARD)

cross-all:
	@set -e; for b in $(BOARDS); do bash cross/build.sh $$b; done

demo:
	bash scripts/demo.sh

fuzz:
	bash Tests/fuzz/run-all.sh

clean:
	rm -rf .build .build-* dist
