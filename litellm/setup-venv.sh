#!/usr/bin/env bash
# Idempotent: creates <repo root>/.venv-litellm and installs litellm/requirements.txt into it.
# Second run is a fast no-op (a stamp file holds the sha256 of requirements.txt + python version).
# Non-interactive (works with no TTY and CI=true); only talks to PyPI through pip.
# Env: PYTHON (default python3), LITELLM_VENV (default <repo root>/.venv-litellm).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${LITELLM_VENV:-$ROOT/.venv-litellm}"
REQ="$HERE/requirements.txt"
STAMP="$VENV/.requirements.sha256"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1

sha_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup-venv] creating $VENV with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi

WANT="$(sha_of "$REQ") $("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/litellm" ]; then
  echo "[setup-venv] $VENV is up to date"
  exit 0
fi

echo "[setup-venv] installing $REQ into $VENV"
"$VENV/bin/python" -m pip install --quiet -r "$REQ"
LITELLM_LOCAL_MODEL_COST_MAP=True "$VENV/bin/python" -c "import litellm.proxy.proxy_server" >/dev/null 2>&1 || { echo "[setup-venv] litellm proxy import failed" >&2; exit 1; }
printf '%s' "$WANT" > "$STAMP"
echo "[setup-venv] done: $("$VENV/bin/python" -m pip show litellm 2>/dev/null | grep '^Version' || true)"
