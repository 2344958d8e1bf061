"""``trunkline stats`` and ``trunkline alerts check --once`` through the real entry point."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert
from support.cli import run_cli
from test_rating_alerts import declare, manifests
from test_rating_stats import CALLS, T0, cdr_row

from rating.stats import roll_up
from reconciler.cli.commands.stats import sparkline
from switchdb.engine import open_database
from switchdb.tables import cdrs


def test_stats_json_table_and_terminal_chart(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = open_database(sqlite_url)
    alert = '  recipients: [{phone: "+15550100"}]\n  area: ASR\n  operator: "<"\n  threshold: "70"\n'
    acme = declare(engine, manifests(alert))
    with engine.begin() as conn:
        conn.execute(insert(cdrs), [cdr_row(*call, customer=acme) for call in CALLS])
        roll_up(conn, T0)
    engine.dispose()
    window = ["--from", "2025-03-01T10:00:00Z", "--to", "2025-03-01T10:10:00Z", "--db", sqlite_url]
    result = run_cli(capsys, "stats", "--customer", "acme", "--by", "minute", "-o", "json", *window)
    assert result.returncode == 0, result.stderr
    first, *rest = json.loads(result.stdout)
    assert (first["attempts"], first["asr"], first["ner"], first["acd"], first["pddP95Ms"]) == (
        10,
        60.0,
        90.0,
        105.0,
        1000,
    )
    assert [r["peakChannels"] for r in rest] == [6, 3, 1]
    result = run_cli(capsys, "stats", "--customer", "default/acme", "--by", "day", "--chart", "-", *window)
    assert result.returncode == 0 and "2025-03-01" in result.stdout and "ASR █" in result.stdout
    assert run_cli(capsys, "stats", "--customer", "nobody", *window).returncode == 2


def test_alerts_check_once_rolls_up_and_evaluates(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    engine = open_database(sqlite_url)
    declare(
        engine, manifests('  recipients: [{phone: "+15550100"}]\n  area: Balance\n  operator: "<"\n  threshold: "1"\n')
    )
    engine.dispose()
    cli = run_cli(capsys, "alerts", "check", "--once", "--db", sqlite_url, "--smtp", "127.0.0.1:1", "-o", "json")
    assert cli.returncode == 0, cli.stderr
    ((result,),) = [json.loads(cli.stdout)]
    assert (result["event"], result["after"], result["deliveries"][0]["outcome"]) == ("Fired", "Sent", "Unsupported")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], "", id="empty"),
        pytest.param([None, None], "  ", id="no-values-are-gaps"),
        pytest.param([5, 5], "██", id="flat-is-full"),
        pytest.param([0, None, 7, 14], "▁ ▄█", id="scaled-min-to-max"),
    ],
)
def test_sparkline(values: list, expected: str) -> None:
    assert sparkline(values) == expected
