# Two commands for a fresh machine: `make run` and `make test`. Each installs what it needs
# (uv, then the locked environment) before running.
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test bench setup

setup:
	@./scripts/bootstrap.sh

run: setup
	$(UV) run --frozen kiosk run --snapshot var/snapshot.png

test: setup
	$(UV) run --frozen pytest -q

bench: setup
	$(UV) run --frozen kiosk bench
