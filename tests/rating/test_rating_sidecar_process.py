"""``trunkline sidecar`` as a real process: the CDR directory tail across a restart, and kill -9 after a 200."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from support.polling import wait_until
from support.rating_world import BATCH, BATCH_TOTAL, jsonl
from support.sidecar import SidecarProcess, http, metric, parse_metrics

from rating.ledger import read_balances
from rating.tail import CdrTail
from switchdb.tables import cdrs, ledger

pytestmark = pytest.mark.e2e
RECORDS = [record for record, *_ in BATCH]


@pytest.fixture
def world(engine: Any) -> Any:
    """The rating world (``engine`` of tests/rating/conftest.py), by the name these tests read best."""
    return engine


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _acme(engine: Any) -> Decimal:
    return next(b.amount for b in read_balances(engine) if b.customer == "default/acme")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_tail_rates_new_lines_only_across_a_restart(db_url: str, world: Any, tmp_path: Path) -> None:
    spool = tmp_path / "cdrs"
    spool.mkdir()
    args = ("--cdr-dir", str(spool), "--tail-interval", "1s", "--reload-interval", "1s")
    first = SidecarProcess(db_url, tmp_path / "sidecar.log", *args)
    try:
        (spool / "switch-a.jsonl").write_text(jsonl(RECORDS[:5]))
        wait_until(lambda: _count(world, cdrs) == 5, timeout=20, what="5 CDRs stored")
    finally:
        assert first.stop() == 0
    state = (spool / ".trunkline-tail.json").read_text()
    assert '"switch-a.jsonl"' in state

    # While it is down: more lines, and the start of a line the switch is still writing.
    text = jsonl(RECORDS[5:])
    with (spool / "switch-a.jsonl").open("a") as out:
        out.write(text + text[:30])
    second = SidecarProcess(db_url, tmp_path / "sidecar.log", *args)
    try:
        wait_until(lambda: _count(world, cdrs) == 9, timeout=20, what="9 CDRs stored")
        samples = parse_metrics(http(second.url, "GET", "/metrics")[1])
        rated = sum(v for (name, _), v in samples.items() if name == "trunkline_cdrs_rated_total")
        assert rated == 4  # only the new lines were read: no duplicates went through the rater
        assert metric(samples, "trunkline_cdrs_rated_total", customer="default/acme", status="Duplicate") == 0
        # The partial line completes: it is read then (a duplicate of c6, which charges nothing).
        with (spool / "switch-a.jsonl").open("a") as out:
            out.write(text[30 : text.index("\n") + 1])
        wait_until(
            lambda: (
                sum(
                    v
                    for (name, _), v in parse_metrics(http(second.url, "GET", "/metrics")[1]).items()
                    if name == "trunkline_cdrs_rated_total"
                )
                == 5
            ),
            timeout=20,
            what="5 CDRs rated in /metrics",
        )
    finally:
        assert second.stop() == 0
    assert _acme(world) == -Decimal(BATCH_TOTAL)
    assert _count(world, cdrs) == 9
    assert _count(world, ledger) == 5


def test_kill_9_after_a_200_keeps_the_cdrs(db_url: str, world: Any, tmp_path: Path) -> None:
    sidecar = SidecarProcess(db_url, tmp_path / "sidecar.log")
    try:
        status, body = http(sidecar.url, "POST", "/v1/cdrs", RECORDS)
        assert (status, body["rated"]) == (200, 7)
    finally:
        sidecar.kill()
    assert sidecar.process.returncode == -9
    assert _count(world, cdrs) == 9
    assert _acme(world) == -Decimal(BATCH_TOTAL)


def test_tail_csv_rotation_and_bad_lines(tmp_path: Path) -> None:
    rated: list[list[str]] = []
    tail = CdrTail(tmp_path, lambda batch: rated.append([c.call_id for c in batch]))
    header = "callId,start,answer,end,sourceIp,cli,dialed,sipCode\n"
    row = "{id},2026-03-01T10:00:00Z,2026-03-01T10:00:00Z,2026-03-01T10:01:00Z,198.51.100.10,1,{dialed},200\n"
    path = tmp_path / "calls.csv"
    path.write_text(header + row.format(id="x1", dialed="1212"))
    assert tail.poll().cdrs == 1
    with path.open("a") as out:
        out.write(row.format(id="x2", dialed="1212") + "x3,not-a-time,,,,1,1,200\n" + row.format(id="x4", dialed="1"))
    result = tail.poll()
    assert (result.cdrs, rated[-1]) == (2, ["x2", "x4"])
    assert result.errors == [
        f"{path}:4: start: 'not-a-time' is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T23:59:59.5+01:00)",
        f"{path}:4: end: is required",
    ]
    assert tail.poll().cdrs == 0  # nothing new
    # A new tail (a restart) resumes at the saved offset.
    again = CdrTail(tmp_path, lambda batch: rated.append([c.call_id for c in batch]))
    assert again.poll().cdrs == 0
    # Rotation: a new file under the same name is read from its start.
    path.unlink()
    path.write_text(header + row.format(id="y1", dialed="1"))
    assert again.poll().cdrs == 1 and rated[-1] == ["y1"]


def test_tail_keeps_the_offset_when_rating_fails(tmp_path: Path) -> None:
    calls: list[int] = []

    def failing(batch: list[Any]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("database down")

    (tmp_path / "a.jsonl").write_text(jsonl(RECORDS[:3]))
    tail = CdrTail(tmp_path, failing)
    with pytest.raises(RuntimeError, match="database down"):
        tail.poll()
    assert tail.offsets().get("a.jsonl", 0) == 0
    assert tail.poll().cdrs == 3 and calls == [3, 3]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc: the kernel's own account)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for a reaper does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_statistics_process_leaves_when_the_sidecar_is_killed(db_url: str, world: Any, tmp_path: Path) -> None:
    """kill -9 runs no cleanup: the statistics process must notice on its own that its sidecar is
    gone (it used to wait on its task queue for ever, one orphan per sidecar restart)."""
    sidecar = SidecarProcess(db_url, tmp_path / "sidecar.log")
    try:
        # its children: the statistics process, and multiprocessing's resource tracker
        [worker] = [pid for pid in _children(sidecar.process.pid) if b"spawn_main" in _cmdline(pid)]
        assert _running(worker)
    finally:
        sidecar.kill()
    wait_until(lambda: not _running(worker), timeout=15, what=f"statistics process {worker} to exit")
