"""What LiteLLM charges for failed calls equals what the durable callback spools, per call, exactly.

End to end: the REAL LiteLLM proxy (config.test-failures.yaml, no database) in front of
litellm/fake_provider.py, with LiteLLM's own _ProxyDBLogger (tests/spend_spy.py) recording the
spend rows it would add to the key's spend. Three failures LiteLLM bills although the failure event
it logs says 0: a provider read timeout whose two earlier retries also timed out (three rows:
<id>, <id>-attempt-0, <id>-attempt-1), a client that hangs up (the proxy's 499), and, for
contrast, a broken stream (its failure event already carries the cost: nothing extra).

Function level (no proxy): the rules of companion_callback.failure_charge_events that the real
proxy cannot be driven into here (LiteLLM charging less than the event says, error tracking off,
a non-LLM route, a LiteLLM without the functions we read)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import litellm
import pytest
from litellm.proxy._types import UserAPIKeyAuth
from litellm.proxy.hooks.proxy_track_cost_callback import _ProxyDBLogger
from litellm.proxy.utils import BilledFailedAttempt

import companion_callback as cc
from capture_server import CaptureServer
from test_e2e_proxy import VENV_LITELLM, Proxy, free_port, sha, wait_until

LITELLM_DIR = Path(__file__).resolve().parent.parent
SECRET = "failcost-secret"
SUFFIX = re.compile(r"-(attempt-\d+|billed)$")
INPUT_PRICE = Decimal("0.00001")  # config.test-failures.yaml, input_cost_per_token


def call_of(request_id: str) -> str:
    return SUFFIX.sub("", request_id)


def per_call(rows: list[dict], id_field: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        cid = call_of(r[id_field])
        out[cid] = out.get(cid, 0) + cc.usd_to_nano(r["response_cost"])
    return out


@pytest.mark.skipif(not VENV_LITELLM.exists(), reason="needs the LiteLLM venv (see test_e2e_proxy.py)")
def test_the_real_proxy_charges_what_we_book_for_failed_calls(tmp_path):
    cap = CaptureServer(secret=SECRET).start()
    provider_port = free_port()
    python = VENV_LITELLM.parent / "python"
    provider = subprocess.Popen([str(python), str(LITELLM_DIR / "fake_provider.py"), str(provider_port)],
                                start_new_session=True, stdout=subprocess.DEVNULL)
    spent = tmp_path / "litellm-spend-rows.jsonl"
    key = f"sk-failcost-{os.urandom(4).hex()}"
    proxy = None
    try:
        proxy = Proxy("config.test-failures.yaml", dict(
            COMPANION_WEBHOOK_URL=cap.url, WEBHOOK_SECRET=SECRET, COMPANION_SPOOL_PATH=str(tmp_path / "spool.sqlite3"),
            COMPANION_FLUSH_INTERVAL="0.2", FAKE_PROVIDER_URL=f"http://127.0.0.1:{provider_port}/v1",
            SPEND_SPY_PATH=str(spent)), tmp_path / "litellm.log")
        headers = {"Authorization": f"Bearer {key}"}
        body = lambda model, text, **kw: {"model": model, "messages": [{"role": "user", "content": text}], **kw}  # noqa: E731

        # (a)+(b) read timeout (timeout 1 s, the provider answers after 3 s), retried twice by the router
        r = httpx.post(f"{proxy.base}/v1/chat/completions", headers=headers, json=body("slow", "time out please"), timeout=60)
        assert r.status_code == 408, r.text
        timed_out = r.headers.get("x-litellm-call-id")
        # (c) the client hangs up while the provider works: LiteLLM's own 499
        with pytest.raises(httpx.TimeoutException):
            httpx.post(f"{proxy.base}/v1/chat/completions", headers=headers, json=body("slow", "i will hang up"), timeout=0.5)
        # contrast: a stream broken mid-way, priced on its failure event already
        with httpx.stream("POST", f"{proxy.base}/v1/chat/completions", headers=headers,
                          json=body("break-stream", "break it", stream=True), timeout=30) as s:
            for _ in s.iter_bytes():
                pass

        rows = lambda: [json.loads(line) for line in spent.read_text().splitlines()] if spent.exists() else []  # noqa: E731
        wait_until(lambda: len({call_of(x["request_id"]) for x in rows()}) >= 3, 40, "LiteLLM's failure spend rows")
        charged = per_call(rows(), "request_id")
        wait_until(lambda: set(per_call([e for e in cap.events if e.get("status") == "failure"], "litellm_call_id")) >= set(charged),
                   30, "the callback's failure events")
        time.sleep(1.0)  # nothing more arrives
    finally:
        if proxy is not None:
            proxy.stop()
        os.killpg(provider.pid, signal.SIGTERM)
        cap.stop()

    events = [e for e in cap.events if e["metadata"]["user_api_key_hash"] == sha(key)]
    assert all(e["status"] == "failure" for e in events)
    booked = per_call(events, "litellm_call_id")
    # Σ booked == Σ LiteLLM charged, per call, to the nano-USD
    assert booked == charged, (booked, charged)
    assert len(charged) == 3

    spy_rows = rows()
    by_call = lambda cid: sorted(e["litellm_call_id"] for e in events if call_of(e["litellm_call_id"]) == cid)  # noqa: E731
    # the timeout: three rows LiteLLM charged at the prompt's input price (10 tokens × 0.00001)
    assert timed_out in charged
    assert sorted(x["request_id"] for x in spy_rows if call_of(x["request_id"]) == timed_out) == [
        timed_out, f"{timed_out}-attempt-0", f"{timed_out}-attempt-1"]
    ev = {e["litellm_call_id"]: e for e in events}
    prompt = ev[f"{timed_out}-billed"]["prompt_tokens"]  # LiteLLM's estimate of the prompt (10 tokens)
    assert charged[timed_out] == 3 * prompt * int(INPUT_PRICE * 10**9) > 0
    assert by_call(timed_out) == [timed_out, f"{timed_out}-attempt-0", f"{timed_out}-attempt-1", f"{timed_out}-billed"]
    assert ev[timed_out]["response_cost"] == 0  # what LiteLLM's failure event says
    assert ev[f"{timed_out}-billed"]["response_cost"] == cc.nano_text(charged[timed_out] // 3)
    for n in (0, 1):
        a = ev[f"{timed_out}-attempt-{n}"]
        assert a["id"] == f"{timed_out}-attempt-{n}"  # = LiteLLM's spend-log request_id
        assert (a["prompt_tokens"], a["completion_tokens"], cc.usd_to_nano(a["response_cost"])) == (
            prompt, 0, prompt * int(INPUT_PRICE * 10**9))
        assert a["error_information"]["error_class"] == "Timeout"
    for e in events:  # same person, same period, same call as the failure
        base = ev[call_of(e["litellm_call_id"])]
        assert (e["startTime"], e["metadata"]["user_api_key_hash"], e["model_group"]) == (
            base["startTime"], base["metadata"]["user_api_key_hash"], base["model_group"])
        assert "messages" not in e and "response" not in e

    disconnected = next(c for c in charged if c != timed_out and ev[c]["error_information"]["error_code"] == "499")
    assert charged[disconnected] == ev[f"{disconnected}-billed"]["prompt_tokens"] * int(INPUT_PRICE * 10**9) > 0
    assert by_call(disconnected) == [disconnected, f"{disconnected}-billed"]
    assert ev[f"{disconnected}-billed"]["error_information"]["error_code"] == "499"

    broken = next(c for c in charged if c not in (timed_out, disconnected))
    assert by_call(broken) == [broken]  # its failure event already carries what LiteLLM charged
    assert charged[broken] == cc.usd_to_nano(ev[broken]["response_cost"]) > 0

    # the service's fixture: these payloads, as the real proxy produced them
    out = os.environ.get("FAILCOST_FIXTURE_OUT")
    if out:
        Path(out).write_text(json.dumps({"litellm": litellm_version(), "key": key, "litellm_spend_rows": spy_rows,
                                         "events": events}, indent=1, default=str) + "\n")


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


# ------------------------------------------------------------------------------ function level
CALL = "5d1c0f7e-0000-4000-8000-00000000abcd"


def request_data(*, cost: float = 0.0001, logged: float = 0.0, attempts: int = 0, stream_usage: bool = True,
                 route_meta: dict | None = None) -> dict:
    """request_data as ProxyLogging.post_call_failure_hook hands it to callbacks (the fields
    _failure_fields_to_lift lifts), the shape the real proxy produced for a timeout above."""
    usage = litellm.Usage(prompt_tokens=10, completion_tokens=0, total_tokens=10)
    slo = {"id": CALL, "litellm_call_id": CALL, "status": "failure", "response_cost": logged, "prompt_tokens": 0,
           "completion_tokens": 0, "total_tokens": 0, "startTime": 1796209999.25, "call_type": "acompletion",
           "messages": [{"role": "user", "content": "secret"}],
           "metadata": {"user_api_key_hash": "a" * 64}, "error_information": {"error_code": "408", "error_class": "Timeout"}}
    data = {"litellm_call_id": CALL, "metadata": dict(route_meta or {}), "standard_logging_object": slo,
            "response_cost": cost, "combined_usage_object": usage if stream_usage else {"prompt_tokens": 10}}
    if attempts:
        data["billed_failed_attempts"] = tuple(
            BilledFailedAttempt(attempted_retries=i, deployment_id="dep", usage=usage, response_cost=0.0001) for i in range(attempts))
    return data


@pytest.fixture
def db_logger(monkeypatch):
    """LiteLLM charging failures, as with its database (proxy_server.py: cost_tracking)."""
    monkeypatch.setattr(litellm, "callbacks", [_ProxyDBLogger(spend_writer=lambda: None)])
    from litellm.proxy import proxy_server
    monkeypatch.setattr(proxy_server, "general_settings", {})
    return proxy_server


def route(r: str = "/v1/chat/completions") -> UserAPIKeyAuth:
    return UserAPIKeyAuth(request_route=r)


def test_attempts_and_the_billed_difference(db_logger):
    stats: dict = {}
    evs = cc.failure_charge_events(request_data(attempts=2), route(), stats)
    assert [(e["litellm_call_id"], e["response_cost"]) for e in evs] == [
        (f"{CALL}-billed", "0.000100000"), (f"{CALL}-attempt-0", 0.0001), (f"{CALL}-attempt-1", 0.0001)]
    assert [e["id"] for e in evs] == [f"{CALL}-billed", f"{CALL}-attempt-0", f"{CALL}-attempt-1"]
    assert evs[0]["prompt_tokens"] == 10 and evs[0]["error_information"]["error_class"] == "Timeout"
    assert all(e["startTime"] == 1796209999.25 and e["metadata"]["user_api_key_hash"] == "a" * 64 for e in evs)
    assert stats["failure_supplements"] == 3


def test_attempts_without_ids_of_their_own_never_collide_with_the_failure(db_logger):
    data = request_data(attempts=1)
    del data["litellm_call_id"]  # LiteLLM then leaves the attempt row's litellm_call_id unset
    data["standard_logging_object"]["id"] = None  # and its standard logging object as it is
    billed, attempt = cc.failure_charge_events(data, route())
    assert (attempt["id"], attempt["litellm_call_id"]) == (f"{CALL}-attempt-0", f"{CALL}-attempt-0")
    assert billed["litellm_call_id"] == f"{CALL}-billed"


def test_the_difference_is_exact_in_nano_usd(db_logger):
    # 0.1 + 0.2 style floats: F and E round on their own, the supplement is F - E in nano-USD
    data = request_data(cost=0.30000000049, logged=0.0000000005)
    (e,) = cc.failure_charge_events(data, route())
    assert cc.usd_to_nano(0.30000000049) == 300_000_000  # ...00049 rounds down
    assert cc.usd_to_nano(0.0000000005) == 1  # half away from zero, like money.ts parseScaled
    assert e["response_cost"] == "0.299999999"
    assert cc.usd_to_nano(e["response_cost"]) + cc.usd_to_nano(0.0000000005) == cc.usd_to_nano(0.30000000049)


def test_nothing_extra_when_the_event_already_carries_the_cost(db_logger):
    assert cc.failure_charge_events(request_data(cost=0.00015000000000000001, logged=0.00015000000000000001), route()) == []


def test_less_charged_than_logged_is_reported_never_negative(db_logger):
    # combined_usage_object that is not a litellm.Usage: _ProxyDBLogger charges 0 for the final row
    stats: dict = {}
    assert cc.failure_charge_events(request_data(logged=0.00025, stream_usage=False), route(), stats) == []
    assert stats["overbooked_failures"] == 1


def test_where_litellm_charges_nothing_we_book_nothing(db_logger, monkeypatch):
    data = lambda: request_data(attempts=1)  # noqa: E731
    assert cc.failure_charge_events(data(), route("/key/generate")) == []  # not an LLM route
    monkeypatch.setattr(db_logger, "general_settings", {"disable_error_logs": True})
    assert cc.failure_charge_events(data(), route()) == []
    monkeypatch.setattr(db_logger, "general_settings", {"disable_spend_updates": True})
    assert cc.failure_charge_events(data(), route()) == []
    monkeypatch.setattr(db_logger, "general_settings", {})
    monkeypatch.setattr(litellm, "callbacks", [])  # no database: no _ProxyDBLogger
    assert cc.failure_charge_events(data(), route()) == []


def test_a_litellm_without_the_functions_loads_and_books_nothing(db_logger, monkeypatch):
    monkeypatch.setattr(cc, "_accounting", None)
    import builtins
    real_import = builtins.__import__

    def no_hooks(name, *a, **kw):
        if name == "litellm.proxy.hooks.proxy_track_cost_callback":
            raise ImportError("moved")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_hooks)
    assert cc.failure_charge_events(request_data(attempts=1), route()) == []
    monkeypatch.setattr(builtins, "__import__", real_import)
    monkeypatch.setattr(cc, "_accounting", None)
    assert len(cc.failure_charge_events(request_data(attempts=1), route())) == 2


@pytest.mark.parametrize("ours_first", [True, False])
@pytest.mark.parametrize("guardrail_in_metadata,expected", [(True, 300_000), (False, 320_000)])
def test_same_sum_as_litellms_own_hook_whichever_runs_first(db_logger, ours_first, guardrail_in_metadata, expected):
    """LiteLLM's real _ProxyDBLogger.async_post_call_failure_hook (rows recorded, not written) and
    ours on one request_data, in both orders: Σ ours + the failure event == Σ LiteLLM's rows."""
    written: list[tuple[str, float]] = []

    class Writer:
        async def update_database(self, *, response_cost, kwargs, **_):
            written.append((kwargs["standard_logging_object"]["id"], response_cost))
            return True

    litellm_hook = _ProxyDBLogger(spend_writer=lambda: Writer())
    db_logger_callbacks = [litellm_hook]
    litellm.callbacks = db_logger_callbacks
    # _ProxyDBLogger prices the guardrail information of request_data["metadata"], or when that
    # lacks the key, of request_data["litellm_metadata"] (here 0.00002 USD)
    data = request_data(attempts=2, route_meta={"standard_logging_guardrail_information": None} if guardrail_in_metadata else {})
    data["litellm_metadata"] = {"standard_logging_guardrail_information": {"guardrail_name": "g", "guardrail_cost": 0.00002}}
    exc = litellm.Timeout("timed out", model="m", llm_provider="openai")
    auth = UserAPIKeyAuth(request_route="/v1/chat/completions", api_key="a" * 64)

    async def both():
        if ours_first:
            evs = cc.failure_charge_events(data, auth)
            await litellm_hook.async_post_call_failure_hook(data, exc, auth)
        else:
            await litellm_hook.async_post_call_failure_hook(data, exc, auth)
            evs = cc.failure_charge_events(data, auth)
        return evs

    events = asyncio.run(both())
    charged = sum(cc.usd_to_nano(c) for _, c in written)
    booked = cc.usd_to_nano(data["standard_logging_object"]["response_cost"]) + sum(cc.usd_to_nano(e["response_cost"]) for e in events)
    assert len(written) == 3 and charged == expected and booked == charged
    assert sorted(i for i, _ in written) == sorted([CALL] + [e["id"] for e in events if e["companion_supplement"] == "attempt"])


def test_the_hook_spools_them_and_never_raises(db_logger, tmp_path):
    logger = cc.CompanionLogger(spool_path=str(tmp_path / "s.sqlite3"), webhook_url="", autostart=False)
    exc = litellm.Timeout("timed out", model="m", llm_provider="openai")
    assert asyncio.run(logger.async_post_call_failure_hook(request_data(attempts=1), exc, route())) is None
    assert logger.spool.pending() == 2
    rows = [json.loads(p) for _, p in logger.spool.lease(10)]
    assert [r["litellm_call_id"] for r in rows] == [f"{CALL}-billed", f"{CALL}-attempt-0"]
    assert all("messages" not in r and r["companion_dedup_key"] for r in rows)
    assert len({r["companion_dedup_key"] for r in rows}) == 2
    # garbage in: no exception, nothing spooled
    assert asyncio.run(logger.async_post_call_failure_hook({"standard_logging_object": 7, "response_cost": "x",
                                                            "combined_usage_object": litellm.Usage()}, exc, route())) is None
    assert asyncio.run(logger.async_post_call_failure_hook(None, exc, route())) is None
    logger.close()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
