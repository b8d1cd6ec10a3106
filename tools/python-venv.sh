#!/usr/bin/env bash
# Idempotent Python venv with pinned requirements: tools/python-venv.sh VENV REQUIREMENTS_FILE CHECK_BIN
# Creates VENV (python3 -m venv) and pip-installs the file; a second run is a fast no-op (a stamp
# holds the sha256 of the requirements + the Python version, and CHECK_BIN must run).
# Non-interactive (no TTY, CI=true); talks only to PyPI through pip. Env: PYTHON (default python3).
set -euo pipefail
VENV="$1"; REQ="$2"; CHECK="$3"
NAME="$(basename "$VENV")"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.requirements.sha256"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$VENV/bin/python" ]; then
  echo "[$NAME] creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
WANT="$(sha256sum "$REQ" | cut -d' ' -f1) $("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/$CHECK" ]; then
  echo "[$NAME] up to date"
  exit 0
fi
echo "[$NAME] installing $REQ"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQ"
"$VENV/bin/$CHECK" --version >/dev/null 2>&1 || { echo "[$NAME] $CHECK does not run" >&2; exit 1; }
printf '%s' "$WANT" > "$STAMP"
echo "[$NAME] done"
