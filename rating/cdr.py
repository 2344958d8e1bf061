"""Reading the CDR exchange format: JSON lines (or CSV with the same header names) into ``Cdr`` values.

The format (docs: RESOURCES.md, "CDR exchange format") is what switches hand the sidecar and what
``trunkline rate FILE`` reads::

    {callId, start, answer?, end, sourceIp?, sourcePort?, username?, cli, pai?, dialed, sipCode, pddMs?}

Times are RFC 3339 with an offset and are normalised to UTC. ``answer`` absent or null means the
call was not answered. The billed duration is ``end - answer`` rounded UP to whole seconds (a call
of 10.2 s bills as 11 s before increments), so a fraction of a second is never given away.

Parsing never stops at the first bad line: a file of a million CDRs with three broken lines yields
the good CDRs and three positioned ``CdrError`` values (every bad field of a line is reported),
so an operator can fix the switch export in one round. Unknown fields are errors, because a typo
such as ``anwser`` would otherwise silently turn a billed call into an unanswered one; the extra
columns of a rated export (``trunkline cdr export``) are accepted and ignored so that an export
can be rated again.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rating import RatingError

_MICROSECOND = timedelta(microseconds=1)
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)

# Columns a rated export adds to a CDR, in export order (``rating.export``); ignored on input so an
# export can be rated again.
EXPORT_FIELDS: tuple[str, ...] = (
    "customer",
    "route",
    "rateCard",
    "prefix",
    "perMinute",
    "billedSeconds",
    "packageSeconds",
    "connectFee",
    "cost",
    "currency",
    "status",
    "reason",
)
_EXPORT_ONLY = frozenset(EXPORT_FIELDS)


class CdrError(RatingError):
    """One malformed CDR: ``line`` (1-based), ``field`` (camelCase, None for the whole line), ``message``."""

    def __init__(self, line: int, field: str | None, message: str) -> None:
        where = f"line {line}" + (f": {field}" if field else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.field = field
        self.detail = message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CdrError):
            return NotImplemented
        return (self.line, self.field, self.detail) == (other.line, other.field, other.detail)

    def __hash__(self) -> int:
        return hash((self.line, self.field, self.detail))

    def __repr__(self) -> str:
        return f"CdrError({self.line!r}, {self.field!r}, {self.detail!r})"


@dataclass(frozen=True, slots=True)
class Cdr:
    """One call as the switch reported it; times in UTC."""

    call_id: str
    start: datetime
    answer: datetime | None
    end: datetime
    cli: str
    dialed: str
    sip_code: int
    source_ip: str | None = None
    source_port: int | None = None
    username: str | None = None
    pai: str | None = None
    pdd_ms: int | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def duration_s(self) -> int:
        """Whole seconds from answer to end, rounded up; 0 for an unanswered call."""
        if self.answer is None:
            return 0
        micros = (self.end - self.answer) // _MICROSECOND
        return -(-micros // 1_000_000)


class _Invalid(ValueError):
    """A field value that cannot be used; the message becomes a ``CdrError``."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"expected a string, got {_type_name(value)}")
    return value


def _non_empty(value: Any) -> str:
    text = _text(value)
    if not text.strip():
        raise _Invalid("must not be empty")
    return text


def _time(value: Any) -> datetime:
    text = _text(value)
    found = _RFC3339.fullmatch(text.strip())
    if found is None:
        raise _Invalid(f"{text!r} is not an RFC 3339 date-time with an offset (e.g. 2026-01-31T23:59:59.5+01:00)")
    # Python keeps microseconds; further digits are cut (a sub-microsecond never changes a billed second
    # in practice, and truncating both answer and end keeps their difference within 1 us).
    frac = (found["frac"] or "")[:6]
    offset = "+00:00" if found["offset"] in ("Z", "z") else found["offset"]
    try:
        parsed = datetime.fromisoformat(f"{found['date']}T{found['time']}{'.' + frac if frac else ''}{offset}")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _Invalid(f"{text!r} is not a valid date-time: {exc}") from exc


def _int_between(low: int, high: int | None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())  # CSV cells are text
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"expected an integer, got {_type_name(value)}")
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _Invalid(f"must be {bounds}, got {value}")
        return value

    return check


def _ip(value: Any) -> str:
    text = _text(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as exc:
        raise _Invalid(f"{text!r} is not an IPv4 or IPv6 address") from exc


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )


# camelCase name -> (Cdr attribute, required, converter); order is the order errors are reported in.
_FIELDS: dict[str, tuple[str, bool, Callable[[Any], Any]]] = {
    "callId": ("call_id", True, _non_empty),
    "start": ("start", True, _time),
    "answer": ("answer", False, _time),
    "end": ("end", True, _time),
    "sourceIp": ("source_ip", False, _ip),
    "sourcePort": ("source_port", False, _int_between(1, 65535)),
    "username": ("username", False, _text),
    "cli": ("cli", True, _text),
    "pai": ("pai", False, _text),
    "dialed": ("dialed", True, _non_empty),
    "sipCode": ("sip_code", True, _int_between(100, 699)),
    "pddMs": ("pdd_ms", False, _int_between(0, None)),
}
FIELDS: tuple[str, ...] = tuple(_FIELDS)
"""The exchange format's field names, in documented order (also the CSV header)."""
REQUIRED_FIELDS: tuple[str, ...] = tuple(name for name, (_, required, _) in _FIELDS.items() if required)


def cdr_from_mapping(record: Mapping[str, Any], line: int) -> tuple[Cdr | None, list[CdrError]]:
    """One CDR from decoded fields; absent or null optional fields are None. Every bad field is reported."""
    errors: list[CdrError] = []
    values: dict[str, Any] = {}
    for name, (attr, required, convert) in _FIELDS.items():
        raw = record.get(name)
        if raw is None:
            if required:
                message = "is required" if name not in record else "is required and must not be null"
                errors.append(CdrError(line, name, message))
            values[attr] = None
            continue
        try:
            values[attr] = convert(raw)
        except _Invalid as exc:
            errors.append(CdrError(line, name, str(exc)))
    for name in record:
        if name not in _FIELDS and name not in _EXPORT_ONLY:
            errors.append(CdrError(line, name, "is not a field of the CDR exchange format"))
    if errors:
        return None, errors
    start, answer, end = values["start"], values["answer"], values["end"]
    if end < start:
        errors.append(CdrError(line, "end", f"is before start ({utc_text(end)} < {utc_text(start)})"))
    if answer is not None:
        if answer < start:
            errors.append(CdrError(line, "answer", f"is before start ({utc_text(answer)} < {utc_text(start)})"))
        elif answer > end:
            errors.append(CdrError(line, "answer", f"is after end ({utc_text(answer)} > {utc_text(end)})"))
    if errors:
        return None, errors
    return Cdr(**values), []


def parse_jsonl(text: str) -> tuple[list[Cdr], list[CdrError]]:
    """CDRs from JSON lines (blank lines skipped), and an error for each bad field of each bad line."""
    cdrs: list[Cdr] = []
    errors: list[CdrError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(CdrError(number, None, f"is not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(record, dict):
            errors.append(CdrError(number, None, f"expected a JSON object, got {_json_type(record)}"))
            continue
        _collect(cdr_from_mapping(record, number), cdrs, errors)
    return cdrs, errors


def parse_csv(text: str) -> tuple[list[Cdr], list[CdrError]]:
    """CDRs from CSV whose header row uses the exchange format's names; an empty cell means absent."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return [], []
    names = [cell.strip() for cell in header]
    errors = [
        CdrError(1, name, "is a required column but the header lacks it")
        for name in REQUIRED_FIELDS
        if name not in names
    ]
    errors += [
        CdrError(1, name, "is not a column of the CDR exchange format")
        for name in names
        if name not in _FIELDS and name not in _EXPORT_ONLY
    ]
    errors += [CdrError(1, name, "appears twice in the header") for name in _duplicates(names)]
    if errors:
        return [], errors  # every row would fail the same way; one error per column is clearer
    cdrs: list[Cdr] = []
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            errors.append(CdrError(number, None, f"has {len(row)} cells, the header has {len(names)}"))
            continue
        record = {name: cell for name, cell in zip(names, row) if cell != ""}
        _collect(cdr_from_mapping(record, number), cdrs, errors)
    return cdrs, errors


def _collect(result: tuple[Cdr | None, list[CdrError]], cdrs: list[Cdr], errors: list[CdrError]) -> None:
    cdr, problems = result
    if cdr is not None:
        cdrs.append(cdr)
    errors.extend(problems)


def _duplicates(names: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


def utc_text(value: datetime) -> str:
    """A time as the exchange format and the API write it: RFC 3339, UTC as ``Z``."""
    return value.isoformat().replace("+00:00", "Z")
