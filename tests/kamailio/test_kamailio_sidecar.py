"""Kamailio + the real rating sidecar (``trunkline sidecar``), driven by sipp, on loopback: a blocked
prefix, channel limits (486/503 as the route says), the max-duration BYE, the CDRs and statistics
that follow, the sidecar unreachable, and one run against PostgreSQL. See conftest.py for the
Kamailio/sipp fixtures.

Every sipp run is bounded (``-m``, ``-timeout``, a subprocess timeout). The UAC scenarios here
are conftest's ``uac_scenario`` variants: ``answered_or_refused`` (one sipp process whose first
calls are answered and held while a later one is refused: the example IP authentication pins
the source to 127.0.0.2:5060, so a second process could not send at the same time) and
``answered_until_bye`` (the switch must hang up).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.db import sql
from support.kamailio import (
    ANSWERED_ACK,
    ANSWERED_FINISH,
    ANSWERED_RECV,
    REFUSED_FINISH,
    ROOT,
    Kamailio,
    SippUas,
    exported_cdrs,
    free_tcp_port,
    require,
    source_lock,
    trunkline,
    uac_scenario,
    wait_for_cdrs,
)
from support.polling import wait_until
from support.sidecar import SidecarProcess, http
from support.tools import skip_or_fail

pytestmark = pytest.mark.e2e

CLI = PAI = "15125550100"  # an Austin DID: passes both of Acme's CLI rules
DIALED = "12125550123"  # NANP: acme-standard (usd-wholesale)
BLOCKED = "881612345678"  # 8816 Satellite - Iridium: blocked on usd-wholesale


# ----- helpers ---------------------------------------------------------------------------------


def modified_examples(tmp_path: Path, **routes: dict[str, Any]) -> Path:
    """A copy of examples/ with the named IngressRoutes' spec fields replaced."""
    manifests = tmp_path / "manifests"
    shutil.copytree(ROOT / "examples", manifests)
    path = manifests / "routes.yaml"
    documents = list(yaml.safe_load_all(path.read_text()))
    for document in documents:
        name = document["metadata"]["name"]
        if name in routes:
            document["spec"].update(routes.pop(name))
    assert not routes, f"no such routes: {sorted(routes)}"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return manifests


def answered_or_refused(code: int, *, hold_ms: int) -> str:
    """A call that is either answered (ACK, hold, BYE) or refused with ``code`` (ACK): both succeed."""
    recv = f"""<recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" optional="true" rrs="true" next="answered"/>
  <recv response="{code}" next="refused"/>"""
    refused = REFUSED_FINISH.replace("<send>", '<send next="done">', 1)
    finish = refused + "\n  " + ANSWERED_FINISH.replace("{hold_ms}", str(hold_ms)) + '\n  <label id="done"/>'
    return _swap_outcomes(uac_scenario(200, pai=PAI), recv, finish)


def answered_until_bye() -> str:
    """Answered, then wait (up to 15 s) for the switch's BYE and answer it. rtd 1 = 200 OK → BYE."""
    recv = """<recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" start_rtd="1" next="answered"/>"""
    finish = (
        ANSWERED_ACK
        + """
  <recv request="BYE" timeout="15000" rtd="1"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
]]></send>"""
    )
    return _swap_outcomes(uac_scenario(200, pai=PAI), recv, finish)


def _swap_outcomes(base: str, recv: str, finish: str) -> str:
    """Replace the answered-call receive blocks and ending of conftest's UAC scenario."""
    assert base.count(ANSWERED_RECV) == 2
    head, _, _ = base.partition('<label id="answered"/>')
    return head.replace(ANSWERED_RECV, recv) + finish + "\n</scenario>\n"


@dataclass
class SippRun:
    returncode: int
    stats: dict[str, str]  # the last -trace_stat row
    counts: dict[str, int]  # the last -trace_counts row: "<index>_<message>_<Sent|Recv|...>" → n
    messages: str  # -trace_msg
    stderr: str
    elapsed: float

    @property
    def successful(self) -> int:
        return int(self.stats.get("SuccessfulCall(C)", 0))

    @property
    def failed(self) -> int:
        return int(self.stats.get("FailedCall(C)", 0))

    def received(self, response: str) -> int:
        """How many ``response`` (e.g. "200", "486") sipp received, over every scenario step."""
        return sum(n for key, n in self.counts.items() if re.fullmatch(rf"\d+_{response}_Recv", key))

    def describe(self) -> str:
        return f"sipp exit {self.returncode}: {self.stats}\n{self.counts}\n{self.stderr[-3000:]}"


def run_sipp(
    workdir: Path,
    switch: Kamailio,
    scenario: str,
    *,
    calls: int,
    limit: int | None = None,
    rate: float = 10,
    dialed: str = DIALED,
    source: str = "127.0.0.2",
    source_port: int = 5060,
    timeout: int = 40,
) -> SippRun:
    """sipp UAC, bounded: -m calls, -timeout, and a subprocess timeout."""
    workdir.mkdir(parents=True)
    (workdir / "uac.xml").write_text(scenario)
    command = [
        "sipp", switch.address, "-sf", "uac.xml", "-s", dialed,
        "-i", source, "-p", str(source_port), "-bind_local",
        "-key", "cli", CLI, "-key", "from_domain", source,
        "-m", str(calls), "-l", str(limit or calls), "-r", str(rate),
        "-timeout", f"{timeout - 10}s", "-timeout_error", "-nostdin",
        "-trace_stat", "-stf", "stats.csv", "-fd", "1",
        "-trace_counts", "-trace_msg", "-message_file", "messages.log",
        "-trace_err", "-error_file", "errors.log",
    ]  # fmt: skip
    with source_lock(source, source_port):
        started = time.monotonic()
        process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout)
        elapsed = time.monotonic() - started
    stats = _last_row(workdir / "stats.csv")
    counts_files = sorted(workdir.glob("*_counts.csv"))
    counts = {k: int(v) for k, v in _last_row(counts_files[-1]).items() if v.isdigit()} if counts_files else {}
    messages = (workdir / "messages.log").read_text(errors="replace") if (workdir / "messages.log").exists() else ""
    errors = (workdir / "errors.log").read_text(errors="replace") if (workdir / "errors.log").exists() else ""
    return SippRun(process.returncode, stats, counts, messages, errors + process.stderr, elapsed)


def _last_row(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    rows = list(csv.DictReader(path.open(), delimiter=";"))
    return {k.strip(): (v or "").strip() for k, v in rows[-1].items() if k} if rows else {}


def sipp_seconds(value: str) -> float:
    """sipp's "HH:MM:SS:mmm[uuu]" durations (response times, call length)."""
    hours, minutes, seconds, fraction = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction}")


def acme_stats(db_url: str) -> dict[str, Any]:
    out = trunkline("stats", "--customer", "acme-voip", "--by", "day", "-o", "json", db_url=db_url).stdout
    rows = [row for row in json.loads(out) if row["attempts"]]  # one row per day
    assert len(rows) == 1, out
    return rows[0]


# ----- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def start_sidecar(tmp_path: Path) -> Iterator[Callable[[str], SidecarProcess]]:
    started: list[SidecarProcess] = []

    def start(db_url: str) -> SidecarProcess:
        process = SidecarProcess(db_url, tmp_path / f"sidecar-{len(started)}.log", "--reload-interval", "1s")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def switch_with(
    kamailio_factory: Callable[..., Kamailio], switch_db, start_sidecar, tmp_path: Path
) -> Callable[..., tuple[Kamailio, SidecarProcess]]:
    """Apply a modified copy of examples/ (route fields), then start the sidecar and Kamailio."""

    def start(**routes: dict[str, Any]) -> tuple[Kamailio, SidecarProcess]:
        if routes:
            switch_db.apply(modified_examples(tmp_path, **routes))
        sidecar = start_sidecar(switch_db.url)
        return kamailio_factory(WITH_SIDECAR=None, TL_SIDECAR=f'"{sidecar.url}"'), sidecar

    return start


# ----- tests -----------------------------------------------------------------------------------


def test_blocked_prefix_is_refused_with_the_sidecars_code_and_reason(switch_with, switch_db, tmp_path):
    switch, sidecar = switch_with()
    status, decision = http(
        sidecar.url, "POST", "/v1/authorize", {"sourceIp": "127.0.0.2", "sourcePort": 5060, "cli": CLI, "pai": PAI,
                                               "dialed": BLOCKED},
    )  # fmt: skip
    assert status == 200 and decision["allowed"] is False, decision
    assert decision["sipCode"] == 403 and "block" in decision["reason"].lower(), decision

    run = run_sipp(tmp_path / "uac", switch, answered_or_refused(403, hold_ms=200), calls=1, dialed=BLOCKED)
    assert (run.returncode, run.successful, run.received("403"), run.received("200")) == (0, 1, 1, 0), run.describe()
    assert f"SIP/2.0 403 {decision['reason']}" in run.messages, run.messages[-3000:]
    assert "sidecar refused" in switch.log_text()
    # refused before relaying: no CDR, no attempt on the switch side
    assert exported_cdrs(switch_db.url, BLOCKED[-8:]) == []


@pytest.mark.parametrize(
    ("route", "dialed", "code"),
    [("acme-standard", DIALED, 503), ("acme-premium", "99" + DIALED, 486)],
    ids=["standard-503", "premium-486"],
)
def test_over_channel_limit_gets_the_routes_code_and_stats_match_sipp(
    switch_with, switch_db, tmp_path, route, dialed, code
):
    switch, sidecar = switch_with(**{route: {"channels": 2}})
    hold_ms = 4000
    # 3 calls 100 ms apart: two are answered and held 4 s, the third finds both channels taken
    run = run_sipp(tmp_path / "uac", switch, answered_or_refused(code, hold_ms=hold_ms), calls=3, dialed=dialed)
    assert (run.returncode, run.successful, run.failed) == (0, 3, 0), run.describe()
    assert (run.received("200"), run.received(str(code))) == (2 + 2, 1), run.describe()  # 2 INVITE + 2 BYE 200s
    assert re.search(rf"sidecar refused \S+: {code} ", switch.log_text()), switch.log_text()[-3000:]

    cdrs = wait_for_cdrs(switch_db.url, DIALED, 2, switch=switch, sidecar_log=sidecar.log)
    assert len(cdrs) == 2, cdrs
    assert all(str(row.get("status", "")).lower() == "rated" for row in cdrs), cdrs

    stats = acme_stats(switch_db.url)
    answered = run.received("200") - 2  # the BYEs' 200s
    assert stats["attempts"] == answered == 2, stats  # the refused call never reached the switch's CDRs
    assert stats["answered"] == 2 and stats["asr"] == 100.0, stats
    assert hold_ms / 1000 <= stats["acd"] <= hold_ms / 1000 + 1.5, stats  # whole-second CDR times


def test_max_duration_bye_from_kamailio_and_the_call_is_rated(switch_with, switch_db, tmp_path):
    switch, sidecar = switch_with(**{"acme-standard": {"maxDuration": 3}})
    run = run_sipp(tmp_path / "uac", switch, answered_until_bye(), calls=1)
    assert (run.returncode, run.successful) == (0, 1), run.describe()
    assert "BYE sip:" in run.messages, run.messages[-3000:]
    answer_to_bye = sipp_seconds(run.stats["ResponseTime1(C)"])
    # The dialog timer starts at the 200 OK but counts whole seconds (Kamailio's ticks), so the
    # BYE comes between maxDuration - 1 and maxDuration after the answer: never late.
    assert 2.0 <= answer_to_bye <= 3.0 + 1.5, run.describe()

    (cdr,) = wait_for_cdrs(switch_db.url, DIALED, 1, switch=switch, sidecar_log=sidecar.log)
    assert str(cdr.get("status", "")).lower() == "rated", cdr
    stats = acme_stats(switch_db.url)
    assert (stats["attempts"], stats["answered"], stats["asr"]) == (1, 1, 100.0), stats
    assert abs(stats["acd"] - answer_to_bye) <= 1.5, (stats, answer_to_bye)


def test_sidecar_unreachable_is_a_500_from_the_suspended_transaction(kamailio_factory, switch_db, tmp_path):
    """The authorize worker (another process than the SIP worker that suspended the INVITE)
    answers through the transaction: one 500 per call, nothing relayed, no CDR."""
    switch = kamailio_factory(WITH_SIDECAR=None, TL_SIDECAR=f'"http://127.0.0.1:{free_tcp_port()}"')
    run = run_sipp(tmp_path / "uac", switch, uac_scenario(500, pai=PAI), calls=2)
    assert (run.returncode, run.successful, run.received("500"), run.received("200")) == (0, 2, 2, 0), run.describe()
    assert run.messages.count("SIP/2.0 500 Rating Unavailable") == 2, run.messages[-3000:]
    assert switch.log_text().count("sidecar authorize failed") == 2, switch.log_text()[-3000:]
    assert exported_cdrs(switch_db.url, DIALED) == []


class _PostgresSwitchDb:
    def __init__(self, url: str) -> None:
        self.url = url

    def apply(self, manifests: Path) -> str:
        return trunkline("apply", "-y", str(manifests), db_url=self.url).stdout


def _require_db_postgres() -> None:
    modules = [Path(p) for p in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/lib64")]
    if not any((base / "kamailio" / "modules" / "db_postgres.so").exists() for base in modules):
        reason = "Kamailio's db_postgres module is not installed (apt-get install kamailio-postgres-modules)"
        skip_or_fail(reason, where="tests/kamailio")


def test_postgres_switch_database(postgres_url, uas: SippUas, start_sidecar, tmp_path):
    require("kamailio", "kamcmd", "sipp")
    _require_db_postgres()
    db = _PostgresSwitchDb(postgres_url)
    db.apply(modified_examples(tmp_path, **{"acme-standard": {"channels": 2}}))
    kamailio_url = re.sub(r"^postgresql\+\w+://", "postgres://", postgres_url)
    sidecar = start_sidecar(postgres_url)
    workdir = tmp_path / "kamailio"
    workdir.mkdir()
    switch = Kamailio(
        workdir, db, uas.uri,  # type: ignore[arg-type]
        {"WITH_POSTGRES": None, "TL_DB_URL": f'"{kamailio_url}"', "WITH_SIDECAR": None,
         "TL_SIDECAR": f'"{sidecar.url}"'},
    )  # fmt: skip
    try:
        run = run_sipp(tmp_path / "uac", switch, answered_or_refused(503, hold_ms=2000), calls=3)
        assert (run.returncode, run.successful) == (0, 3), run.describe() + switch.log_text()[-3000:]
        assert (run.received("200"), run.received("503")) == (4, 1), run.describe()
        unknown = run_sipp(tmp_path / "uac-unknown", switch, answered_or_refused(403, hold_ms=0), calls=1,
                           source="127.0.0.9")  # fmt: skip
        assert (unknown.returncode, unknown.received("403")) == (0, 1), unknown.describe()
    finally:
        switch.stop()
    cdrs = wait_for_cdrs(postgres_url, DIALED, 2, switch=switch, sidecar_log=sidecar.log)
    assert len(cdrs) == 2 and all(str(row.get("status", "")).lower() == "rated" for row in cdrs), cdrs
    stats = acme_stats(postgres_url)
    assert (stats["attempts"], stats["answered"], stats["asr"]) == (2, 2, 100.0), stats
    assert 2 <= stats["acd"] <= 3.5, stats


def test_a_cdr_the_sidecar_could_not_take_survives_restarts_of_both(kamailio_factory, switch_db, tmp_path):
    listen = ("--listen", f"127.0.0.1:{free_tcp_port()}", "--reload-interval", "1s")
    first = SidecarProcess(switch_db.url, tmp_path / "sidecar-1.log", *listen)
    restarted: SidecarProcess | None = None
    try:
        switch = kamailio_factory(WITH_SIDECAR=None, TL_SIDECAR=f'"{first.url}"')
        # A 4 s call: the sidecar authorizes it, then stops before the BYE, so the CDR finds no one.
        calls: list[Any] = []
        scenario = answered_or_refused(503, hold_ms=4000)
        call = threading.Thread(target=lambda: calls.append(run_sipp(tmp_path / "uac", switch, scenario, calls=1)))
        call.start()
        wait_until(lambda: "IP authentication" in switch.log_text(), timeout=20, what="the INVITE reached Kamailio")
        time.sleep(1)
        assert first.stop() == 0
        call.join(30)
        assert calls and (calls[0].returncode, calls[0].successful) == (0, 1), calls and calls[0].describe()
        wait_until(lambda: "sidecar did not take" in switch.log_text(), timeout=20, what="the failed CDR post")
        assert exported_cdrs(switch_db.url, DIALED) == []

        # The switch stops too: its queue goes to the cdr_queue table, and comes back with it.
        switch.stop()
        assert "queue [cdr_queue] saved in db" in switch.log_text(), switch.log_text()[-2000:]
        assert [json.loads(v)["dialed"] for (v,) in sql(switch_db.url, "SELECT val FROM cdr_queue")] == [DIALED]
        restarted = SidecarProcess(switch_db.url, tmp_path / "sidecar-2.log", *listen)
        again = kamailio_factory(WITH_SIDECAR=None, TL_SIDECAR=f'"{restarted.url}"')
        (cdr,) = wait_for_cdrs(switch_db.url, DIALED, 1, switch=again, sidecar_log=restarted.log)
        assert str(cdr.get("status", "")).lower() == "rated", cdr
        assert sql(switch_db.url, "SELECT count(*) FROM cdr_queue") == [(0,)]
        assert "sidecar CDR post failed" not in switch.log_text() + again.log_text()  # never given up
    finally:
        for process in (first, restarted):
            if process is not None and process.process.poll() is None:
                process.kill()


class _FlakyCdrPosts:
    """An HTTP hop in front of a real sidecar (no mock of it: every request it lets through is the
    sidecar's): refuses the first CDR batch of several lines with 400, then fails the first
    single-CDR post with 503, the way a sidecar going away halfway through a re-post would."""

    def __init__(self, sidecar_url: str) -> None:
        import http.server
        import urllib.error
        import urllib.request

        self.refused: list[tuple[int, int]] = []  # (status, CDR lines) of each post it failed
        hop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                lines = body.count(b"\n")
                if self.path == "/v1/cdrs" and (lines > 1) == (len(hop.refused) == 0) and len(hop.refused) < 2:
                    hop.refused.append((400 if lines > 1 else 503, lines))
                    self._answer(hop.refused[-1][0], b'{"error": "injected"}')
                    return
                request = urllib.request.Request(sidecar_url + self.path, data=body, method="POST")
                request.add_header("Content-Type", self.headers.get("Content-Type", "application/json"))
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        self._answer(answer.status, answer.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_cdr_whose_one_by_one_repost_fails_is_queued_again_not_dropped(kamailio_factory, switch_db, tmp_path):
    sidecar = SidecarProcess(switch_db.url, tmp_path / "sidecar.log", "--listen", f"127.0.0.1:{free_tcp_port()}")
    hop = _FlakyCdrPosts(sidecar.url)
    try:
        # CDRs are posted every 3 s here, so the two calls' CDRs go in one batch
        switch = kamailio_factory(
            WITH_SIDECAR=None, TL_SIDECAR=f'"{hop.url}"', TL_CDR_TIMER='"name=cdrs;interval=3;mode=1;"'
        )
        run = run_sipp(tmp_path / "uac", switch, answered_or_refused(503, hold_ms=200), calls=2)
        assert (run.returncode, run.successful) == (0, 2), run.describe()
        cdrs = wait_for_cdrs(switch_db.url, DIALED, 2, switch=switch, sidecar_log=sidecar.log)
        assert [str(c.get("status", "")).lower() for c in cdrs] == ["rated", "rated"], cdrs
        assert hop.refused == [(400, 2), (503, 1)], hop.refused  # both failures happened, in that order
        assert "sidecar CDR post failed" not in switch.log_text(), switch.log_text()[-3000:]
    finally:
        hop.close()
        sidecar.kill()
