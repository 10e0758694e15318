#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with the CPU torch wheel installed first,
# then the project (editable) with its dev extras. Quick when nothing changed: the stamp holds
# a hash of pyproject.toml and this script.
#   scripts/setup.sh            runtime + dev dependencies
#   scripts/setup.sh --browser  also Debian's chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=.venv
STAMP=$VENV/.setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing dependencies (first run takes a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # The CPU wheel first: any other torch requirement would pull gigabytes of CUDA packages.
    "$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    echo "$want" > "$STAMP"
else
    echo "setup: $VENV is up to date"
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
    echo "setup: installing Debian's chromium for the browser tests"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
