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

.PHONY: all deps build test test-host test-embedded test-boards test-boards-ssh test-interop test-python test-fuzz demo cross cross-all fuzz clean

all: build

deps:
	bash scripts/install-deps.sh

build:
	swift build

# Everything CI runs (after .ci/run installed the dependencies).
test: test-host test-embedded test-boards test-boards-ssh test-interop test-fuzz test-python

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
# (the Tests/e2e/ssh cases, ~1 min per board).
test-boards-ssh: test-boards
	TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh
	TETHER_RUNNER=qemu-arm-static TETHER_BIN=$(CURDIR)/dist/beaglebone-black/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh

# Tests/interop against the real ShellHub server (PostgreSQL, Redis, server, nginx; ports
# 8080/2222): every case with the host build, then the SSH cases (`-m ssh`) with the
# raspberrypi4 board binary under qemu-user. Needs the ports free (one server per machine).
test-interop: $(SHELLHUB_SERVER_BIN) $(SHELLHUB_AGENT_BIN)
	swift build
	@test -x dist/raspberrypi4/tether || bash cross/build.sh raspberrypi4
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/interop
	TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider -m ssh Tests/interop

$(CURDIR)/.cache/peers/shellhub-%:
	@mkdir -p $(dir $@)
	xz -dkc $(PEERS)/shellhub-$*-v0.27.0-rc.6-linux-amd64.xz > $@.part
	chmod 0755 $@.part && mv $@.part $@

test-python:
	bash scripts/run-python-tests.sh

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
