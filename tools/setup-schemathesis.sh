#!/usr/bin/env bash
# <repo root>/.venv-tools with the pinned schemathesis of the bad-input sweep (idempotent).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$ROOT/tools/python-venv.sh" "${TOOLS_VENV:-$ROOT/.venv-tools}" "$ROOT/tools/schemathesis-requirements.txt" schemathesis
