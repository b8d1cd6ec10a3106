#!/usr/bin/env bash
# <repo root>/.venv-litellm with the pinned LiteLLM proxy and pytest (idempotent; see README.md).
# Env: PYTHON (default python3), LITELLM_VENV (default <repo root>/.venv-litellm).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec bash "$ROOT/tools/python-venv.sh" "${LITELLM_VENV:-$ROOT/.venv-litellm}" "$ROOT/litellm/requirements.txt" litellm
