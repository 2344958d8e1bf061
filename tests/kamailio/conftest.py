"""Fixtures for the Kamailio end-to-end tests (helpers in support.kamailio).

- `switch_db`: a temp SQLite file holding ``trunkline apply examples/``.
- `uas`: a sipp UAS on 127.0.0.1:<free port>.
- `kamailio`: the example cfg with the DB and the UAS as destination.
- `kamailio_factory`: the same with extra defines (``WITH_SIDECAR``).
- `run_uac(...)`: a sipp UAC from a 127.0.0.x source address, expecting a final code.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.kamailio import ROOT, Kamailio, SippUas, SwitchDb, UacResult, require, source_lock, uac_scenario


@pytest.fixture
def switch_db(tmp_path: Path) -> SwitchDb:
    require("kamailio", "kamcmd", "sipp")
    db = SwitchDb(tmp_path / "switch.db")
    db.apply(ROOT / "examples")
    return db


@pytest.fixture
def uas(tmp_path: Path) -> Iterator[SippUas]:
    require("sipp")
    server = SippUas(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def kamailio_factory(tmp_path: Path, switch_db: SwitchDb, uas: SippUas) -> Iterator[Callable[..., Kamailio]]:
    started: list[Kamailio] = []

    def start(**defines: str | None) -> Kamailio:
        workdir = tmp_path / f"kamailio-{len(started)}"
        workdir.mkdir()
        switch = Kamailio(workdir, switch_db, uas.uri, defines)
        started.append(switch)
        return switch

    yield start
    for switch in started:
        switch.stop()


@pytest.fixture
def kamailio(kamailio_factory: Callable[..., Kamailio]) -> Kamailio:
    return kamailio_factory()


@pytest.fixture
def run_uac(tmp_path: Path) -> Callable[..., UacResult]:
    counter = iter(range(1_000_000))

    def run(
        switch: Kamailio,
        *,
        source: str = "127.0.0.2",
        source_port: int = 5060,
        dialed: str = "15125550199",
        cli: str = "15125550100",
        from_domain: str | None = None,
        pai: str | None = None,
        expect: int = 200,
        calls: int = 1,
        username: str | None = None,
        password: str | None = None,
        hold_ms: int = 200,
    ) -> UacResult:
        n = next(counter)
        workdir = tmp_path / f"uac-{n}"
        workdir.mkdir()
        scenario = workdir / "uac.xml"
        scenario.write_text(uac_scenario(expect, hold_ms=hold_ms, pai=pai))
        stats, errors = workdir / "stats.csv", workdir / "errors.log"
        command = [
            "sipp", switch.address, "-sf", str(scenario), "-s", dialed,
            "-i", source, "-p", str(source_port), "-bind_local",
            "-key", "cli", cli, "-key", "from_domain", from_domain or source,
            "-m", str(calls), "-l", "5", "-r", "10", "-timeout", "20s", "-timeout_error",
            "-nostdin", "-trace_err", "-error_file", str(errors),
            "-trace_stat", "-stf", str(stats), "-fd", "1",
        ]  # fmt: skip
        if username is not None:
            command += ["-au", username, "-ap", password or ""]
        with source_lock(source, source_port):
            process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=40)
        successful = failed = 0
        if stats.exists():
            rows = list(csv.DictReader(stats.open(), delimiter=";"))
            if rows:
                successful = int(rows[-1]["SuccessfulCall(C)"])
                failed = int(rows[-1]["FailedCall(C)"])
        text = errors.read_text(errors="replace") if errors.exists() else ""
        return UacResult(process.returncode, successful, failed, text + process.stderr)

    return run
