"""
Durable usage callback: LiteLLM proxy -> companion service.

Referenced from the LiteLLM config as::

    litellm_settings:
      callbacks: companion_callback.proxy_handler_instance

Every success/failure event's ``kwargs["standard_logging_object"]`` (LiteLLM's
StandardLoggingPayload) is, before the logger returns:

1. stripped of prompt/response content (unless COMPANION_INCLUDE_CONTENT=true),
2. serialised to JSON (``default=str``),
3. appended to a local SQLite spool (WAL, synchronous=FULL) - durable across
   LiteLLM restarts and crashes.

A background delivery worker (a daemon thread, started when the logger is
created and re-checked on every event) POSTs spooled rows in batches, as a JSON
array, to COMPANION_WEBHOOK_URL with ``Authorization: Bearer $WEBHOOK_SECRET``.
Rows are deleted only after a 2xx answer, so delivery is AT LEAST ONCE; the
service deduplicates on ``litellm_call_id``.

Error handling of the delivery:
  * connection errors, timeouts, 408, 429, 5xx   -> retry, exponential backoff + jitter (cap 30 s)
  * 401 / 403                                    -> configuration error: ERROR log, keep retrying
  * 413                                          -> halve the batch size and retry
                                                    (a single row that is still too big is dead-lettered)
  * any other 4xx (400, 422, ...)                -> the server rejects the batch as malformed: the rows
                                                    move to the ``dead_letter`` table with status+reason
  * spool over COMPANION_SPOOL_MAX_BYTES         -> the new event is dropped, counted, and an ERROR is logged
                                                    (rate-limited). Never raises into LiteLLM.

Only the standard library and httpx (a LiteLLM dependency) are used.

Environment (read when the logger is constructed):
  COMPANION_WEBHOOK_URL      e.g. http://127.0.0.1:8787/webhooks/litellm (unset: spool only, no delivery)
  WEBHOOK_SECRET             bearer token for the webhook (never logged)
  COMPANION_SPOOL_PATH       default ./data/litellm-spool.sqlite3
  COMPANION_SPOOL_MAX_BYTES  default 1073741824 (1 GiB)
  COMPANION_BATCH_SIZE       default 512
  COMPANION_FLUSH_INTERVAL   seconds, default 1
  COMPANION_HTTP_TIMEOUT     seconds, default 10
  COMPANION_RETRY_BASE       first backoff in seconds, default 0.5
  COMPANION_RETRY_MAX        backoff cap in seconds, default 30
  COMPANION_INCLUDE_CONTENT  "true" keeps messages/response in the events (default false)
  COMPANION_AUTOSTART        "false" disables the delivery thread (tests call flush() instead)

Failed calls LiteLLM charges (``async_post_call_failure_hook``, every failed call): what LiteLLM's
own _ProxyDBLogger adds to the key's spend beyond the failure event it logs (a read timeout's or a
client disconnect's estimated input cost, earlier timed-out retries) is spooled as extra failure
events ``<id>-billed`` and ``<id>-attempt-N`` (failure_charge_events, below; litellm/README.md).

Refused requests (``async_post_call_failure_hook``): when LiteLLM refuses a call because the key's
budget is spent (BudgetExceededError, HTTP 429) or the key is blocked (HTTP 401), the answer is
replaced by one written for the person: HTTP 402 ``budget_exceeded`` (no client retries a 402) or
401 for a suspended person, in their language, in tokens, with when the monthly allowance comes
back and how to get more. The facts come from the service (GET COMPANION_PERSON_URL, one call per
refused request at most, cached); allowed calls never reach this code.
  COMPANION_PERSON_URL           default COMPANION_WEBHOOK_URL + "/person"
  COMPANION_PERSON_CACHE_SECONDS default 30 (answers of the service per key hash; failures 5 s at most)
  COMPANION_PERSON_TIMEOUT       seconds, default 2 (the refused request waits at most this long)
  COMPANION_LOCALE               language when the service cannot say: pt-BR (default) or en
  COMPANION_REFUSAL_MESSAGES     "false" leaves LiteLLM's own error answers untouched
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any, Callable, Optional

import httpx

try:  # LiteLLM is present inside the proxy; keep the module importable without it
    from litellm.integrations.custom_logger import CustomLogger
except Exception:  # pragma: no cover
    class CustomLogger:  # type: ignore[no-redef]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

try:
    from fastapi import HTTPException
    from litellm.exceptions import BudgetExceededError
except Exception:  # pragma: no cover - without LiteLLM there is nothing to refuse
    HTTPException = None  # type: ignore[assignment,misc]
    BudgetExceededError = None  # type: ignore[assignment,misc]


log = logging.getLogger("companion_callback")
if not log.handlers:
    _h = logging.StreamHandler()
    _h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [companion_callback] %(message)s"))
    log.addHandler(_h)
    log.setLevel(os.environ.get("COMPANION_LOG_LEVEL", "INFO").upper())
    log.propagate = False

# Top-level StandardLoggingPayload fields that carry prompt/response content.
CONTENT_FIELDS = ("messages", "response", "guardrail_information")
# Same, inside payload["metadata"].
CONTENT_METADATA_FIELDS = (
    "mcp_tool_call_metadata",
    "vector_store_request_metadata",
    "prompt_management_metadata",
)

LEASE_SECONDS = 120.0  # a fetched batch is invisible to other workers/processes for this long


def _env_bool(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


def _env_num(name: str, default: float, cast: Callable[[str], Any] = float) -> Any:
    v = os.environ.get(name)
    if v is None or v.strip() == "":
        return default
    try:
        return cast(v.strip())
    except ValueError:
        log.error("invalid %s=%r, using default %r", name, v, default)
        return default


_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sanitise_key_hash(payload: dict) -> dict:
    """LiteLLM puts the RAW bearer value into metadata.user_api_key_hash when it is not an
    ``sk-`` key (e.g. failed-auth events for "Bearer garbage"). Never ship a possible credential:
    anything that is not 64 hex chars is replaced by its sha256 (flagged with
    ``user_api_key_hash_rehashed: true``)."""
    md = payload.get("metadata")
    if isinstance(md, dict):
        h = md.get("user_api_key_hash")
        if isinstance(h, str) and h and not _HEX64.match(h):
            md = dict(md)
            md["user_api_key_hash"] = hashlib.sha256(h.encode()).hexdigest()
            md["user_api_key_hash_rehashed"] = True
            payload = dict(payload)
            payload["metadata"] = md
    return payload


def dedup_key(payload: dict) -> str:
    """sha256 of (litellm_call_id, id, startTime, key hash, call_type, status).

    ``litellm_call_id`` alone is NOT safe to deduplicate on: LiteLLM takes it from the client's
    ``x-litellm-call-id`` request header when present, so two different, billed calls can share it.
    The same call reported twice (retry of a batch, or LiteLLM invoking the callback twice) has the
    same startTime and provider id and therefore the same key."""
    md = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    parts = [payload.get("litellm_call_id"), payload.get("id"), payload.get("startTime"),
             md.get("user_api_key_hash"), payload.get("call_type"), payload.get("status")]
    return hashlib.sha256("|".join(repr(p) for p in parts).encode()).hexdigest()


def strip_content(payload: dict) -> dict:
    """Shallow-copies ``payload`` without the content fields (prompt, completion, tool args...)."""
    out = dict(payload)
    for f in CONTENT_FIELDS:
        out.pop(f, None)
    md = out.get("metadata")
    if isinstance(md, dict):
        md = dict(md)
        for f in CONTENT_METADATA_FIELDS:
            md.pop(f, None)
        out["metadata"] = md
    return out


# --------------------------------------------------------------------------------------------
# Spool
# --------------------------------------------------------------------------------------------
class Spool:
    """An append-only SQLite queue with leases, a dead-letter table and a size bound."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = int(max_bytes)
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
        c = self._conn
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=FULL")
        c.execute("PRAGMA busy_timeout=30000")
        c.execute("PRAGMA journal_size_limit=8388608")
        c.execute(
            "CREATE TABLE IF NOT EXISTS spool ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " created_at REAL NOT NULL,"
            " attempts INTEGER NOT NULL DEFAULT 0,"
            " lease_until REAL NOT NULL DEFAULT 0,"
            " lease_owner TEXT,"
            " payload TEXT NOT NULL)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS dead_letter ("
            " id INTEGER PRIMARY KEY,"
            " created_at REAL NOT NULL,"
            " dead_at REAL NOT NULL,"
            " status INTEGER,"
            " reason TEXT,"
            " payload TEXT NOT NULL)"
        )
        c.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        self._page_size = c.execute("PRAGMA page_size").fetchone()[0]
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._release_dead_leases()

    def _release_dead_leases(self) -> None:
        """Leases held by processes that no longer exist (crash/restart) are released at once,
        so leftovers are delivered right after a restart instead of after LEASE_SECONDS."""
        me = os.getpid()
        with self._lock:
            owners = [r[0] for r in self._conn.execute(
                "SELECT DISTINCT lease_owner FROM spool WHERE lease_owner IS NOT NULL AND lease_until > 0")]
            dead = []
            for o in owners:
                try:
                    pid = int(str(o).split(":", 1)[0])
                except ValueError:
                    dead.append(o)
                    continue
                if pid == me:
                    if o != self.owner:
                        dead.append(o)  # an earlier incarnation with our pid (e.g. pid 1 in a container)
                    continue
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    dead.append(o)
                except Exception:
                    pass  # exists (or not ours to signal): keep its lease until it expires
            for o in dead:
                self._conn.execute("UPDATE spool SET lease_until = 0, lease_owner = NULL WHERE lease_owner = ?", (o,))

    # -- size ---------------------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes in use: live database pages + the WAL file (free pages are reused, so not counted)."""
        with self._lock:
            return self._used_bytes_locked()

    def _used_bytes_locked(self) -> int:
        # Live pages (free pages left by deleted rows are reused, so they do not count). The WAL
        # adds at most ~4 MiB on top (auto-checkpoint every 1000 pages, truncated to 8 MiB).
        pc = self._conn.execute("PRAGMA page_count").fetchone()[0]
        fl = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        return (pc - fl) * self._page_size

    # -- writes -------------------------------------------------------------------------------
    def append(self, payload_json: str) -> bool:
        """Durably appends one event. Returns False (and stores nothing) when the spool is full."""
        with self._lock:
            if self._used_bytes_locked() + len(payload_json) + self._page_size > self.max_bytes:
                self._conn.execute(
                    "INSERT INTO counters(name, value) VALUES('dropped_full', 1)"
                    " ON CONFLICT(name) DO UPDATE SET value = value + 1"
                )
                return False
            self._conn.execute(
                "INSERT INTO spool(created_at, payload) VALUES(?, ?)", (time.time(), payload_json)
            )
            return True

    def lease(self, limit: int, lease_seconds: float = LEASE_SECONDS) -> list[tuple[int, str]]:
        """Takes up to ``limit`` oldest rows that nobody else holds, for ``lease_seconds``."""
        now = time.time()
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                rows = c.execute(
                    "SELECT id, payload FROM spool WHERE lease_until <= ? ORDER BY id LIMIT ?",
                    (now, int(limit)),
                ).fetchall()
                if rows:
                    ids = [r[0] for r in rows]
                    c.executemany(
                        "UPDATE spool SET lease_until = ?, lease_owner = ?, attempts = attempts + 1 WHERE id = ?",
                        [(now + lease_seconds, self.owner, i) for i in ids],
                    )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return [(int(r[0]), r[1]) for r in rows]

    def release(self, ids: list[int]) -> None:
        with self._lock:
            self._conn.executemany("UPDATE spool SET lease_until = 0, lease_owner = NULL WHERE id = ?", [(i,) for i in ids])

    def delete(self, ids: list[int]) -> None:
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids])
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def dead_letter(self, ids: list[int], status: Optional[int], reason: str) -> None:
        now = time.time()
        with self._lock:
            c = self._conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for i in ids:
                    c.execute(
                        "INSERT OR REPLACE INTO dead_letter(id, created_at, dead_at, status, reason, payload)"
                        " SELECT id, created_at, ?, ?, ?, payload FROM spool WHERE id = ?",
                        (now, status, reason[:2000], i),
                    )
                    c.execute("DELETE FROM spool WHERE id = ?", (i,))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    # -- reads --------------------------------------------------------------------------------
    def pending(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM spool").fetchone()[0]

    def dead_letters(self) -> list[dict]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, status, reason, payload FROM dead_letter ORDER BY id"
            ).fetchall()
        return [{"id": r[0], "status": r[1], "reason": r[2], "payload": r[3]} for r in rows]

    def counter(self, name: str) -> int:
        with self._lock:
            r = self._conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(r[0]) if r else 0

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except Exception:
                pass


# --------------------------------------------------------------------------------------------
# Refused requests: a message for the person instead of LiteLLM's USD error
# --------------------------------------------------------------------------------------------
# How LiteLLM 1.103.7 refuses a call during authentication, and how we replace the answer:
#   * the key's budget is spent: proxy/auth/auth_checks.py:_virtual_key_max_budget_check raises
#     litellm.BudgetExceededError (litellm/exceptions.py, status_code 429, entity_type "key",
#     entity_id = the key's hash; message "Budget has been exceeded! Key=... Current cost: <USD>...");
#   * the key is blocked (/key/block: a person suspended by the admin, or the old key of a rotation):
#     proxy/auth/user_api_key_auth.py:_user_api_key_auth_builder raises
#     Exception("Key is blocked. Update via `/key/unblock` if you're an admin."), answered 401;
#   * both reach proxy/auth/auth_exception_handler.py:UserAPIKeyAuthExceptionHandler.
#     _handle_authentication_error, which calls proxy/utils.py:ProxyLogging.post_call_failure_hook;
#     that awaits every CustomLogger's async_post_call_failure_hook
#     (integrations/custom_logger.py:CustomLogger.async_post_call_failure_hook) and keeps the first
#     HTTPException one returns. The handler then turns it into the answer with
#     auth_exception_handler.py:_as_proxy_exception, which checks BudgetExceededError BEFORE
#     HTTPException: a plain HTTPException would come out as type "auth_error", so the budget answer
#     is a BudgetRefusal, both a BudgetExceededError (type "budget_exceeded", code = its status_code)
#     and an HTTPException (accepted by post_call_failure_hook). The suspended answer is a plain
#     HTTPException: type "auth_error" and status 401, like LiteLLM's own.
BUDGET = "budget"
BLOCKED = "blocked"
BLOCKED_KEY_TEXT = "Key is blocked"  # proxy/auth/user_api_key_auth.py, see above
LOCALES = ("pt-BR", "en")

if BudgetExceededError is not None and HTTPException is not None:
    class BudgetRefusal(BudgetExceededError, HTTPException):  # type: ignore[misc,valid-type]
        """HTTP 402 ``budget_exceeded`` with a message for the person (see the comment above)."""

        def __init__(self, message: str, original: Exception) -> None:
            # Not BudgetExceededError.__init__: its super().__init__(message) would land in
            # HTTPException.__init__(status_code=message). Set what both sides read instead.
            HTTPException.__init__(self, status_code=402, detail=message)
            Exception.__init__(self, message)
            self.message = message
            self.status_code = 402
            for attr, default in (("current_cost", None), ("max_budget", None), ("llm_provider", ""),
                                  ("entity_type", None), ("entity_id", None)):
                setattr(self, attr, getattr(original, attr, default))
else:  # pragma: no cover
    BudgetRefusal = None  # type: ignore[assignment,misc]


def refusal_kind(exc: BaseException) -> Optional[str]:
    """BUDGET, BLOCKED, or None for every other failure (left to LiteLLM)."""
    if BudgetExceededError is not None and isinstance(exc, BudgetExceededError):
        return BUDGET
    if getattr(exc, "type", None) == "budget_exceeded":  # a ProxyException raised elsewhere
        return BUDGET
    if BLOCKED_KEY_TEXT in str(getattr(exc, "message", None) or exc):
        return BLOCKED
    return None


def refused_key_hash(exc: BaseException, user_api_key_dict: Any) -> Optional[str]:
    """The sha256 hex of the refused key (= the service's keys.token_hash), or None.

    BudgetExceededError names the key when it is the key's own budget (entity_type "key"); otherwise
    the handler's UserAPIKeyAuth has it: ``token`` when LiteLLM had resolved the key, else ``api_key``
    (hashed by UserAPIKeyAuth._safe_hash_litellm_api_key when it starts with sk-)."""
    if getattr(exc, "entity_type", None) == "key":
        h = getattr(exc, "entity_id", None)
        if isinstance(h, str) and _HEX64.match(h):
            return h
    for attr in ("token", "api_key"):
        v = getattr(user_api_key_dict, attr, None)
        if isinstance(v, str) and _HEX64.match(v):
            return v
        if isinstance(v, str) and v.startswith("sk-"):
            return hashlib.sha256(v.encode()).hexdigest()
    return None


_MONTHS = {
    "pt-BR": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro",
              "outubro", "novembro", "dezembro"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


def format_tokens(n: int, locale: str) -> str:
    """1234567 -> "1.234.567" (pt-BR) / "1,234,567" (en), as the portal's Intl.NumberFormat."""
    s = f"{int(n):,}"
    return s.replace(",", ".") if locale == "pt-BR" else s


def format_day(iso: str, locale: str) -> str:
    """"2026-12-01" -> "1º de dezembro de 2026" (pt-BR) / "December 1, 2026" (en)."""
    y, m, d = (int(x) for x in iso[:10].split("-"))
    month = _MONTHS[locale][m - 1]
    if locale == "pt-BR":
        return f"{d}º de {month} de {y}" if d == 1 else f"{d} de {month} de {y}"
    return f"{month} {d}, {y}"


GENERIC = {
    (BUDGET, "pt-BR"): "Seus tokens acabaram, então o chat está pausado. Sua cota mensal volta no primeiro dia do "
                       "próximo mês; para continuar agora, compre mais tokens no portal de tokens ou peça mais ao "
                       "administrador.",
    (BUDGET, "en"): "You are out of tokens, so chat is paused. Your monthly allowance comes back on the first day of "
                    "next month; to continue now, buy more tokens in the token portal or ask your administrator "
                    "for more.",
    (BLOCKED, "pt-BR"): "Esta chave está bloqueada: sua conta foi suspensa ou a chave foi trocada por uma nova. Veja "
                        "sua chave no portal de tokens ou fale com o administrador.",
    (BLOCKED, "en"): "This key is blocked: your account was suspended or the key was replaced by a new one. See your "
                     "key in the token portal or contact your administrator.",
}


def _get_more(view: dict, locale: str) -> str:
    more = view["getMore"]
    text = (more.get("text") or {}).get(locale)
    if isinstance(text, str) and text.strip():
        return text.strip()  # the admin's own words (QUOTA_HELP_TEXT / QUOTA_HELP_TEXT_EN)
    url, email, pay = more.get("url"), more["contactEmail"], bool(more.get("paymentsEnabled"))
    pt = locale == "pt-BR"
    if url and pay:
        return f"Para continuar agora, compre mais tokens em {url}" if pt else f"To continue now, buy more tokens at {url}"
    if url:
        return (f"Para continuar agora, peça mais tokens ao administrador ({email}); seu saldo e seu extrato estão em {url}"
                if pt else f"To continue now, ask your administrator ({email}) for more tokens; your balance and statement are at {url}")
    if pay:
        return (f"Para continuar agora, compre mais tokens no portal de tokens ou peça ao administrador ({email})."
                if pt else f"To continue now, buy more tokens in the token portal or ask your administrator ({email}).")
    return (f"Para continuar agora, peça mais tokens ao administrador: {email}."
            if pt else f"To continue now, ask your administrator for more tokens: {email}.")


def _sentence(s: str) -> str:
    return s if s.endswith((".", "!", "?")) else s + "."


def refusal_message(kind: str, view: Optional[dict], default_locale: str = "pt-BR") -> tuple[str, str]:
    """(locale, message) for a refused call. ``view`` is the service's GET /webhooks/litellm/person
    answer (None when unknown or unreachable: then a generic message in ``default_locale``)."""
    fallback = default_locale if default_locale in LOCALES else "pt-BR"
    if not isinstance(view, dict):
        return fallback, GENERIC[(kind, fallback)]
    try:
        locale = view["person"]["locale"] if view["person"]["locale"] in LOCALES else fallback
        pt = locale == "pt-BR"
        more = view["getMore"]
        if view["person"]["status"] == "suspended":
            email, url = more["contactEmail"], more.get("url")
            msg = (f"Sua conta foi suspensa pelo administrador, por isso o chat não responde. Para voltar a usar, fale "
                   f"com o administrador: {email}." if pt else
                   f"Your account has been suspended by the administrator, so chat is not answering. To use it again, "
                   f"contact your administrator: {email}.")
            if url:
                msg += f" Detalhes em {url}" if pt else f" Details at {url}"
            return locale, _sentence(msg)
        if kind == BLOCKED:  # blocked in LiteLLM but not suspended here: a replaced key, or an unblock on its way
            return locale, GENERIC[(BLOCKED, locale)]
        q = view["quota"]
        used, available = format_tokens(q["usedThisPeriod"], locale), format_tokens(q["availableThisPeriod"], locale)
        parts = [f"Seus tokens acabaram: você usou {used} de {available} tokens disponíveis neste mês, então o chat "
                 f"está pausado." if pt else
                 f"You are out of tokens: you have used {used} of the {available} tokens available this month, so chat "
                 f"is paused."]
        if int(q["monthlyAllowance"]) > 0:
            allowance, day, tz = format_tokens(q["monthlyAllowance"], locale), format_day(q["nextRefill"], locale), q["timeZone"]
            parts.append(f"Sua cota mensal de {allowance} tokens volta em {day} (fuso horário {tz})." if pt else
                         f"Your monthly allowance of {allowance} tokens comes back on {day} ({tz} time).")
        parts.append(_sentence(_get_more(view, locale)))
        return locale, " ".join(parts)
    except Exception:  # an answer of another shape: say what we can without it
        log.warning("unexpected person view from the service; generic refusal message used")
        return fallback, GENERIC[(kind, fallback)]


def refusal_exception(kind: str, message: str, original: BaseException) -> Optional[Exception]:
    """What async_post_call_failure_hook returns: 402 budget_exceeded, or 401 for a blocked key."""
    if kind == BUDGET and BudgetRefusal is not None:
        return BudgetRefusal(message, original)  # type: ignore[arg-type]
    if kind == BLOCKED and HTTPException is not None:
        return HTTPException(status_code=401, detail=message)
    return None


class PersonLookup:
    """GET <url>?key_hash=<sha256> with the webhook secret, cached per key hash.

    At most one HTTP call per ``get``; answers are cached for ``ttl`` seconds, failures (service
    down, 5xx, 404 unknown key) for min(ttl, 5) s. ``calls`` counts HTTP calls (for tests)."""

    FAILURE_TTL = 5.0
    MAX_ENTRIES = 10_000

    def __init__(self, url: Optional[str], secret: str, ttl: float, timeout: float) -> None:
        self.url = url
        self._secret = secret
        self.ttl = max(0.0, ttl)
        self.timeout = timeout
        self.calls = 0
        self._cache: dict[str, tuple[float, Optional[dict]]] = {}

    async def get(self, key_hash: str) -> Optional[dict]:
        now = time.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        view = await self._fetch(key_hash) if self.url else None
        ttl = self.ttl if view is not None else min(self.ttl, self.FAILURE_TTL)
        if ttl > 0:
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                if len(self._cache) >= self.MAX_ENTRIES:
                    self._cache.clear()
            self._cache[key_hash] = (now + ttl, view)
        return view

    async def _fetch(self, key_hash: str) -> Optional[dict]:
        self.calls += 1
        headers = {"Accept": "application/json"}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, trust_env=False) as c:
                r = await c.get(self.url, params={"key_hash": key_hash}, headers=headers)
        except Exception as e:
            log.warning("person lookup failed (%s); generic refusal message", type(e).__name__)
            return None
        if r.status_code == 200:
            try:
                body = r.json()
                return body if isinstance(body, dict) else None
            except ValueError:
                return None
        if r.status_code in (401, 403):
            log.error("CONFIG ERROR: person lookup %s answered %d (check WEBHOOK_SECRET)", self.url, r.status_code)
        elif r.status_code != 404:
            log.warning("person lookup answered HTTP %d; generic refusal message", r.status_code)
        return None


# --------------------------------------------------------------------------------------------
# What LiteLLM charges a key for a failed call, as events we can book
# --------------------------------------------------------------------------------------------
# LiteLLM 1.103.7 charges a failed call in proxy/hooks/proxy_track_cost_callback.py:
# _ProxyDBLogger.async_post_call_failure_hook -> _write_failure_spend_rows: one spend row, each
# added to the key's spend (db/db_spend_update_writer.py: DBSpendUpdateWriter.update_database),
# per (cost, kwargs) of _failure_spend_rows(request_data, final_cost, None):
#   * the final row, cost = recovered_stream_cost + guardrail_information_cost(...), where
#     recovered_stream_cost = max(float(request_data["response_cost"] or 0), 0) when
#     request_data["combined_usage_object"] is a litellm.Usage;
#   * one row per earlier attempt the provider billed (_billed_failed_attempts: the router's retry
#     records whose exception was a Timeout, proxy/utils.py: _billed_earlier_attempts), request id
#     "<id>-attempt-<position>" (_attempt_spend_row_kwargs), cost attempt.response_cost.
# proxy/utils.py: ProxyLogging.post_call_failure_hook lifts those fields onto request_data
# (_failure_fields_to_lift) BEFORE it calls any callback's async_post_call_failure_hook, ours
# included, and _ProxyDBLogger only adds to request_data what the final cost does not read, so
# the same numbers are seen whichever of the two hooks runs first. For a provider read timeout
# (_timed_out_reading_from_provider) and the proxy's own 499 client disconnect
# (_client_disconnected) the lifted response_cost is the prompt's estimated input price
# (_failure_usage_to_lift: provider_billed), while the failure event we get from
# async_log_failure_event carries 0: litellm_core_utils/litellm_logging.py:
# Logging._failure_handler_helper_fn sets model_call_details["response_cost"] = 0 unless a broken
# stream recorded its partial usage, and builds the standard logging object from that; the
# event is that dict (Logging._async_failure_handler_body passes kwargs=self.model_call_details)
# and _failure_fields_to_lift lifts the same dict onto request_data["standard_logging_object"],
# which is where E is read. The earlier
# attempts are never logged to callbacks at all. Without the events below LiteLLM's key spend
# runs ahead of the ledger and the person loses that budget.
#
# So for each failure we spool, beside the failure event LiteLLM logs (cost E):
#   * per billed earlier attempt, a failure event with LiteLLM's row ids (id and litellm_call_id
#     "<...>-attempt-<position>"), its cost and its usage;
#   * when the final row costs F > E, a failure event for F - E (exact, in nano-USD as the service
#     rounds: money.ts usdToNano) with id/litellm_call_id "<...>-billed": it has no spend-log row
#     of its own (service/src/jobs/reconcile.ts knows). E > F (LiteLLM charged less than the event
#     says: it does not charge failures at all - no database, disable_error_logs,
#     disable_spend_updates, a non-LLM route - but a broken stream's event carries its partial
#     cost) is logged and counted; nothing negative is invented, the reconciler then reports that
#     LiteLLM holds less spend than the ledger.
# LiteLLM's own functions are imported lazily and defensively: if one of them moves in another
# LiteLLM version the callback still loads and logs (once) that it cannot add these events.
SUPPLEMENT_BILLED = "-billed"
TIMEOUT_ERROR = {"error_code": "408", "error_class": "Timeout",
                 "error_message": "an earlier attempt of this call timed out; the provider billed it"}
_NANO = Decimal(10) ** -9

_accounting: Any = None  # SimpleNamespace of LiteLLM's functions, False when unavailable
_accounting_lock = threading.Lock()


def litellm_accounting() -> Any:
    """LiteLLM's failure-accounting functions, or None (logged once) when this version lacks one."""
    global _accounting
    if _accounting is None:
        with _accounting_lock:
            if _accounting is None:
                try:
                    import litellm as _litellm
                    from litellm.proxy.auth.route_checks import RouteChecks
                    from litellm.proxy.hooks.proxy_track_cost_callback import (
                        _failure_spend_rows,
                        _ProxyDBLogger,
                        guardrail_information_cost,
                    )
                    from litellm.proxy.utils import ProxyUpdateSpend

                    _accounting = SimpleNamespace(
                        litellm=_litellm, Usage=_litellm.Usage, RouteChecks=RouteChecks,
                        failure_spend_rows=_failure_spend_rows, ProxyDBLogger=_ProxyDBLogger,
                        guardrail_information_cost=guardrail_information_cost, ProxyUpdateSpend=ProxyUpdateSpend)
                except Exception:
                    log.exception("this LiteLLM version lacks the failure-accounting functions the callback reads "
                                  "(proxy_track_cost_callback._failure_spend_rows, ...): what LiteLLM charges for "
                                  "timed-out, disconnected and retried calls is NOT reported; the reconciler will show it")
                    _accounting = False
    return _accounting or None


def litellm_charges_failures(acc: Any, user_api_key_dict: Any) -> bool:
    """Whether _ProxyDBLogger writes the failure's spend rows at all: it is registered only with a
    database (proxy/proxy_server.py: cost_tracking), returns early on disable_error_logs or a route
    that is neither an LLM nor an info route (its async_post_call_failure_hook), and
    update_database writes nothing with disable_spend_updates."""
    if not any(isinstance(cb, acc.ProxyDBLogger) for cb in list(acc.litellm.callbacks)):
        return False
    if acc.ProxyDBLogger._should_track_errors_in_db() is False:
        return False
    route = getattr(user_api_key_dict, "request_route", None)
    if route is not None and not (acc.RouteChecks.is_llm_api_route(route=route) or acc.RouteChecks.is_info_route(route=route)):
        return False
    return acc.ProxyUpdateSpend.disable_spend_updates() is not True


def final_failure_cost(acc: Any, request_data: dict) -> float:
    """The final row's cost, as _ProxyDBLogger.async_post_call_failure_hook computes it."""
    recovered = (max(float(request_data.get("response_cost") or 0.0), 0.0)
                 if isinstance(request_data.get("combined_usage_object"), acc.Usage) else 0.0)
    # _ProxyDBLogger reads the guardrail information from request_data["metadata"], filled from
    # request_data["litellm_metadata"] when metadata lacks the key.
    md = request_data.get("metadata") if isinstance(request_data.get("metadata"), dict) else {}
    key = "standard_logging_guardrail_information"
    bucket = request_data.get("litellm_metadata")
    guardrails = md[key] if key in md else (bucket.get(key) if isinstance(bucket, dict) else None)
    return recovered + acc.guardrail_information_cost(guardrails)


def usd_to_nano(v: Any) -> int:
    """A LiteLLM USD amount in nano-USD exactly as the service reads it (money.ts usdToNano: the
    shortest decimal text, rounded half away from zero)."""
    if v is None:
        return 0
    d = Decimal(repr(float(v))) if isinstance(v, float) else Decimal(str(v))
    return int(d.quantize(_NANO, rounding=ROUND_HALF_UP).scaleb(9))


def nano_text(n: int) -> str:
    sign, n = ("-", -n) if n < 0 else ("", n)
    return f"{sign}{n // 10**9}.{n % 10**9:09d}"


def _usage_tokens(usage: Any) -> tuple[int, int, int]:
    get = (lambda k: usage.get(k)) if isinstance(usage, dict) else (lambda k: getattr(usage, k, None))
    p, c, t = (int(get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    return p, c, t or p + c


def _row_ids(row: Any, base: dict) -> tuple[Optional[str], Optional[str]]:
    """(id, litellm_call_id) of a spend row's kwargs: the id its spend-log row gets
    (spend_tracking/spend_tracking_utils.py: get_spend_logs_id - the standard logging object's id,
    else litellm_call_id) and the call id."""
    slo = row.get("standard_logging_object") if isinstance(row.get("standard_logging_object"), dict) else base
    call_id = row.get("litellm_call_id") if isinstance(row.get("litellm_call_id"), str) else None
    rid = slo.get("id") if isinstance(slo.get("id"), str) and slo.get("id") else call_id
    return rid, call_id


def failure_charge_events(request_data: Any, user_api_key_dict: Any, stats: Optional[dict] = None) -> list[dict]:
    """The events to spool so that what we book for this failed call equals what LiteLLM charges
    (see the comment above). Each is the failure's standard logging object (same key hash,
    metadata, startTime) with its own ids, cost and tokens, status "failure"."""
    if not isinstance(request_data, dict):
        return []
    acc = litellm_accounting()
    if acc is None:
        return []
    base = request_data.get("standard_logging_object")
    logged_nano = usd_to_nano(base.get("response_cost")) if isinstance(base, dict) else 0
    rows = (acc.failure_spend_rows(request_data, final_failure_cost(acc, request_data), None)
            if litellm_charges_failures(acc, user_api_key_dict) else ())
    charged = [(usd_to_nano(cost), cost, row) for cost, row in rows]
    final_nano = charged[0][0] if charged else 0
    if final_nano < logged_nano:
        _overbooked(request_data, logged_nano, final_nano, stats)
    if final_nano <= logged_nano and all(n <= 0 for n, _, _ in charged[1:]):
        return []
    if not isinstance(base, dict):
        log.error("LiteLLM charged a failed call (%s) without a standard logging object: not reported",
                  request_data.get("litellm_call_id"))
        return []
    events: list[dict] = []
    final_row, attempts = charged[0][2], charged[1:]
    if final_nano > logged_nano:
        rid, call_id = _row_ids(final_row, base)
        row_tokens = _usage_tokens(request_data.get("combined_usage_object"))
        logged_tokens = _usage_tokens(base)
        p, c, t = (max(a - b, 0) for a, b in zip(row_tokens, logged_tokens))
        events.append({**base, "id": f"{rid}{SUPPLEMENT_BILLED}" if rid else None,
                       "litellm_call_id": f"{call_id or base.get('litellm_call_id')}{SUPPLEMENT_BILLED}",
                       "status": "failure", "response_cost": nano_text(final_nano - logged_nano),
                       "prompt_tokens": p, "completion_tokens": c, "total_tokens": t,
                       "companion_supplement": "billed", "companion_supplement_of": call_id or base.get("litellm_call_id")})
    for position, (nano, cost, row) in enumerate(attempts):
        if nano <= 0:
            continue  # a $0 row adds nothing to the key's spend
        rid, call_id = _row_ids(row, base)
        if call_id is None or rid == base.get("id"):  # no ids of its own (LiteLLM re-keys only str ids)
            call_id = call_id or f"{base.get('litellm_call_id') or base.get('id')}-attempt-{position}"
            rid = call_id if rid == base.get("id") else rid
        p, c, t = _usage_tokens(row.get("combined_usage_object"))
        events.append({**base, "id": rid, "litellm_call_id": call_id, "status": "failure", "response_cost": cost,
                       "prompt_tokens": p, "completion_tokens": c, "total_tokens": t,
                       # only attempts that ended in a Timeout are billed (proxy/utils.py: _timed_out_earlier_records)
                       "error_information": dict(TIMEOUT_ERROR),
                       "companion_supplement": "attempt", "companion_supplement_of": base.get("litellm_call_id")})
    if stats is not None:
        stats["failure_supplements"] = stats.get("failure_supplements", 0) + len(events)
    return events


def _overbooked(request_data: dict, logged_nano: int, charged_nano: int, stats: Optional[dict]) -> None:
    if stats is not None:
        stats["overbooked_failures"] = stats.get("overbooked_failures", 0) + 1
    log.warning("LiteLLM charged %s USD for failed call %s, its failure event says %s USD: the ledger books the event "
                "(nothing negative is sent); the reconciler reports the difference",
                nano_text(charged_nano), request_data.get("litellm_call_id"), nano_text(logged_nano))


# --------------------------------------------------------------------------------------------
# Logger + delivery
# --------------------------------------------------------------------------------------------
class CompanionLogger(CustomLogger):
    def __init__(
        self,
        *,
        webhook_url: Optional[str] = None,
        secret: Optional[str] = None,
        spool_path: Optional[str] = None,
        max_bytes: Optional[int] = None,
        batch_size: Optional[int] = None,
        flush_interval: Optional[float] = None,
        http_timeout: Optional[float] = None,
        retry_base: Optional[float] = None,
        retry_max: Optional[float] = None,
        include_content: Optional[bool] = None,
        autostart: Optional[bool] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        env = os.environ
        self.webhook_url = webhook_url if webhook_url is not None else (env.get("COMPANION_WEBHOOK_URL") or None)
        self._secret = secret if secret is not None else env.get("WEBHOOK_SECRET", "")
        self.spool_path = spool_path or env.get("COMPANION_SPOOL_PATH") or "./data/litellm-spool.sqlite3"
        self.max_bytes = int(max_bytes if max_bytes is not None else _env_num("COMPANION_SPOOL_MAX_BYTES", 1 << 30, int))
        self.max_batch_size = max(1, int(batch_size if batch_size is not None else _env_num("COMPANION_BATCH_SIZE", 512, int)))
        self.batch_size = self.max_batch_size
        self.flush_interval = float(flush_interval if flush_interval is not None else _env_num("COMPANION_FLUSH_INTERVAL", 1.0))
        self.http_timeout = float(http_timeout if http_timeout is not None else _env_num("COMPANION_HTTP_TIMEOUT", 10.0))
        self.retry_base = float(retry_base if retry_base is not None else _env_num("COMPANION_RETRY_BASE", 0.5))
        self.retry_max = float(retry_max if retry_max is not None else _env_num("COMPANION_RETRY_MAX", 30.0))
        self.include_content = (
            include_content if include_content is not None else _env_bool("COMPANION_INCLUDE_CONTENT", False)
        )
        self.autostart = autostart if autostart is not None else _env_bool("COMPANION_AUTOSTART", True)
        self.refusal_messages = _env_bool("COMPANION_REFUSAL_MESSAGES", True)
        self.default_locale = env.get("COMPANION_LOCALE", "pt-BR").strip() or "pt-BR"
        person_url = env.get("COMPANION_PERSON_URL") or (self.webhook_url.rstrip("/") + "/person" if self.webhook_url else None)
        self.people = PersonLookup(person_url, self._secret,
                                   ttl=float(_env_num("COMPANION_PERSON_CACHE_SECONDS", 30.0)),
                                   timeout=float(_env_num("COMPANION_PERSON_TIMEOUT", 2.0)))

        # counters (this process); dropped_full is also persisted in the spool's counters table
        self.stats = {"spooled": 0, "dropped_full": 0, "dropped_error": 0, "delivered": 0,
                      "dead_lettered": 0, "failed_attempts": 0, "failure_supplements": 0,
                      "overbooked_failures": 0}
        self._last_full_log = 0.0
        self._last_auth_log = 0.0
        self._consecutive_failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._thread_lock = threading.Lock()
        self._client: Optional[httpx.Client] = None
        self._deliver_lock = threading.Lock()

        self.spool: Optional[Spool] = None
        try:
            self.spool = Spool(self.spool_path, self.max_bytes)
        except Exception:
            log.exception("cannot open spool %s; events will be dropped until it can be opened", self.spool_path)

        if not self.webhook_url:
            log.warning("COMPANION_WEBHOOK_URL is not set: events are spooled to %s but not delivered",
                        self.spool_path)
        elif not self._secret:
            log.warning("WEBHOOK_SECRET is not set: the webhook will be called without a bearer token")
        if self.autostart:
            self.ensure_worker()

    # ---------------------------------------------------------------- LiteLLM hooks ----------
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):  # noqa: D401
        await self._on_event(kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        await self._on_event(kwargs)

    async def async_post_call_failure_hook(self, request_data, original_exception, user_api_key_dict,
                                           traceback_str=None):
        """LiteLLM refused or failed a call. First, whatever LiteLLM charges the key for it beyond the
        failure event it logs is spooled (failure_charge_events; also with refusal messages off).
        Then, budget spent / key blocked: return the answer written for the person (see "Refused
        requests" above); anything else: None, LiteLLM answers as usual. Never raises (LiteLLM would
        log it and keep its own answer)."""
        await self._spool_failure_charges(request_data, user_api_key_dict)
        if not self.refusal_messages:
            return None
        kind = refusal_kind(original_exception)
        if kind is None:
            return None
        try:
            key_hash = refused_key_hash(original_exception, user_api_key_dict)
            view = await self.people.get(key_hash) if key_hash else None
            _, message = refusal_message(kind, view, self.default_locale)
            return refusal_exception(kind, message, original_exception)
        except Exception:
            log.exception("could not build the refusal message; LiteLLM's own answer is used")
            return None

    async def _spool_failure_charges(self, request_data: Any, user_api_key_dict: Any) -> None:
        """The supplementary failure events of one failed call, on disk when this returns. A refused
        call (nothing dispatched) has none and returns at once; otherwise the SQLite write runs off
        the event loop like _on_event's (a few ms, before LiteLLM sends its error answer)."""
        try:
            events = failure_charge_events(request_data, user_api_key_dict, self.stats)
            if not events:
                return
            datas = [self._serialise_payload(e) for e in events]
            await asyncio.to_thread(lambda: [self._spool_one(d) for d in datas])
        except Exception:
            self.stats["dropped_error"] += 1
            log.exception("failed to spool what LiteLLM charged for a failed call (dropped)")

    async def _on_event(self, kwargs: Any) -> None:
        try:
            data = self._serialise(kwargs)
            if data is None:
                return
            # SQLite + fsync off the event loop; we still wait for it: the event is on disk when we return.
            await asyncio.to_thread(self._spool_one, data)
        except Exception:
            self.stats["dropped_error"] += 1
            log.exception("failed to spool a usage event (dropped)")

    # sync variant, also used by tests
    def log_event(self, kwargs: Any) -> bool:
        try:
            data = self._serialise(kwargs)
            return False if data is None else self._spool_one(data)
        except Exception:
            self.stats["dropped_error"] += 1
            log.exception("failed to spool a usage event (dropped)")
            return False

    def _serialise(self, kwargs: Any) -> Optional[str]:
        payload = kwargs.get("standard_logging_object") if isinstance(kwargs, dict) else None
        if not isinstance(payload, dict):
            log.warning("event without standard_logging_object ignored (call_type=%s)",
                        kwargs.get("call_type") if isinstance(kwargs, dict) else None)
            return None
        return self._serialise_payload(payload)

    def _serialise_payload(self, payload: dict) -> str:
        if not self.include_content:
            payload = strip_content(payload)
        payload = dict(sanitise_key_hash(payload))
        payload["companion_dedup_key"] = dedup_key(payload)
        return json.dumps(payload, default=str, separators=(",", ":"))

    def _spool_one(self, data: str) -> bool:
        if self.spool is None:
            try:
                self.spool = Spool(self.spool_path, self.max_bytes)
            except Exception:
                self.stats["dropped_error"] += 1
                log.exception("cannot open spool %s; event dropped", self.spool_path)
                return False
        ok = self.spool.append(data)
        if not ok:
            self.stats["dropped_full"] += 1
            now = time.monotonic()
            if now - self._last_full_log >= 10.0 or self.stats["dropped_full"] == 1:
                self._last_full_log = now
                log.error(
                    "SPOOL FULL: %s is over COMPANION_SPOOL_MAX_BYTES=%d; usage event DROPPED "
                    "(%d dropped by this process so far). Is the companion service reachable?",
                    self.spool_path, self.max_bytes, self.stats["dropped_full"],
                )
            return False
        self.stats["spooled"] += 1
        if self.autostart:
            self.ensure_worker()
            self._wake.set()
        return True

    # ---------------------------------------------------------------- delivery ---------------
    def ensure_worker(self) -> None:
        if not self.webhook_url or self.spool is None:
            return
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="companion-callback-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None:
            t.join(timeout)
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None

    def close(self) -> None:
        self.stop()
        if self.spool is not None:
            self.spool.close()

    def _backoff(self, attempt: int) -> float:
        raw = min(self.retry_max, self.retry_base * (2 ** min(attempt, 30)))
        return raw * (0.5 + random.random() / 2)  # jitter: 50..100 %

    def _run(self) -> None:
        log.info("delivery worker started: %s -> %s (batch %d, every %.2fs)",
                 self.spool_path, self.webhook_url, self.max_batch_size, self.flush_interval)
        while not self._stop.is_set():
            try:
                outcome, retry_after = self.deliver_batch()
            except Exception:
                log.exception("delivery worker error")
                outcome, retry_after = "retry", None
            if outcome == "empty":
                self._wake.wait(self.flush_interval)
                self._wake.clear()
            elif outcome == "retry":
                delay = self._backoff(self._consecutive_failures - 1)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.retry_max))
                self._stop.wait(delay)
            # "ok" / "shrunk" / "dead": go on immediately (drain)

    def flush(self, timeout: float = 30.0, max_rounds: int = 10_000) -> int:
        """Synchronously delivers until the spool is empty; retries (with backoff) until ``timeout``.

        Returns the number of rows still pending. Usable from tests and scripts."""
        deadline = time.monotonic() + timeout
        for _ in range(max_rounds):
            outcome, retry_after = self.deliver_batch()
            if outcome == "empty":
                break
            if outcome == "retry":
                delay = self._backoff(self._consecutive_failures - 1)
                if retry_after is not None:
                    delay = max(delay, min(retry_after, self.retry_max))
                if time.monotonic() + delay > deadline:
                    break
                time.sleep(delay)
            if time.monotonic() > deadline:
                break
        return self.spool.pending() if self.spool is not None else 0

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.http_timeout, follow_redirects=False, trust_env=False)
        return self._client

    def deliver_batch(self) -> tuple[str, Optional[float]]:
        """One delivery attempt. Returns (outcome, retry_after) with outcome in
        empty | ok | retry | shrunk | dead."""
        if not self.webhook_url or self.spool is None:
            return "empty", None
        with self._deliver_lock:
            rows = self.spool.lease(self.batch_size)
            if not rows:
                return "empty", None
            ids = [r[0] for r in rows]
            body = "[" + ",".join(r[1] for r in rows) + "]"
            headers = {"Content-Type": "application/json",
                       "X-Companion-Batch-Id": str(uuid.uuid4()),
                       "X-Companion-Source": "durable-callback"}
            if self._secret:
                headers["Authorization"] = f"Bearer {self._secret}"
            raw = body.encode("utf-8")
            signing = os.environ.get("COMPANION_SIGNING_SECRET", "")
            if signing:
                # Optional body signature (service: WEBHOOK_SIGNING_SECRET): HMAC-SHA256 of "<t>.<body>".
                t = str(int(time.time()))
                mac = hmac.new(signing.encode("utf-8"), t.encode("ascii") + b"." + raw, hashlib.sha256).hexdigest()
                headers["X-Companion-Signature"] = f"t={t},v1={mac}"
            try:
                resp = self._http().post(self.webhook_url, content=raw, headers=headers)
            except Exception as e:  # connection refused, timeout, DNS, protocol...
                self.spool.release(ids)
                self._fail(f"{type(e).__name__}: {e}", len(ids))
                return "retry", None

            status = resp.status_code
            if 200 <= status < 300:
                self.spool.delete(ids)
                self.stats["delivered"] += len(ids)
                if self._consecutive_failures:
                    log.info("delivery recovered after %d failed attempts", self._consecutive_failures)
                self._consecutive_failures = 0
                return "ok", None

            reason = _short_body(resp)
            if status == 413:
                if len(ids) > 1:
                    self.batch_size = max(1, len(ids) // 2)
                    self.spool.release(ids)
                    log.warning("webhook answered 413 for %d events; batch size now %d", len(ids), self.batch_size)
                    return "shrunk", None
                self.spool.dead_letter(ids, status, f"413 for a single event: {reason}")
                self.stats["dead_lettered"] += 1
                log.error("webhook answered 413 for a single event (spool id %d): moved to dead_letter", ids[0])
                return "dead", None

            if status in (401, 403):
                self.spool.release(ids)
                now = time.monotonic()
                if now - self._last_auth_log >= 10.0 or self._consecutive_failures == 0:
                    self._last_auth_log = now
                    log.error("CONFIG ERROR: webhook %s answered %d (check WEBHOOK_SECRET); "
                              "%d events stay spooled and will be retried", self.webhook_url, status, len(ids))
                self._fail(f"HTTP {status}", len(ids), quiet=True)
                return "retry", _retry_after(resp)

            if status in (408, 429) or status >= 500 or status < 200 or 300 <= status < 400:
                self.spool.release(ids)
                self._fail(f"HTTP {status}: {reason}", len(ids))
                return "retry", _retry_after(resp)

            # other 4xx: the server says the batch itself is malformed -> never retry it
            self.spool.dead_letter(ids, status, reason)
            self.stats["dead_lettered"] += len(ids)
            self._consecutive_failures = 0
            log.error("webhook rejected a batch of %d events with HTTP %d (%s): moved to dead_letter in %s",
                      len(ids), status, reason, self.spool_path)
            return "dead", None

    def _fail(self, what: str, n: int, quiet: bool = False) -> None:
        self._consecutive_failures += 1
        self.stats["failed_attempts"] += 1
        if quiet:
            return
        level = logging.WARNING if self._consecutive_failures < 5 else logging.ERROR
        if self._consecutive_failures <= 5 or self._consecutive_failures % 20 == 0:
            log.log(level, "delivery of %d events to %s failed (%s), attempt %d; will retry",
                    n, self.webhook_url, what, self._consecutive_failures)


def _short_body(resp: httpx.Response) -> str:
    try:
        t = resp.text
    except Exception:
        t = ""
    return f"HTTP {resp.status_code}: {t[:500]}"


def _retry_after(resp: httpx.Response) -> Optional[float]:
    v = resp.headers.get("retry-after")
    if not v:
        return None
    try:
        return max(0.0, float(v))
    except ValueError:
        return None


def _make_instance() -> CompanionLogger:
    try:
        return CompanionLogger()
    except Exception:  # never break LiteLLM's startup
        log.exception("companion callback initialisation failed; running without delivery")
        return CompanionLogger(autostart=False, webhook_url="")


_instance: Optional[CompanionLogger] = None
_instance_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """``proxy_handler_instance`` is created on first access (PEP 562), i.e. when LiteLLM loads
    the config, not when a test merely imports this module."""
    global _instance
    if name == "proxy_handler_instance":
        with _instance_lock:
            if _instance is None:
                _instance = _make_instance()
            return _instance
    raise AttributeError(name)
