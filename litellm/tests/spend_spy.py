"""TEST-ONLY: LiteLLM's own failure accounting, recorded, inside a proxy that has no database.

LiteLLM registers ``_ProxyDBLogger`` only when it has a database (proxy/proxy_server.py:
cost_tracking, ``if prisma_client is not None``), so the no-DB test proxy never charges a key for
anything. This module gives that proxy the real ``_ProxyDBLogger`` (unchanged: its
``async_post_call_failure_hook`` and ``_write_failure_spend_rows`` run as in production) with the
one seam the class offers, ``spend_writer``, pointed at a recorder instead of
``DBSpendUpdateWriter``. Every ``update_database`` call it would make (one per spend row, each
adding ``response_cost`` to the key's spend) is appended as one JSON line to $SPEND_SPY_PATH:

    {"request_id": ..., "litellm_call_id": ..., "response_cost": ..., "token": ...}

``request_id`` is what the spend-log row would be keyed by
(proxy/spend_tracking/spend_tracking_utils.py: get_spend_logs_id: the standard logging object's
``id``, else ``litellm_call_id``; the exception passed as the response has no ``id``).

Config: ``litellm_settings: { callbacks: [companion_callback.proxy_handler_instance, spend_spy.spy] }``
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from litellm.proxy.hooks.proxy_track_cost_callback import _ProxyDBLogger

_lock = threading.Lock()


class _RecordingWriter:
    async def update_database(self, *, token: Any, response_cost: Any, kwargs: Any = None, **_: Any) -> bool:
        kwargs = kwargs or {}
        slo = kwargs.get("standard_logging_object") if isinstance(kwargs.get("standard_logging_object"), dict) else {}
        row = {
            "request_id": slo.get("id") or kwargs.get("litellm_call_id"),
            "litellm_call_id": kwargs.get("litellm_call_id"),
            "response_cost": response_cost,
            "token": token,
        }
        path = os.environ.get("SPEND_SPY_PATH")
        if path:
            with _lock, open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, default=str) + "\n")
        return True


_writer = _RecordingWriter()
spy = _ProxyDBLogger(spend_writer=lambda: _writer)  # type: ignore[arg-type,return-value]
