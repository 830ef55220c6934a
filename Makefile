# Tether: entry points. `make demo` to see it work, `make test` for everything CI runs.
BOARDS := $(basename $(notdir $(wildcard board-configs/*.conf)))
PYTHON := .venv/bin/python
TETHER_BIN ?= $(CURDIR)/.build/debug/tether
export TETHER_BIN

.PHONY: all deps build test test-fresh test-host test-embedded test-boards test-boards-ssh test-python test-fuzz demo cross cross-all fuzz clean

all: build

deps:
	bash scripts/install-deps.sh

build:
	swift build

# Everything CI runs. `deps` installs what is missing (a no-op when all is there) and then checks,
# file by file, that nothing the build and the tests use is absent (scripts/check-deps.sh).
test: deps test-host test-embedded test-boards test-boards-ssh test-fuzz test-python

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
# (the Tests/e2e/ssh cases, ~1 min per board).
test-boards-ssh: test-boards
	TETHER_RUNNER=qemu-aarch64-static TETHER_BIN=$(CURDIR)/dist/raspberrypi4/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh
	TETHER_RUNNER=qemu-arm-static TETHER_BIN=$(CURDIR)/dist/beaglebone-black/tether \
		$(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e/ssh

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
