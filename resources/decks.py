"""Rate decks from CSV: a header row naming Rate's fields, then one rate per row.

Decks of 100k+ rows are normal, so rows are checked by hand-written converters and the
Rate models are built in one TypeAdapter call instead of one validation per row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from resources.errors import Problem
from resources.kinds.ratecard import Rate

COLUMNS = {
    "prefix": str,
    "name": str,
    "perMinute": str,
    "connectFee": str,
    "minimumSeconds": int,
    "initialIncrement": int,
    "subsequentIncrement": int,
    "effectiveFrom": str,
    "blocked": bool,
}
REQUIRED = ("prefix", "perMinute")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}
_RATES = TypeAdapter(list[Rate])


def _convert(column: str, text: str) -> Any:
    kind = COLUMNS[column]
    if kind is int:
        if not text.isdigit():
            raise ValueError(f"expected a whole number, got {text!r}")
        return int(text)
    if kind is bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    return text


def parse_deck(text: str, *, file: str, first_line: int = 1) -> tuple[list[Rate], list[Problem]]:
    """Parse CSV text into rates; problems name the CSV file, line and column."""
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return [], [Problem("rate deck is empty; expected a header row", file=file, line=first_line)]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = []
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        allowed = ", ".join(COLUMNS)
        return [], [Problem(f"{'; '.join(parts)} (columns: {allowed})", file=file, line=first_line)]
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    width = len(header)
    for offset, record in enumerate(reader, start=1):
        line = first_line + offset
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if len(record) != width:
            problems.append(Problem(f"expected {width} values, found {len(record)}", file=file, line=line))
            continue
        row: dict[str, Any] = {}
        for column, raw in zip(header, record):
            value = raw.strip()
            if value == "" and column not in ("blocked",):
                continue
            try:
                row[column] = _convert(column, value)
            except ValueError as exc:
                problems.append(Problem(str(exc), file=file, line=line, field=column))
        rows.append(row)
        lines.append(line)
    try:
        rates = _RATES.validate_python(rows)
    except PydanticValidationError as exc:
        for error in exc.errors():
            index = error["loc"][0] if error["loc"] else 0
            column = ".".join(str(p) for p in error["loc"][1:])
            line = lines[index] if isinstance(index, int) and index < len(lines) else first_line
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(Problem(message, file=file, line=line, field=column or None))
        rates = []
    # Checked here, where each rate's CSV line is known (the card's manifest has no rates to point at);
    # the rule is the one ``duplicate_rates`` applies to inline rates.
    first: dict[tuple[str, Any], int] = {}
    for rate, line in zip(rates, lines):
        seen = first.setdefault((rate.prefix, rate.effective_from), line)
        if seen != line:
            when = f" effective {rate.effective_from.isoformat()}" if rate.effective_from else ""
            message = f"prefix {rate.prefix}{when} repeats line {seen}"
            problems.append(Problem(message, file=file, line=line, field="prefix"))
    return rates, problems


def load_deck(path: Path) -> tuple[list[Rate], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        return [], [Problem(f"cannot read rate deck: {exc.strerror or exc}", file=str(path))]
    except UnicodeDecodeError as exc:
        return [], [Problem(f"cannot read rate deck: not UTF-8 text ({exc.reason})", file=str(path))]
    return parse_deck(text, file=str(path))
