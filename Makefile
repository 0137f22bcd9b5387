# Two commands for a fresh machine: `make run` and `make test`. Each installs what it needs
# (uv from PyPI when missing, then the locked environment in .venv) before running.
# `make test` is lint (ruff), types (mypy), then the tests.
UV := ./scripts/uv

.PHONY: run test bench setup

setup:
	@$(UV) sync --frozen --quiet

run: setup
	$(UV) run --frozen kiosk run --snapshot var/snapshot.png

test: setup
	$(UV) run --frozen ruff check kiosk tests
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest -q

bench: setup
	$(UV) run --frozen kiosk bench
