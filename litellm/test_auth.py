"""
TEST-ONLY custom auth for a LiteLLM proxy without a database (config.test*.yaml).

LiteLLM holds virtual keys in its Prisma database. The callback-path tests run the proxy without
one (fast to start; the database-backed proxy runs in the other tests, see litellm/dev/). This
custom auth stands in for the key table there:

* the master key (env LITELLM_MASTER_KEY) is accepted as usual;
* ANY bearer key that starts with ``sk-`` is accepted as a "personal key". LiteLLM's
  ``UserAPIKeyAuth`` hashes ``api_key`` itself, so the usage event's
  ``metadata.user_api_key_hash`` is ``sha256(key).hexdigest()``, exactly what LiteLLM's
  ``hash_token`` stores as ``token`` for a real virtual key (``/key/generate`` -> ``token``);
* anything else gets 401.

Optional, in-memory (lost on restart) budget enforcement, to show a person being stopped:
  TEST_AUTH_MAX_BUDGET   USD per key (float). Unset = unlimited.
  TEST_AUTH_BUDGETS      JSON object {"<sha256 of key>" or "<plaintext key>": <USD>} overriding it.
  TEST_AUTH_BLOCKED      comma-separated keys or hashes refused as blocked keys (401).
Spend is the sum of ``response_cost`` of successful calls seen by this process; the check runs
before the call (like LiteLLM: spend >= max_budget -> refused), so concurrent calls can overshoot.
Both refusals raise what LiteLLM 1.103.7 itself raises for a virtual key, so LiteLLM's own auth
exception handler (proxy/auth/auth_exception_handler.py) and the callbacks'
async_post_call_failure_hook run exactly as in production:
* over budget: litellm.BudgetExceededError as proxy/auth/auth_checks.py:_virtual_key_max_budget_check
  raises it (entity_type "key", entity_id = the key hash, message "Budget has been exceeded!
  Key=<alias> (sk-...abcd) Current cost: X, Max budget: Y") -> HTTP 429, type "budget_exceeded";
* blocked: Exception("Key is blocked. ...") as proxy/auth/user_api_key_auth.py raises it for
  ``valid_token.blocked`` -> HTTP 401, type "auth_error".

Never reference this module from the production config.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import Any, Optional

import litellm
from fastapi import Request
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth

_spend: dict[str, float] = {}
_spend_lock = threading.Lock()
_tracker_installed = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def alias_of(key_hash: str) -> str:
    """The key alias this test auth reports (the service names real keys ``tcc-<person>-...``)."""
    return f"tcc-test-{key_hash[:8]}"


def _budget_for(key: str, key_hash: str) -> Optional[float]:
    raw = os.environ.get("TEST_AUTH_BUDGETS")
    if raw:
        try:
            m = json.loads(raw)
            for k in (key_hash, key):
                if k in m and m[k] is not None:
                    return float(m[k])
        except Exception:
            pass
    v = os.environ.get("TEST_AUTH_MAX_BUDGET")
    return float(v) if v not in (None, "") else None


def _blocked(key: str, key_hash: str) -> bool:
    raw = os.environ.get("TEST_AUTH_BLOCKED", "")
    items = {s.strip() for s in raw.split(",") if s.strip()}
    return key in items or key_hash in items


class _SpendTracker(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        try:
            slo = kwargs.get("standard_logging_object") or {}
            h = (slo.get("metadata") or {}).get("user_api_key_hash")
            cost = float(slo.get("response_cost") or 0.0)
            if h:
                with _spend_lock:
                    _spend[h] = _spend.get(h, 0.0) + cost
        except Exception:
            pass


def _install_tracker() -> None:
    global _tracker_installed
    if _tracker_installed:
        return
    _tracker_installed = True
    tracker = _SpendTracker()
    try:
        litellm.logging_callback_manager.add_litellm_callback(tracker)
    except Exception:
        litellm.callbacks.append(tracker)


def _bearer(api_key: str) -> str:
    k = (api_key or "").strip()
    if k.lower().startswith("bearer "):
        k = k[7:].strip()
    return k


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    _install_tracker()
    key = _bearer(api_key)
    master = os.environ.get("LITELLM_MASTER_KEY")
    if master and key == master:
        return UserAPIKeyAuth(api_key=key, user_role=LitellmUserRoles.PROXY_ADMIN)
    if not key.startswith("sk-") or len(key) < 4:
        raise ProxyException(
            message="Authentication Error, test_auth: expected a bearer key starting with sk-",
            type=ProxyErrorTypes.auth_error,
            param="api_key",
            code=401,
        )
    h = hash_key(key)
    if _blocked(key, h):
        raise Exception("Key is blocked. Update via `/key/unblock` if you're an admin.")
    budget = _budget_for(key, h)
    with _spend_lock:
        spend = _spend.get(h, 0.0)
    if budget is not None and spend >= budget:
        raise litellm.BudgetExceededError(
            current_cost=spend,
            max_budget=budget,
            message=f"Budget has been exceeded! Key={alias_of(h)} (sk-...{key[-4:]}) Current cost: {spend}, Max budget: {budget}",
            entity_type="key",
            entity_id=h,
        )
    # api_key is hashed by UserAPIKeyAuth's validator -> metadata.user_api_key_hash == sha256(key)
    return UserAPIKeyAuth(
        api_key=key,
        spend=spend,
        max_budget=budget,
        user_role=LitellmUserRoles.INTERNAL_USER,
    )
