#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test]"
# The boards' stubs go into their own folders: the two packages overwrite each other.
python3 tools/typecheck/check.py --install
python3 -m pytest host_tests -q "$@"
