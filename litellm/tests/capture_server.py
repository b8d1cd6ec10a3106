"""A tiny webhook capture server (stdlib http.server in a thread) for the tests.

It also stands in for the service's GET /webhooks/litellm/person (see ``people``)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional
from urllib.parse import parse_qs, urlsplit


class CaptureServer:
    """Records every POST (header names lower-cased). ``responder(n, body)`` can return a status code to answer instead of 200
    (n = 0-based index of the request); when it returns a non-2xx code the events are NOT recorded
    in ``events`` (only in ``requests``).

    ``people`` maps a key hash to the JSON answered by GET /webhooks/litellm/person?key_hash=...
    (the service's shape: tests/fixtures/person_view.json); unknown hashes get 404, a wrong
    secret 401, and every GET is recorded in ``person_requests``."""

    def __init__(self, port: int = 0, secret: Optional[str] = None,
                 responder: Optional[Callable[[int, bytes], int]] = None) -> None:
        self.requests: list[dict] = []
        self.events: list[dict] = []
        self.secret = secret
        self.responder = responder
        self.people: dict[str, dict] = {}
        self.person_requests: list[dict] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, payload: object) -> None:
                # no keep-alive: after stop() nothing may still be served on an old connection
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.close_connection = True
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                url = urlsplit(self.path)
                key_hash = (parse_qs(url.query).get("key_hash") or [""])[0]
                with outer._lock:
                    outer.person_requests.append({"path": url.path, "key_hash": key_hash,
                                                  "headers": {k.lower(): v for k, v in self.headers.items()}})
                    view = outer.people.get(key_hash)
                if url.path != "/webhooks/litellm/person":
                    return self._answer(404, {"error": {"code": "not_found", "message": "no route", "requestId": "t"}})
                if outer.secret is not None and self.headers.get("Authorization") != f"Bearer {outer.secret}":
                    return self._answer(401, {"error": {"code": "unauthorized", "message": "wrong or missing webhook secret", "requestId": "t"}})
                if view is None:
                    return self._answer(404, {"error": {"code": "not_found", "message": "key not found", "requestId": "t"}})
                return self._answer(200, view)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer._lock:
                    idx = len(outer.requests)
                    outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                status = 200
                if outer.secret is not None and self.headers.get("Authorization") != f"Bearer {outer.secret}":
                    status = 401
                elif outer.responder is not None:
                    status = outer.responder(idx, body) or 200
                if 200 <= status < 300:
                    text = body.decode("utf-8")
                    try:
                        parsed = json.loads(text)
                        items = parsed if isinstance(parsed, list) else [parsed]
                    except json.JSONDecodeError:  # ndjson
                        items = [json.loads(line) for line in text.splitlines() if line.strip()]
                    with outer._cond:
                        outer.events.extend(items)
                        outer._cond.notify_all()
                self._answer(status, {"ok": 200 <= status < 300})

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/webhooks/litellm"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "CaptureServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[dict]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= n, timeout=timeout)
            return list(self.events)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
