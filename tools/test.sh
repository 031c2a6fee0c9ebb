#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser test drives Debian's Chromium (Playwright's own download cannot
# be fetched here, and is never used).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    fi
fi
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test]"
# The boards' stubs go into their own folders: the two packages overwrite each other.
python3 tools/typecheck/check.py --install
# Lint and format (configured in pyproject.toml) before the tests: quick to fail.
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m pytest host_tests -q "$@"
