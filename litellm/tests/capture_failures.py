"""Capture what the REAL LiteLLM proxy (litellm/requirements.txt) delivers through our durable
callback for failed, retried, interrupted and unpriced calls; writes the service's test fixture.

    .venv-litellm/bin/python litellm/tests/capture_failures.py service/test/fixtures/litellm-failures.json

Runs litellm/fake_provider.py (the upstream) and the proxy with litellm/config.test-failures.yaml
(no database; test_auth.py accepts any sk- key), a local capture server as the webhook. Each case
maps to the events the callback delivered for one chat request, as they arrived (the callback has
already stripped message content). Takes ~1 minute.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from capture_server import CaptureServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-capture-person-0001"
SECRET = "capture-secret-0123456789"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def chat(url: str, model: str, *, stream: bool = False, msg: str = "hello") -> int:
    body = {"model": model, "messages": [{"role": "user", "content": msg}], "stream": stream}
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        with httpx.Client(timeout=30) as c:
            if stream:
                with c.stream("POST", f"{url}/v1/chat/completions", headers=headers, json=body) as r:
                    for _ in r.iter_bytes():
                        pass
                    return r.status_code
            return c.post(f"{url}/v1/chat/completions", headers=headers, json=body).status_code
    except httpx.HTTPError:
        return 0  # the proxy cut the stream


CASES = {
    # case: (model, stream, events expected)
    "success": ("priced", False, 1),
    "success_stream": ("priced", True, 1),
    "unpriced": ("unpriced", False, 1),
    "interrupted_stream": ("break-stream", True, 1),
    # the failure event, plus what the callback adds for LiteLLM's spend rows (<id>-billed and two
    # timed-out retries <id>-attempt-0/1: config.test-failures.yaml registers _ProxyDBLogger)
    "timeout": ("slow", False, 4),
    "retried_then_success": ("flaky", False, 2),
    "fallback_after_failure": ("broken", False, 2),
}


def main(out: str) -> None:
    venv = Path(sys.executable).parent
    cap = CaptureServer(secret=SECRET).start()
    provider_port, proxy_port = free_port(), free_port()
    spool = tempfile.mkdtemp()
    provider = subprocess.Popen([sys.executable, str(ROOT / "litellm" / "fake_provider.py"), str(provider_port)], start_new_session=True)
    env = {**os.environ, "LITELLM_MASTER_KEY": "sk-master-capture-0123", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "PYTHONPATH": str(ROOT / "litellm"), "COMPANION_WEBHOOK_URL": cap.url, "WEBHOOK_SECRET": SECRET,
           "COMPANION_SPOOL_PATH": f"{spool}/spool.sqlite3", "COMPANION_FLUSH_INTERVAL": "0.2",
           "FAKE_PROVIDER_URL": f"http://127.0.0.1:{provider_port}/v1"}
    proxy = subprocess.Popen([str(venv / "litellm"), "--config", str(ROOT / "litellm" / "config.test-failures.yaml"),
                              "--host", "127.0.0.1", "--port", str(proxy_port)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{proxy_port}"
    captured: dict[str, list[dict]] = {}
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        for case, (model, stream, expected) in CASES.items():
            before = len(cap.events)
            status = chat(url, model, stream=stream, msg=f"{case} {time.time()}")
            cap.wait_for(before + expected, timeout=30)
            time.sleep(1.5)  # nothing more arrives for this call
            captured[case] = cap.events[before:]
            print(f"{case}: HTTP {status}, {len(captured[case])} event(s)", flush=True)
    finally:
        os.killpg(proxy.pid, signal.SIGTERM)
        os.killpg(provider.pid, signal.SIGTERM)
        cap.stop()
    doc = {"litellm": _litellm_version(), "key": KEY, "cases": captured}
    Path(out).write_text(json.dumps(doc, indent=1, default=str) + "\n")


def _litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "litellm-failures.json")
