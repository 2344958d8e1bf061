"""``trunkline sync --watch`` as a process: it ticks, and SIGTERM during the wait stops it at once; suspend/resume."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from reconciler.cli import main

PROD = "clusters/prod"
ROOT = Path(__file__).resolve().parents[2]


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


def wait_for(lines: queue.Queue, text: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} not seen within {timeout}s; output so far:\n{''.join(seen)}")


@pytest.mark.e2e
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_stop_signal_during_the_wait_ends_the_loop_promptly(sig, sqlite_url, remote, cache_dir, manifests):
    sha = remote.commit(manifests(), "Onboard Acme VoIP")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRUNKLINE_CACHE": str(cache_dir)}
    command = [sys.executable, "-m", "reconciler.cli", "sync", "--watch", "--interval", "1h"]
    command += ["--repo", remote.url, "--ref", "main", "--path", PROD, "--db", sqlite_url]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    try:
        wait_for(lines, f"applied {sha[:12]} (Onboard Acme VoIP) as revision 1", timeout=120)
        started = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout=10)
        assert time.monotonic() - started < 5
        assert code == 0
        wait_for(lines, "stopped watching", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT commit_sha FROM trunkline_revisions")).scalars().all() == [sha]
    engine.dispose()


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["sync", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_suspend_and_resume_create_and_remove_the_repositorys_suspend_file(remote, cache_dir, capsys):
    from reconciler.gitsource import GitSource
    from reconciler.watch import suspend_file

    path = suspend_file(GitSource(remote.url, "main", cache_dir=cache_dir))

    code, out, _ = run(capsys, "--repo", remote.url, "--suspend")
    assert code == 0 and "Suspended syncs of" in out
    assert path.exists() and "suspended by gitops-test" in path.read_text()

    code, out, _ = run(capsys, "--repo", remote.url, "--resume")
    assert code == 0 and "Resumed syncs of" in out
    assert not path.exists()

    code, out, _ = run(capsys, "--repo", remote.url, "--resume")
    assert code == 0 and "were not suspended" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("--watch",), "Missing option '--ref'", id="ref-required-to-sync"),
        pytest.param(("--ref", "main", "--watch", "--interval", "soon"), "is not a duration", id="bad-interval"),
        pytest.param(
            ("--ref", "main", "--watch", "--notify-slack", "ftp://hooks.example/x"),
            "must be http:// or https://",
            id="notify-url-scheme",
        ),
    ],
)
def test_usage_errors(remote, cache_dir, capsys, args, message):
    code, _, err = run(capsys, "--repo", remote.url, *args)
    assert code == 2
    assert message in err
