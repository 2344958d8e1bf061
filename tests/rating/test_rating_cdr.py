"""Parsing the CDR exchange format (JSON lines and CSV), including every kind of malformed line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from rating.cdr import Cdr, CdrError, parse_csv, parse_jsonl

NOT_RFC3339 = "is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T23:59:59.5+01:00)"

GOOD: dict[str, Any] = {
    "callId": "a84b4c76e66710@pc33.example.com",
    "start": "2026-03-01T12:00:00+01:00",
    "answer": "2026-03-01T12:00:04.250+01:00",
    "end": "2026-03-01T12:01:05.300+01:00",
    "sourceIp": "192.0.2.10",
    "sourcePort": 5060,
    "username": "acme",
    "cli": "441234567890",
    "pai": "441234567899",
    "dialed": "4477001234567",
    "sipCode": 200,
    "pddMs": 1800,
}


def line(**changes: Any) -> str:
    """GOOD with fields changed; a value of ``...`` removes the field."""
    record = {k: v for k, v in {**GOOD, **changes}.items() if v is not ...}
    return json.dumps(record)


def test_a_full_cdr() -> None:
    cdrs, errors = parse_jsonl(line())
    assert errors == []
    assert cdrs == [
        Cdr(
            call_id="a84b4c76e66710@pc33.example.com",
            start=datetime(2026, 3, 1, 11, 0, 0, tzinfo=UTC),
            answer=datetime(2026, 3, 1, 11, 0, 4, 250_000, tzinfo=UTC),
            end=datetime(2026, 3, 1, 11, 1, 5, 300_000, tzinfo=UTC),
            cli="441234567890",
            dialed="4477001234567",
            sip_code=200,
            source_ip="192.0.2.10",
            source_port=5060,
            username="acme",
            pai="441234567899",
            pdd_ms=1800,
        )
    ]
    # 12:00:04.250 -> 12:01:05.300 is 61.05 s, billed as 62 whole seconds
    assert cdrs[0].answered and cdrs[0].duration_s == 62


@pytest.mark.parametrize(
    ("changes", "answered", "seconds"),
    [
        pytest.param({"answer": ...}, False, 0, id="answer absent: not answered, 0 s"),
        pytest.param({"answer": None}, False, 0, id="answer null: not answered, 0 s"),
        pytest.param({"answer": "2026-03-01T12:01:05.300+01:00"}, True, 0, id="answered at end: 0 s"),
        pytest.param({"end": "2026-03-01T12:00:04.251+01:00"}, True, 1, id="one millisecond rounds up to 1 s"),
        pytest.param({"end": "2026-03-01T12:00:14.250+01:00"}, True, 10, id="exactly 10 s stays 10 s"),
        pytest.param({"end": "2026-03-01T12:00:14.250001+01:00"}, True, 11, id="10 s and a microsecond is 11 s"),
        pytest.param(
            {"answer": "2026-03-01T11:00:04.25Z", "end": "2026-03-01T13:00:14.25+02:00"},
            True,
            10,
            id="answer and end in different offsets",
        ),
        pytest.param(
            {"start": "2026-03-01T11:00:00z", "answer": "2026-03-01 11:00:01Z", "end": "2026-03-01t11:00:02Z"},
            True,
            1,
            id="lower-case z and t and a space separator are RFC 3339",
        ),
    ],
)
def test_answer_and_billed_duration(changes: dict[str, Any], answered: bool, seconds: int) -> None:
    cdrs, errors = parse_jsonl(line(**changes))
    assert errors == []
    assert (cdrs[0].answered, cdrs[0].duration_s) == (answered, seconds)


def test_optional_fields_may_be_absent() -> None:
    minimal = {k: GOOD[k] for k in ("callId", "start", "end", "cli", "dialed", "sipCode")}
    cdrs, errors = parse_jsonl(json.dumps({**minimal, "sipCode": 486}))
    assert errors == []
    cdr = cdrs[0]
    assert (cdr.answer, cdr.source_ip, cdr.source_port, cdr.username, cdr.pai, cdr.pdd_ms) == (None,) * 6
    assert cdr.sip_code == 486


def test_rated_export_columns_are_ignored() -> None:
    cdrs, errors = parse_jsonl(line(customer="default/acme", cost="0.0132", status="Rated", billedSeconds=62))
    assert errors == [] and len(cdrs) == 1


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        pytest.param(line(callId=...), [CdrError(1, "callId", "is required")], id="missing callId"),
        pytest.param(line(dialed=...), [CdrError(1, "dialed", "is required")], id="missing dialed"),
        pytest.param(
            line(end=None), [CdrError(1, "end", "is required and must not be null")], id="required field null"
        ),
        pytest.param(line(callId=" "), [CdrError(1, "callId", "must not be empty")], id="blank callId"),
        pytest.param(
            line(start="2026-03-01T12:00:00"),
            [
                CdrError(
                    1,
                    "start",
                    f"'2026-03-01T12:00:00' {NOT_RFC3339}",
                )
            ],
            id="time without offset",
        ),
        pytest.param(
            line(start="yesterday"),
            [
                CdrError(
                    1,
                    "start",
                    f"'yesterday' {NOT_RFC3339}",
                )
            ],
            id="time not a date at all",
        ),
        pytest.param(
            line(start="2026-02-30T12:00:00Z"),
            [CdrError(1, "start", "'2026-02-30T12:00:00Z' is not a valid date-time: day is out of range for month")],
            id="impossible date",
        ),
        pytest.param(line(start=1767225600), [CdrError(1, "start", "expected a string, got an integer")], id="epoch"),
        pytest.param(
            line(end="2026-03-01T11:59:59+01:00"),
            [
                CdrError(1, "end", "is before start (2026-03-01T10:59:59Z < 2026-03-01T11:00:00Z)"),
                CdrError(1, "answer", "is after end (2026-03-01T11:00:04.250000Z > 2026-03-01T10:59:59Z)"),
            ],
            id="end before start (and so answer after end)",
        ),
        pytest.param(
            line(answer="2026-03-01T11:59:59+01:00"),
            [CdrError(1, "answer", "is before start (2026-03-01T10:59:59Z < 2026-03-01T11:00:00Z)")],
            id="answer before start",
        ),
        pytest.param(
            line(answer="2026-03-01T12:01:06+01:00"),
            [CdrError(1, "answer", "is after end (2026-03-01T11:01:06Z > 2026-03-01T11:01:05.300000Z)")],
            id="answer after end",
        ),
        pytest.param(line(sipCode="200"), [], id="sipCode as a digit string is accepted, as in CSV"),
        pytest.param(
            line(sipCode=99), [CdrError(1, "sipCode", "must be between 100 and 699, got 99")], id="sipCode 99"
        ),
        pytest.param(
            line(sipCode=True), [CdrError(1, "sipCode", "expected an integer, got a boolean")], id="bool code"
        ),
        pytest.param(line(sipCode=200.0), [CdrError(1, "sipCode", "expected an integer, got a number")], id="float"),
        pytest.param(
            line(sourcePort=70000), [CdrError(1, "sourcePort", "must be between 1 and 65535, got 70000")], id="port"
        ),
        pytest.param(line(pddMs=-1), [CdrError(1, "pddMs", "must be at least 0, got -1")], id="negative pddMs"),
        pytest.param(
            line(sourceIp="192.0.2.300"),
            [CdrError(1, "sourceIp", "'192.0.2.300' is not an IPv4 or IPv6 address")],
            id="bad source IP",
        ),
        pytest.param(line(cli=441234), [CdrError(1, "cli", "expected a string, got an integer")], id="cli number"),
        pytest.param(
            line(anwser="2026-03-01T12:00:04+01:00"),
            [CdrError(1, "anwser", "is not a field of the CDR exchange format")],
            id="unknown field (a typo must not make the call unanswered)",
        ),
        pytest.param(
            line(callId=..., sipCode=1, pddMs="x"),
            [
                CdrError(1, "callId", "is required"),
                CdrError(1, "sipCode", "must be between 100 and 699, got 1"),
                CdrError(1, "pddMs", "expected an integer, got a string"),
            ],
            id="every bad field of a line is reported",
        ),
        pytest.param('{"callId": ', [CdrError(1, None, "is not valid JSON: Expecting value at column 12")], id="JSON"),
        pytest.param("[1, 2]", [CdrError(1, None, "expected a JSON object, got an array")], id="not an object"),
    ],
)
def test_malformed_lines(text: str, errors: list[CdrError]) -> None:
    cdrs, found = parse_jsonl(text)
    assert found == errors
    assert len(cdrs) == (0 if errors else 1)


def test_good_lines_survive_bad_ones_with_line_numbers() -> None:
    text = "\n".join([line(callId="1"), "", line(callId="2", start="nope"), line(callId="3"), "not json", ""])
    cdrs, errors = parse_jsonl(text)
    assert [c.call_id for c in cdrs] == ["1", "3"]
    assert [(e.line, e.field) for e in errors] == [(3, "start"), (5, None)]


def test_error_message_names_line_and_field() -> None:
    error = CdrError(7, "end", "is required")
    assert str(error) == "line 7: end: is required"
    assert str(CdrError(2, None, "is not valid JSON")) == "line 2: is not valid JSON"


HEADER = "callId,start,answer,end,sourceIp,sourcePort,username,cli,pai,dialed,sipCode,pddMs"


def test_csv_rows_match_json_lines() -> None:
    text = "\n".join(
        [
            HEADER,
            "c1,2026-03-01T12:00:00+01:00,2026-03-01T12:00:04.250+01:00,2026-03-01T12:01:05.300+01:00,"
            "192.0.2.10,5060,acme,441234567890,441234567899,4477001234567,200,1800",
            "c2,2026-03-01T12:00:00+01:00,,2026-03-01T12:00:09+01:00,,,,441234567890,,4477001234567,486,",
        ]
    )
    cdrs, errors = parse_csv(text)
    assert errors == []
    assert cdrs[0] == parse_jsonl(line(callId="c1"))[0][0]
    assert (cdrs[1].answered, cdrs[1].sip_code, cdrs[1].source_port, cdrs[1].pdd_ms) == (False, 486, None, None)


def test_csv_columns_may_come_in_any_order_and_be_quoted() -> None:
    text = (
        "dialed,sipCode,cli,callId,start,end\n"
        '"4420",200,"Anonymous, Caller",x,2026-03-01T12:00:00Z,2026-03-01T12:00:01Z\n'
    )
    cdrs, errors = parse_csv(text)
    assert errors == []
    assert (cdrs[0].cli, cdrs[0].dialed) == ("Anonymous, Caller", "4420")


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        pytest.param(
            "callId,start,end,cli,sipCode\n",
            [CdrError(1, "dialed", "is a required column but the header lacks it")],
            id="header lacks a required column",
        ),
        pytest.param(
            HEADER + ",anwser\n",
            [CdrError(1, "anwser", "is not a column of the CDR exchange format")],
            id="unknown column",
        ),
        pytest.param(HEADER + ",cli\n", [CdrError(1, "cli", "appears twice in the header")], id="duplicate column"),
        pytest.param(
            "callId,start,end,cli,dialed,sipCode\nx,2026-03-01T12:00:00Z,2026-03-01T12:00:01Z,1,2\n",
            [CdrError(2, None, "has 5 cells, the header has 6")],
            id="short row",
        ),
        pytest.param(
            "callId,start,end,cli,dialed,sipCode\n\nx,2026-03-01T12:00:00Z,2026-03-01T11:00:01Z,1,2,abc\n",
            [
                CdrError(3, "sipCode", "expected an integer, got a string"),
            ],
            id="bad cell on line 3 after a blank line (range checks wait for valid fields)",
        ),
        pytest.param(
            "callId,start,end,cli,dialed,sipCode\nx,2026-03-01T12:00:00Z,2026-03-01T11:00:01Z,1,2,200\n",
            [CdrError(2, "end", "is before start (2026-03-01T11:00:01Z < 2026-03-01T12:00:00Z)")],
            id="end before start in CSV",
        ),
        pytest.param(
            "callId,start,end,cli,dialed,sipCode\n,2026-03-01T12:00:00Z,2026-03-01T12:00:01Z,1,2,200\n",
            [CdrError(2, "callId", "is required")],
            id="empty required cell is missing",
        ),
    ],
)
def test_csv_errors(text: str, errors: list[CdrError]) -> None:
    assert parse_csv(text) == ([], errors)


def test_empty_inputs() -> None:
    assert parse_jsonl("") == ([], [])
    assert parse_csv("") == ([], [])
