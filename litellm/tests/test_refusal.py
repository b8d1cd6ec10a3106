"""The refusal messages of companion_callback.async_post_call_failure_hook, without a proxy.

The end-to-end path through a real LiteLLM proxy is in test_e2e_proxy.py."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import time
from pathlib import Path

import litellm
import pytest
from fastapi import HTTPException
from litellm.proxy._types import UserAPIKeyAuth
from litellm.proxy.auth.auth_exception_handler import _as_proxy_exception

import companion_callback as cc
from capture_server import CaptureServer

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "person_view.json").read_text())
SECRET = "refusal-test-secret"

PT = ("Seus tokens acabaram: você usou 1.000.000 de 1.250.000 tokens disponíveis neste mês, então o chat está "
      "pausado. Sua cota mensal de 1.000.000 tokens volta em 1º de dezembro de 2026 (fuso horário "
      "America/Sao_Paulo). Para continuar agora, compre mais tokens em https://credits.example.com/me.")
EN = ("You are out of tokens: you have used 1,000,000 of the 1,250,000 tokens available this month, so chat is "
      "paused. Your monthly allowance of 1,000,000 tokens comes back on December 1, 2026 (America/Sao_Paulo "
      "time). To continue now, buy more tokens at https://credits.example.com/me.")


def view(**changes) -> dict:
    v = copy.deepcopy(FIXTURE)
    for path, value in changes.items():
        node = v
        *parents, leaf = path.split("__")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return v


def budget_error(key_hash: str = "a" * 64) -> litellm.BudgetExceededError:
    return litellm.BudgetExceededError(current_cost=0.37, max_budget=0.37, entity_type="key", entity_id=key_hash,
                                       message="Budget has been exceeded! Key=k (sk-...abcd) Current cost: 0.37, Max budget: 0.37")


def test_budget_message_in_portuguese_and_english():
    assert cc.refusal_message(cc.BUDGET, view()) == ("pt-BR", PT)
    assert cc.refusal_message(cc.BUDGET, view(person__locale="en")) == ("en", EN)


@pytest.mark.parametrize("locale,url,pay,expected", [
    ("pt-BR", "https://c.example/me", False,
     "Para continuar agora, peça mais tokens ao administrador (admin@example.com); seu saldo e seu extrato estão em https://c.example/me."),
    ("pt-BR", None, True, "Para continuar agora, compre mais tokens no portal de tokens ou peça ao administrador (admin@example.com)."),
    ("pt-BR", None, False, "Para continuar agora, peça mais tokens ao administrador: admin@example.com."),
    ("en", "https://c.example/me", False,
     "To continue now, ask your administrator (admin@example.com) for more tokens; your balance and statement are at https://c.example/me."),
    ("en", None, True, "To continue now, buy more tokens in the token portal or ask your administrator (admin@example.com)."),
    ("en", None, False, "To continue now, ask your administrator for more tokens: admin@example.com."),
])
def test_the_way_out_follows_what_the_service_offers(locale, url, pay, expected):
    _, msg = cc.refusal_message(cc.BUDGET, view(person__locale=locale, getMore__url=url, getMore__paymentsEnabled=pay))
    assert msg.endswith(" " + expected)


def test_the_admins_text_replaces_the_link_in_the_persons_language():
    text = {"pt-BR": "Peça mais tokens no canal #ajuda-ia.", "en": "Ask for more tokens in #ai-help"}
    assert cc.refusal_message(cc.BUDGET, view(getMore__text=text))[1].endswith(
        "(fuso horário America/Sao_Paulo). Peça mais tokens no canal #ajuda-ia.")
    assert cc.refusal_message(cc.BUDGET, view(getMore__text=text, person__locale="en"))[1].endswith(
        "(America/Sao_Paulo time). Ask for more tokens in #ai-help.")


def test_no_refill_sentence_without_a_monthly_allowance_and_other_days_and_sizes():
    _, msg = cc.refusal_message(cc.BUDGET, view(quota__monthlyAllowance=0, quota__usedThisPeriod=500, quota__availableThisPeriod=500))
    assert msg == ("Seus tokens acabaram: você usou 500 de 500 tokens disponíveis neste mês, então o chat está pausado. "
                   "Para continuar agora, compre mais tokens em https://credits.example.com/me.")
    assert cc.format_day("2027-01-15", "pt-BR") == "15 de janeiro de 2027"
    assert cc.format_day("2027-01-01", "en") == "January 1, 2027"
    assert cc.format_tokens(12_345_678, "pt-BR") == "12.345.678"
    assert cc.format_tokens(999, "en") == "999"


def test_suspended_people_get_their_own_message():
    assert cc.refusal_message(cc.BLOCKED, view(person__status="suspended", person__state="suspended")) == (
        "pt-BR", "Sua conta foi suspensa pelo administrador, por isso o chat não responde. Para voltar a usar, fale com "
                 "o administrador: admin@example.com. Detalhes em https://credits.example.com/me.")
    assert cc.refusal_message(cc.BUDGET, view(person__status="suspended", person__locale="en", getMore__url=None)) == (
        "en", "Your account has been suspended by the administrator, so chat is not answering. To use it again, "
              "contact your administrator: admin@example.com.")


def test_generic_messages_when_the_service_cannot_say():
    assert cc.refusal_message(cc.BUDGET, None) == ("pt-BR", cc.GENERIC[(cc.BUDGET, "pt-BR")])
    assert cc.refusal_message(cc.BUDGET, None, "en") == ("en", cc.GENERIC[(cc.BUDGET, "en")])
    assert cc.refusal_message(cc.BLOCKED, None) == ("pt-BR", cc.GENERIC[(cc.BLOCKED, "pt-BR")])
    # a key blocked in LiteLLM whose person is not suspended: a replaced key (rotation)
    assert cc.refusal_message(cc.BLOCKED, view(person__locale="en")) == ("en", cc.GENERIC[(cc.BLOCKED, "en")])
    # an answer of another shape never breaks the refusal
    assert cc.refusal_message(cc.BUDGET, {"person": {"locale": "en"}}) == ("pt-BR", cc.GENERIC[(cc.BUDGET, "pt-BR")])
    assert cc.refusal_message(cc.BUDGET, view(quota__usedThisPeriod="lots")) == ("pt-BR", cc.GENERIC[(cc.BUDGET, "pt-BR")])
    for text in cc.GENERIC.values():
        assert "$" not in text and "USD" not in text and "Budget" not in text


def test_kinds_and_key_hashes_of_refused_calls():
    h = hashlib.sha256(b"sk-someone").hexdigest()
    assert cc.refusal_kind(budget_error()) == cc.BUDGET
    assert cc.refusal_kind(Exception("Key is blocked. Update via `/key/unblock` if you're an admin.")) == cc.BLOCKED
    assert cc.refusal_kind(Exception("Authentication Error, invalid key")) is None
    assert cc.refusal_kind(litellm.RateLimitError("slow down", llm_provider="openai", model="m")) is None
    # the key named by the error, else the handler's UserAPIKeyAuth (token, else hashed api_key)
    assert cc.refused_key_hash(budget_error(h), UserAPIKeyAuth()) == h
    assert cc.refused_key_hash(Exception("Key is blocked"), UserAPIKeyAuth(api_key="sk-someone")) == h
    fresh = UserAPIKeyAuth()
    fresh.api_key = "sk-someone"  # assigned after construction: not hashed by the validator
    assert cc.refused_key_hash(Exception("Key is blocked"), fresh) == h
    assert cc.refused_key_hash(Exception("Key is blocked"), UserAPIKeyAuth(api_key="not-a-key")) is None
    assert cc.refused_key_hash(Exception("Key is blocked"), None) is None


def test_the_answers_come_out_of_litellms_handler_as_402_budget_exceeded_and_401():
    """auth_exception_handler._as_proxy_exception turns what the hook returns into the answer."""
    budget = cc.refusal_exception(cc.BUDGET, PT, budget_error())
    assert isinstance(budget, HTTPException) and isinstance(budget, litellm.BudgetExceededError)
    out = _as_proxy_exception(budget)
    assert (out.to_dict(), out.code) == ({"message": PT, "type": "budget_exceeded", "param": None, "code": "402"}, "402")
    blocked = _as_proxy_exception(cc.refusal_exception(cc.BLOCKED, "suspenso", Exception("Key is blocked")))
    assert blocked.to_dict() == {"message": "suspenso", "type": "auth_error", "param": "None", "code": "401"}


@pytest.fixture
def service():
    cap = CaptureServer(secret=SECRET).start()
    yield cap
    cap.stop()


def logger(tmp_path, url, **env) -> cc.CompanionLogger:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cc.CompanionLogger(webhook_url=url, secret=SECRET, spool_path=str(tmp_path / "s.sqlite3"), autostart=False)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hook(lg: cc.CompanionLogger, exc: Exception, key: str = "sk-x"):
    return asyncio.run(lg.async_post_call_failure_hook(request_data={}, original_exception=exc,
                                                       user_api_key_dict=UserAPIKeyAuth(api_key=key)))


def test_the_hook_asks_the_service_once_then_uses_its_cache(tmp_path, service):
    h = hashlib.sha256(b"sk-x").hexdigest()
    service.people[h] = view(person__locale="en")
    lg = logger(tmp_path, service.url, COMPANION_PERSON_CACHE_SECONDS="0.5")
    try:
        first = hook(lg, budget_error(h))
        assert (first.status_code, first.detail) == (402, EN)
        assert hook(lg, budget_error(h)).detail == EN
        assert [(r["path"], r["key_hash"], r["headers"]["authorization"]) for r in service.person_requests] == [
            ("/webhooks/litellm/person", h, f"Bearer {SECRET}")]
        time.sleep(0.6)
        hook(lg, budget_error(h))
        assert len(service.person_requests) == 2
        # every other failure: nothing asked, LiteLLM's own answer
        assert hook(lg, Exception("Authentication Error, invalid key")) is None
        assert hook(lg, litellm.RateLimitError("slow", llm_provider="openai", model="m")) is None
        assert len(service.person_requests) == 2
    finally:
        lg.close()


def test_unknown_keys_wrong_secret_and_a_dead_service_give_the_generic_message(tmp_path, service):
    lg = logger(tmp_path, service.url, COMPANION_LOCALE="en")
    try:
        assert hook(lg, budget_error(), key="sk-unknown").detail == cc.GENERIC[(cc.BUDGET, "en")]  # 404
        assert len(service.person_requests) == 1
    finally:
        lg.close()
    wrong = cc.CompanionLogger(webhook_url=service.url, secret="not-it", spool_path=str(tmp_path / "w.sqlite3"), autostart=False)
    try:
        service.people[hashlib.sha256(b"sk-x").hexdigest()] = view()
        assert hook(wrong, budget_error(hashlib.sha256(b"sk-x").hexdigest())).detail == cc.GENERIC[(cc.BUDGET, "pt-BR")]  # 401
    finally:
        wrong.close()
    dead = logger(tmp_path, "http://127.0.0.1:9/webhooks/litellm", COMPANION_PERSON_TIMEOUT="1")
    try:
        t0 = time.monotonic()
        out = hook(dead, Exception("Key is blocked. Update via `/key/unblock` if you're an admin."))
        assert (out.status_code, out.detail) == (401, cc.GENERIC[(cc.BLOCKED, "pt-BR")])
        assert time.monotonic() - t0 < 1.5
        assert dead.people.calls == 1
        hook(dead, budget_error(hashlib.sha256(b"sk-x").hexdigest()))
        assert dead.people.calls == 1  # the failure is cached too (5 s at most)
    finally:
        dead.close()


def test_refusal_messages_can_be_turned_off(tmp_path, service):
    lg = logger(tmp_path, service.url, COMPANION_REFUSAL_MESSAGES="false")
    try:
        assert hook(lg, budget_error()) is None
        assert service.person_requests == []
    finally:
        lg.close()
