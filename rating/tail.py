"""Tailing a directory of CDR files (``*.jsonl``/``*.ndjson`` JSON lines, ``*.csv`` with a header).

Each pass (``CdrTail.poll``) reads, per file, the bytes after the saved offset up to the last
complete line (a line the switch is still writing waits for its newline), rates the CDRs, and
only THEN saves the new offset. The offsets live in a small JSON state file (by default
``DIR/.trunkline-tail.json``), written to a temporary file, fsynced and renamed over the old one,
so it is always either the old or the new state. A crash between the commit and the save makes
the next pass read those lines again, and rating is exactly once per call id: they come back as
duplicates and charge nothing. A restart therefore neither loses lines nor charges twice.

- A file whose inode changed, or that is now shorter than its offset, was rotated or truncated:
  it is read again from the start (again, duplicates charge nothing).
- A malformed line cannot be answered with a 400 as over HTTP: it is logged with ``FILE:LINE``
  and counted, and the good lines around it are rated; the offset moves past it, so one bad line
  never blocks the file forever. Fix the switch and re-post the call over HTTP if it matters.
- A CSV file's header is its first line; a pass that starts mid-file parses its lines under that
  header, and reports errors at the file's own line numbers.
- A database error leaves the offset where it was: the next pass retries the same lines.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rating.cdr import Cdr, CdrError, parse_csv, parse_jsonl

log = logging.getLogger(__name__)

STATE_NAME = ".trunkline-tail.json"
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_CHUNK_BYTES = 8 << 20  # read at most this much of one file per transaction (then the next chunk)


@dataclass(slots=True)
class TailResult:
    """What one pass did."""

    files: int = 0
    cdrs: int = 0
    errors: list[str] = field(default_factory=list)  # "PATH:LINE: field: message"


@dataclass(slots=True)
class _FileState:
    inode: int
    offset: int = 0
    line: int = 0  # complete lines consumed so far (the header included, for CSV)


class CdrTail:
    """Rates the new complete lines of every CDR file in ``directory`` on each ``poll()``."""

    def __init__(
        self,
        directory: Path,
        rate: Callable[[list[Cdr]], Any],
        *,
        state_file: Path | None = None,
        chunk_bytes: int = _CHUNK_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.state_file = Path(state_file) if state_file else self.directory / STATE_NAME
        self._rate = rate
        self._chunk = chunk_bytes
        self._files = self._read_state()

    def poll(self) -> TailResult:
        """One pass over the directory (blocking: file I/O and the database)."""
        result = TailResult()
        present: set[str] = set()
        for path in sorted(self.directory.iterdir()):
            kind = SUFFIXES.get(path.suffix.lower())
            if kind is None or path.name.startswith(".") or not path.is_file():
                continue
            present.add(path.name)
            result.files += 1
            self._follow(path, kind, result)
        gone = set(self._files) - present
        if gone:
            for name in gone:
                del self._files[name]
            self._save_state()
        return result

    def offsets(self) -> dict[str, int]:
        return {name: state.offset for name, state in self._files.items()}

    def _follow(self, path: Path, kind: str, result: TailResult) -> None:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            state = self._files.get(path.name)
            if state is None or state.inode != info.st_ino or info.st_size < state.offset:
                if state is not None:
                    log.warning("%s was rotated or truncated: reading it again from the start", path)
                state = _FileState(info.st_ino)
            while state.offset < info.st_size:
                handle.seek(state.offset)
                data = handle.read(self._chunk)
                end = data.rfind(b"\n")
                if end < 0:
                    if len(data) < self._chunk:
                        break  # the last line is still being written
                    data += handle.readline()  # one line longer than a chunk
                    end = data.rfind(b"\n")
                    if end < 0:
                        break
                data = data[: end + 1]
                text = data.decode("utf-8", errors="replace")
                cdrs, errors = self._parse(path, kind, text, state)
                for error in errors:
                    field = f" {error.field}:" if error.field else ""
                    message = f"{path}:{error.line}:{field} {error.detail}"
                    log.error("malformed CDR: %s", message)
                    result.errors.append(message)
                if cdrs:
                    self._rate(cdrs)  # raises on a database error: the offset stays, the next pass retries
                result.cdrs += len(cdrs)
                state = _FileState(state.inode, state.offset + len(data), state.line + text.count("\n"))
                self._files[path.name] = state
                self._save_state()
            self._files.setdefault(path.name, state)

    def _parse(self, path: Path, kind: str, text: str, state: _FileState) -> tuple[list[Cdr], list[CdrError]]:
        if kind == "jsonl":
            cdrs, errors = parse_jsonl(text)
            return cdrs, [_shift(e, state.line) for e in errors]
        if state.offset == 0:
            return parse_csv(text)
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8", errors="replace")
        cdrs, errors = parse_csv(header.rstrip("\r\n") + "\n" + text)
        # Line 1 of this parse is the header; line n is the file's line state.line + n - 1.
        return cdrs, [_shift(e, state.line - 1) for e in errors if e.line > 1]

    def _read_state(self) -> dict[str, _FileState]:
        try:
            raw = json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning(
                "ignoring unreadable tail state %s (%s): files are read again, duplicates charge nothing",
                self.state_file,
                exc,
            )
            return {}
        files = raw.get("files", {}) if isinstance(raw, dict) else {}
        return {
            name: _FileState(int(entry["inode"]), int(entry["offset"]), int(entry.get("line", 0)))
            for name, entry in files.items()
            if isinstance(entry, dict) and "inode" in entry and "offset" in entry
        }

    def _save_state(self) -> None:
        payload = {
            "version": 1,
            "files": {
                name: {"inode": s.inode, "offset": s.offset, "line": s.line} for name, s in sorted(self._files.items())
            },
        }
        folder = self.state_file.parent
        fd, temporary = tempfile.mkstemp(prefix=".tail-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.state_file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        try:
            dir_fd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _shift(error: CdrError, lines_before: int) -> CdrError:
    return CdrError(error.line + lines_before, error.field, error.detail)
