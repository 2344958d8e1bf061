"""The rating sidecar for tests: in a thread (``ServerThread``) or as ``trunkline sidecar`` (``SidecarProcess``),
plus a stdlib HTTP client and a Prometheus text parser. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from resources import gcpause

ROOT = Path(__file__).resolve().parents[2]


#: How long aiohttp lets in-flight requests finish when the server stops. Its default is 60 s, as
#: long as the wait on ``cleanup()`` used to be, so one in-flight request failed the teardown.
#: (Set on the runner: ``TCPSite(shutdown_timeout=...)`` is deprecated since aiohttp 3.9.)
SHUTDOWN_TIMEOUT = 5.0


class ServerThread:
    """An aiohttp application served on 127.0.0.1:<free port> by an event loop in a thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            # cleanup() gives in-flight requests SHUTDOWN_TIMEOUT, then runs the app's cleanup hooks;
            # the wait here is well beyond both.
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(60)
        gcpause.thaw_heap()  # the sidecar froze the test process's heap: let what the test left be collected

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]


def http(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30,
) -> tuple[int, Any]:
    """One request; the body is parsed as JSON when the response says so, else returned as text."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, kind, payload = response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as exc:
        status, kind, payload = exc.code, exc.headers.get_content_type(), exc.read()
    return status, (json.loads(payload) if kind == "application/json" else payload.decode())


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a Prometheus text exposition: (name, labels) → value. Fails on a malformed line."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        found = _SAMPLE.match(line)
        assert found, f"malformed sample line {line!r}"
        name, labels, value = found.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"{name} has no # TYPE line"
        parsed = frozenset(_LABEL.findall(labels or ""))
        key = (name, parsed)
        assert key not in samples, f"duplicate sample {line!r}"
        samples[key] = float(value)
    return samples


def metric(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class SidecarProcess:
    """``trunkline sidecar`` as a real process on 127.0.0.1:<free port>; output in ``log``."""

    def __init__(self, db_url: str, log: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._out = log.open("ab")
        command = [sys.executable, "-m", "reconciler.cli", "sidecar", "--db", db_url, "--listen", "127.0.0.1:0", *args]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._out,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
        )
        self.url = self._wait_listening(60)

    def _wait_listening(self, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        result: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                text = line.decode(errors="replace").strip()
                if text.startswith("listening on "):
                    result.append(text.removeprefix("listening on "))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if not result:
            self.kill()
            raise AssertionError(f"the sidecar did not start:\n{self.log.read_text(errors='replace')}")
        return result[0]

    def stop(self) -> int:
        """SIGTERM and wait: a graceful stop."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self._out.close()
        return code

    def kill(self) -> None:
        """SIGKILL: no cleanup at all."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(60)
        self._out.close()
