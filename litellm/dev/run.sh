#!/usr/bin/env bash
# `npm run litellm`: the pinned real LiteLLM proxy with its own PostgreSQL database and our durable
# callback, in the foreground. Installs what it needs on first use (litellm/dev/setup.sh), creates
# and migrates LiteLLM's database (litellm/dev/migrate.ts), then execs `litellm`.
#
# Env: LITELLM_DATABASE_URL (required: LiteLLM's own database, created if missing; not the
#      service's), LITELLM_PORT (4000), LITELLM_MASTER_KEY (sk-companion-dev), COMPANION_WEBHOOK_URL
#      (http://127.0.0.1:8787/webhooks/litellm), WEBHOOK_SECRET, LITELLM_CONFIG
#      (litellm/config.dev.yaml), COMPANION_SPOOL_PATH (./data/litellm-spool.sqlite3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV="$ROOT/litellm/dev"
if [ -z "${LITELLM_DATABASE_URL:-}" ]; then
  echo "npm run litellm: set LITELLM_DATABASE_URL to LiteLLM's own PostgreSQL database, e.g." >&2
  echo "  LITELLM_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/litellm npm run litellm" >&2
  exit 2
fi
VENV="$(bash "$DEV/setup.sh" | tail -1)"
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
node --import tsx "$DEV/migrate.ts" "$SITE/litellm_proxy_extras/migrations" "$LITELLM_DATABASE_URL"

export DATABASE_URL="$LITELLM_DATABASE_URL"
export LITELLM_MASTER_KEY="${LITELLM_MASTER_KEY:-sk-companion-dev}"
export COMPANION_WEBHOOK_URL="${COMPANION_WEBHOOK_URL:-http://127.0.0.1:8787/webhooks/litellm}"
export WEBHOOK_SECRET="${WEBHOOK_SECRET:-}"
export COMPANION_SPOOL_PATH="${COMPANION_SPOOL_PATH:-$ROOT/data/litellm-spool.sqlite3}"
mkdir -p "$(dirname "$COMPANION_SPOOL_PATH")"
# The schema is ours to apply (above): LiteLLM must not run `prisma migrate`, which needs the
# native schema engine (proxy/db/prisma_client.py, should_update_prisma_schema).
export DISABLE_SCHEMA_UPDATE=true
export PRISMA_QUERY_ENGINE_BINARY="$DEV/query-engine" PRISMA_SCHEMA_ENGINE_BINARY="$DEV/schema-engine"
export PRISMA_HIDE_UPDATE_MESSAGE=1
export LITELLM_LOCAL_MODEL_COST_MAP=True
export PATH="$VENV/bin:$PATH"
CONFIG="${LITELLM_CONFIG:-$ROOT/litellm/config.dev.yaml}"
echo "[litellm] http://127.0.0.1:${LITELLM_PORT:-4000}  config $CONFIG " >&2
exec "$VENV/bin/litellm" --config "$CONFIG" --host 127.0.0.1 --port "${LITELLM_PORT:-4000}" --num_workers 1
