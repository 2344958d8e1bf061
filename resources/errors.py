"""Errors of the declared model, and the base of every Trunkline error.

Tree (each package adds its own leaves under ``TrunklineError``)::

    TrunklineError
    ├── ValidationError     bad input: a list of ``Problem`` values, exit code 2
    └── (switchdb, reconciler, rating add ConflictError, SourceError, ...)

A ``Problem`` carries everything a user needs to find the mistake: the file and position,
the object (kind/namespace/name), the field path in camelCase, and a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


class TrunklineError(Exception):
    """Base of every error Trunkline reports to a user (no traceback for these)."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def render_path(path: Sequence[Any]) -> str:
    """``("spec", "contacts", 0, "email")`` → ``spec.contacts[0].email``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the input, positioned as precisely as known."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    field: str | None = None

    @property
    def object_ref(self) -> str | None:
        if self.kind is None:
            return None
        return f"{self.kind}/{self.namespace or 'default'}/{self.name or '?'}"

    def render(self) -> str:
        """``path/file.yaml:LINE:COL: Kind/namespace/name: spec.field: message``."""
        parts: list[str] = []
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        if self.object_ref is not None:
            parts.append(self.object_ref)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file or "", self.line or 0, self.column or 0, self.message)


class ValidationError(TrunklineError):
    """The input is invalid; ``problems`` lists every problem found in one run."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=Problem.sort_key)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + "\n" + "\n".join(p.render() for p in self.problems))
