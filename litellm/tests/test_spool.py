"""Unit tests of the durable callback: spool, batching, retries, dead letters, bounds, restart."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest

import companion_callback as cc
from capture_server import CaptureServer

SECRET = "unit-secret-xyz"


@pytest.fixture(autouse=True)
def _capture_module_logs(caplog):
    # companion_callback's logger does not propagate (own handler, no duplicates inside LiteLLM)
    cc.log.addHandler(caplog.handler)
    yield
    cc.log.removeHandler(caplog.handler)


def event(i: int = 0, **extra) -> dict:
    slo = {
        "id": f"chatcmpl-{i}",
        "litellm_call_id": str(uuid.uuid4()),
        "call_type": "acompletion",
        "status": "success",
        "response_cost": 0.0005,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "startTime": 1700000000.0 + i,
        "endTime": 1700000001.0 + i,
        "model": "openai/mock-gpt",
        "messages": [{"role": "user", "content": "secret prompt"}],
        "response": {"choices": [{"message": {"content": "secret answer"}}]},
        "guardrail_information": [{"guardrail_response": "secret"}],
        "metadata": {
            "user_api_key_hash": "a" * 64,
            "mcp_tool_call_metadata": {"arguments": {"q": "secret"}},
            "user_api_key_alias": "alice",
        },
    }
    slo.update(extra)
    return {"standard_logging_object": slo, "call_type": "acompletion"}


def make_logger(tmp_path, url="", **kw) -> cc.CompanionLogger:
    args = dict(
        webhook_url=url,
        secret=SECRET,
        spool_path=str(tmp_path / "spool.sqlite3"),
        batch_size=kw.pop("batch_size", 512),
        flush_interval=0.05,
        retry_base=0.01,
        retry_max=0.05,
        http_timeout=5,
        autostart=False,
    )
    args.update(kw)
    return cc.CompanionLogger(**args)


def test_append_is_durable_and_strips_content(tmp_path):
    lg = make_logger(tmp_path)
    asyncio.run(lg.async_log_success_event(event(1), None, None, None))
    asyncio.run(lg.async_log_failure_event(event(2, status="failure", response_cost=0.0), None, None, None))
    assert lg.spool.pending() == 2
    rows = lg.spool.lease(10)
    payloads = [json.loads(p) for _, p in rows]
    for p in payloads:
        for f in ("messages", "response", "guardrail_information"):
            assert f not in p
        assert "mcp_tool_call_metadata" not in p["metadata"]
        assert p["metadata"]["user_api_key_alias"] == "alice"
        assert "secret" not in json.dumps(p)
    assert [p["status"] for p in payloads] == ["success", "failure"]
    lg.close()


def test_include_content_keeps_messages(tmp_path):
    lg = make_logger(tmp_path, include_content=True)
    lg.log_event(event(1))
    (_, p), = lg.spool.lease(10)
    assert json.loads(p)["messages"][0]["content"] == "secret prompt"
    lg.close()


def test_non_hash_key_is_rehashed(tmp_path):
    lg = make_logger(tmp_path)
    e = event(1)
    e["standard_logging_object"]["metadata"]["user_api_key_hash"] = "plaintext-garbage"
    lg.log_event(e)
    (_, p), = lg.spool.lease(10)
    md = json.loads(p)["metadata"]
    assert md["user_api_key_hash"] != "plaintext-garbage" and len(md["user_api_key_hash"]) == 64
    assert md["user_api_key_hash_rehashed"] is True
    lg.close()


def test_missing_standard_logging_object_is_ignored_never_raises(tmp_path):
    lg = make_logger(tmp_path)
    asyncio.run(lg.async_log_success_event({}, None, None, None))
    asyncio.run(lg.async_log_success_event(None, None, None, None))
    # not JSON-able values are stringified (default=str)
    lg.log_event(event(3, startTime=object()))
    assert lg.spool.pending() == 1
    lg.close()


def test_batches_delivered_with_auth_and_deleted(tmp_path):
    with CaptureServer(secret=SECRET) as cap:
        lg = make_logger(tmp_path, cap.url, batch_size=4)
        ids = []
        for i in range(10):
            e = event(i)
            ids.append(e["standard_logging_object"]["litellm_call_id"])
            lg.log_event(e)
        assert lg.flush(timeout=10) == 0
        assert [len(json.loads(r["body"])) for r in cap.requests] == [4, 4, 2]
        assert [e["litellm_call_id"] for e in cap.events] == ids
        for r in cap.requests:
            assert r["headers"]["authorization"] == f"Bearer {SECRET}"
            assert r["headers"]["content-type"] == "application/json"
            assert r["path"] == "/webhooks/litellm"
        assert lg.spool.pending() == 0
        assert lg.stats["delivered"] == 10
        lg.close()


def test_retry_on_500_then_success_delivers_exactly_once(tmp_path):
    with CaptureServer(secret=SECRET, responder=lambda n, body: 500 if n < 2 else 200) as cap:
        lg = make_logger(tmp_path, cap.url)
        for i in range(3):
            lg.log_event(event(i))
        assert lg.flush(timeout=10) == 0
        assert len(cap.requests) == 3  # 500, 500, 200
        assert len(cap.events) == 3
        assert len({e["litellm_call_id"] for e in cap.events}) == 3
        assert lg.stats["failed_attempts"] == 2
        lg.close()


@pytest.mark.parametrize("status", [408, 429, 502, 503, 401, 403])
def test_retryable_statuses_keep_rows(tmp_path, status, caplog):
    with CaptureServer(responder=lambda n, body: status if n == 0 else 200) as cap:
        lg = make_logger(tmp_path, cap.url)
        lg.log_event(event(1))
        with caplog.at_level(logging.WARNING, logger="companion_callback"):
            assert lg.flush(timeout=10) == 0
        assert len(cap.events) == 1 and len(cap.requests) == 2
        if status in (401, 403):
            assert any("CONFIG ERROR" in r.getMessage() for r in caplog.records)
        assert SECRET not in caplog.text
        lg.close()


def test_connection_refused_keeps_rows_then_delivers(tmp_path):
    cap = CaptureServer()
    url = cap.url
    port = cap.port
    cap._server.server_close()  # nothing listens on the port now
    lg = make_logger(tmp_path, url)
    lg.log_event(event(1))
    assert lg.flush(timeout=0.3) == 1
    assert lg.spool.pending() == 1
    with CaptureServer(port=port) as cap2:
        assert lg.flush(timeout=10) == 0
        assert len(cap2.events) == 1
    lg.close()


def test_413_halves_batch(tmp_path):
    def responder(n, body):
        return 413 if len(json.loads(body)) > 2 else 200

    with CaptureServer(responder=responder) as cap:
        lg = make_logger(tmp_path, cap.url, batch_size=8)
        for i in range(8):
            lg.log_event(event(i))
        assert lg.flush(timeout=10) == 0
        sizes = [len(json.loads(r["body"])) for r in cap.requests]
        assert sizes[:3] == [8, 4, 2]
        assert len(cap.events) == 8
        assert lg.batch_size == 2
        assert lg.spool.dead_letters() == []
        lg.close()


def test_413_for_single_event_dead_letters(tmp_path):
    with CaptureServer(responder=lambda n, body: 413) as cap:
        lg = make_logger(tmp_path, cap.url, batch_size=2)
        lg.log_event(event(1))
        lg.log_event(event(2))
        assert lg.flush(timeout=10) == 0
        dl = lg.spool.dead_letters()
        assert len(dl) == 2 and all(d["status"] == 413 for d in dl)
        lg.close()


@pytest.mark.parametrize("status", [400, 422])
def test_malformed_batch_goes_to_dead_letter(tmp_path, status, caplog):
    with CaptureServer(responder=lambda n, body: status if n == 0 else 200) as cap:
        lg = make_logger(tmp_path, cap.url)
        lg.log_event(event(1))
        lg.log_event(event(2))
        with caplog.at_level(logging.ERROR, logger="companion_callback"):
            assert lg.flush(timeout=10) == 0
        assert len(cap.requests) == 1  # not retried
        dl = lg.spool.dead_letters()
        assert len(dl) == 2
        assert dl[0]["status"] == status and f"HTTP {status}" in dl[0]["reason"]
        assert json.loads(dl[0]["payload"])["id"] == "chatcmpl-1"
        assert any("dead_letter" in r.getMessage() for r in caplog.records)
        # later events still flow
        lg.log_event(event(3))
        assert lg.flush(timeout=10) == 0
        assert len(cap.events) == 1
        lg.close()


def test_disk_full_drops_counts_and_logs(tmp_path, caplog):
    lg = make_logger(tmp_path, max_bytes=64 * 1024)
    big = "x" * 4000
    with caplog.at_level(logging.ERROR, logger="companion_callback"):
        results = [lg.log_event(event(i, padding=big)) for i in range(40)]
    assert results[0] is True
    assert False in results
    kept = lg.spool.pending()
    dropped = results.count(False)
    assert kept + dropped == 40 and dropped > 0
    assert lg.stats["dropped_full"] == dropped
    assert lg.spool.counter("dropped_full") == dropped
    full_logs = [r for r in caplog.records if "SPOOL FULL" in r.getMessage()]
    assert 1 <= len(full_logs) <= dropped  # loud, but rate-limited
    assert lg.spool.used_bytes() <= 64 * 1024 + 8192  # bound is approximate (page granularity)
    # the async hook never raises either
    asyncio.run(lg.async_log_success_event(event(99, padding=big), None, None, None))
    lg.close()


def test_restart_new_instance_delivers_leftovers(tmp_path):
    lg1 = make_logger(tmp_path, "http://127.0.0.1:9/unreachable")
    ids = []
    for i in range(5):
        e = event(i)
        ids.append(e["standard_logging_object"]["litellm_call_id"])
        lg1.log_event(e)
    assert lg1.flush(timeout=0.2) == 5
    # simulate a crash while a batch is in flight: rows leased by a "dead" owner
    lg1.spool.lease(5)
    lg1.spool._conn.execute("UPDATE spool SET lease_owner = '999999999:dead'")
    lg1.close()
    with CaptureServer(secret=SECRET) as cap:
        lg2 = make_logger(tmp_path, cap.url)
        assert lg2.flush(timeout=10) == 0
        assert sorted(e["litellm_call_id"] for e in cap.events) == sorted(ids)
        lg2.close()


def test_background_worker_delivers(tmp_path):
    with CaptureServer(secret=SECRET) as cap:
        lg = make_logger(tmp_path, cap.url, autostart=True)

        async def main():
            for i in range(7):
                await lg.async_log_success_event(event(i), None, None, None)

        asyncio.run(main())
        assert len(cap.wait_for(7, timeout=10)) == 7
        lg.close()
        assert lg.spool is not None


def test_module_instance_is_lazy_and_reads_env(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_SPOOL_PATH", str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("COMPANION_BATCH_SIZE", "7")
    monkeypatch.setenv("COMPANION_AUTOSTART", "false")
    monkeypatch.setattr(cc, "_instance", None)
    inst = cc.proxy_handler_instance
    assert inst is cc.proxy_handler_instance
    assert inst.max_batch_size == 7 and inst.spool_path.endswith("env.sqlite3")
    from litellm.integrations.custom_logger import CustomLogger
    assert isinstance(inst, CustomLogger)
    inst.close()
    monkeypatch.setattr(cc, "_instance", None)


def test_dedup_key_is_stable_and_distinguishes_reused_call_ids(tmp_path):
    lg = make_logger(tmp_path)
    e1 = event(1, litellm_call_id="client-chosen")
    e2 = event(2, litellm_call_id="client-chosen")  # other call, same client-supplied call id
    lg.log_event(e1)
    lg.log_event(e1)  # same call reported twice
    lg.log_event(e2)
    keys = [json.loads(p)["companion_dedup_key"] for _, p in lg.spool.lease(10)]
    assert keys[0] == keys[1] != keys[2]
    lg.close()


def test_signs_the_body_when_a_signing_secret_is_set(tmp_path, monkeypatch):
    import hashlib
    import hmac

    monkeypatch.setenv("COMPANION_SIGNING_SECRET", "sign-me")
    with CaptureServer(secret=SECRET) as cap:
        lg = make_logger(tmp_path, cap.url)
        lg.log_event(event(1))
        assert lg.flush(timeout=10) == 0
        req = cap.requests[0]
        assert req["headers"]["x-companion-source"] == "durable-callback"
        parts = dict(p.split("=", 1) for p in req["headers"]["x-companion-signature"].split(","))
        body = req["body"] if isinstance(req["body"], bytes) else req["body"].encode("utf-8")
        expected = hmac.new(b"sign-me", parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert parts["v1"] == expected
        lg.close()
