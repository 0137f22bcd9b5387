#!/usr/bin/env bash
# Install uv when it is missing (from PyPI), then the locked environment (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
    echo "installing uv from PyPI" >&2
    python3 -m pip install --user --quiet uv 2>/dev/null \
        || python3 -m pip install --user --quiet --break-system-packages uv
fi
uv_bin=$(command -v uv 2>/dev/null || echo "$HOME/.local/bin/uv")
"$uv_bin" sync --frozen --quiet
