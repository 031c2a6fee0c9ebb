#!/usr/bin/env bash
# Installs everything the tests need, then runs them (lint, format, pytest).
#
# What it installs, and where:
#   - system-wide, with apt-get (sudo when not root), only if /usr/bin/chromium
#     is missing: Debian's `chromium` package, for the status page's browser
#     test (Playwright's own browser download is never used);
#   - into the Python environment that `python3` runs in: pip's latest
#     version, this project in editable mode with its [test] extras, and the
#     boards' type stubs (under tools/typecheck/.stubs). Run it inside a
#     virtual environment when the system Python refuses pip (Debian's
#     "externally-managed-environment"): see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c 'import os, sys, sysconfig
marker = os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")
sys.exit(sys.prefix == sys.base_prefix and os.path.exists(marker))'; then
    echo "tools/test.sh: $(command -v python3) is the system's Python, which refuses pip." >&2
    echo "Make and activate a virtual environment first (see README.md):" >&2
    echo "  python3 -m venv .venv && . .venv/bin/activate" >&2
    exit 2
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "tools/test.sh: installing Debian's chromium system-wide (apt-get) for the browser test" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
fi
echo "tools/test.sh: installing pip, this project and its [test] extras into $(python3 -c 'import sys; print(sys.prefix)')" >&2
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test]"
# The boards' stubs go into their own folders: the two packages overwrite each other.
python3 tools/typecheck/check.py --install
# Lint and format (configured in pyproject.toml) before the tests: quick to fail.
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest host_tests -q "$@"
