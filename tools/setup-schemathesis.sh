#!/usr/bin/env bash
# Idempotent: creates <repo root>/.venv-tools with a pinned schemathesis (the bad-input sweep in
# service/test/fuzz.int.test.ts). Second run is a fast no-op (a stamp file holds the pinned
# version + python version). Non-interactive; only talks to PyPI through pip.
# Env: PYTHON (default python3), TOOLS_VENV (default <repo root>/.venv-tools).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${TOOLS_VENV:-$ROOT/.venv-tools}"
SCHEMATHESIS_VERSION="4.32.5"
STAMP="$VENV/.schemathesis.stamp"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup-schemathesis] creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

WANT="schemathesis==$SCHEMATHESIS_VERSION $("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/schemathesis" ]; then
  echo "[setup-schemathesis] $VENV is up to date"
  exit 0
fi

echo "[setup-schemathesis] installing schemathesis==$SCHEMATHESIS_VERSION into $VENV"
"$VENV/bin/python" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
"$VENV/bin/schemathesis" --version >/dev/null || { echo "[setup-schemathesis] schemathesis does not run" >&2; exit 1; }
printf '%s' "$WANT" > "$STAMP"
echo "[setup-schemathesis] done: $("$VENV/bin/schemathesis" --version)"
