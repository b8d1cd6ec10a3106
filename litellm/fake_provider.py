"""TEST-ONLY OpenAI-compatible upstream with failure modes, for capturing what a real LiteLLM
proxy reports on failed calls (config.test-failures.yaml). Stdlib only.

The upstream model name (what LiteLLM sends as ``model``) picks the behaviour:

  ok            200, usage 10 prompt + 20 completion tokens (streamed when asked)
  break-stream  streamed: 3 content chunks, then the connection is dropped (no finish_reason)
  slow          answers after FAKE_PROVIDER_SLOW_SECONDS (default 3): longer than the model's
                ``timeout``, so LiteLLM's read times out
  fail500       500 with an OpenAI error body
  flaky         500 for the first FAKE_PROVIDER_FLAKY_FAILS calls (default 2) carrying the same
                first message, then 200 (so LiteLLM's retries end in a success)

Run: python litellm/fake_provider.py <port>
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_flaky_seen: dict[str, int] = {}
_lock = threading.Lock()


def _completion(model: str) -> dict:
    return {
        "id": f"chatcmpl-fake-{time.time_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the fake provider."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    }


def _chunk(cid: str, model: str, content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    body = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._json(200, {"ok": True})

    def _json(self, status: int, body: dict) -> None:
        out = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        req = json.loads(self.rfile.read(n) or b"{}")
        model = str(req.get("model", ""))
        stream = bool(req.get("stream"))
        if model == "slow":
            time.sleep(float(os.environ.get("FAKE_PROVIDER_SLOW_SECONDS", "3")))
            return self._json(200, _completion(model))
        if model == "fail500":
            return self._json(500, {"error": {"message": "fake provider failure", "type": "server_error", "code": "500"}})
        if model == "flaky":
            first = json.dumps((req.get("messages") or [{}])[0])
            with _lock:
                seen = _flaky_seen.get(first, 0)
                _flaky_seen[first] = seen + 1
            if seen < int(os.environ.get("FAKE_PROVIDER_FLAKY_FAILS", "2")):
                return self._json(500, {"error": {"message": "fake provider flaky failure", "type": "server_error", "code": "500"}})
        if not stream:
            return self._json(200, _completion(model))
        cid = f"chatcmpl-fake-{time.time_ns()}"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        send = lambda b: (self.wfile.write(f"{len(b):x}\r\n".encode() + b + b"\r\n"), self.wfile.flush())
        words = ["Hello", " from", " the", " fake", " provider."]
        for w in words[:3]:
            send(_chunk(cid, model, w))
            time.sleep(0.05)
        if model == "break-stream":
            # Drop the connection mid-stream, inside the chunked body: no finish_reason, no
            # [DONE], no last chunk, so httpx raises RemoteProtocolError (an interrupted stream).
            self.close_connection = True
            self.connection.shutdown(2)
            return
        for w in words[3:]:
            send(_chunk(cid, model, w))
        send(_chunk(cid, model, None, "stop"))
        usage = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model, "choices": [],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}
        send(f"data: {json.dumps(usage)}\n\n".encode())
        send(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # LiteLLM hanging up on "slow" is expected
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4099
    server = Server(("127.0.0.1", port), Handler)
    print(f"fake provider on {port}", flush=True)
    server.serve_forever()
