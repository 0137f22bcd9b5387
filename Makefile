# Two commands for a fresh machine: `make run` and `make test`. Each installs what it needs
# (uv from PyPI when missing, then the locked environment in .venv) before running.
# `make test` is lint (ruff), types (mypy), then the tests.
UV := ./scripts/uv

.PHONY: run test bench setup lock pi-check appliance-check

setup:
	@$(UV) sync --frozen --quiet
	@.venv/bin/python scripts/fetch-models >/dev/null

run: setup
	$(UV) run --frozen kiosk run --snapshot var/snapshot.png

test: setup
	$(UV) run --frozen ruff check kiosk tests
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest -q

bench: setup
	$(UV) run --frozen kiosk bench

# After changing dependencies: the lock, and the pinned, hashed list the Pi installer reads.
lock:
	$(UV) lock
	$(UV) export --frozen --no-dev --no-emit-project --format requirements-txt --quiet -o scripts/pi-requirements.txt

# The Pi path under emulation: an arm64 Bookworm root, the installer run in it for real, and the
# kiosk in it naming the sample probes as this machine does (see scripts/pi-check).
pi-check: setup
	scripts/pi-check

# The appliance booted whole: a Debian x86_64 disk image with the kiosk installed by
# scripts/install.sh, started in QEMU and driven from outside (see scripts/appliance-check).
appliance-check: setup
	scripts/appliance-check
