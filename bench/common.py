"""Shared by the benchmark scripts: timing, the machine's description, tables, profiles.

Benchmarks print figures and ratios; they never assert on time. Every step reports wall-clock
seconds and this process's CPU seconds: on a shared machine the wall clock includes waiting
for other processes, the CPU time does not (a PostgreSQL server's work is in its own processes,
so for database steps the wall clock is the figure that counts).
"""

from __future__ import annotations

import contextlib
import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Timing:
    label: str
    wall: float = 0.0
    cpu: float = 0.0
    gc: float = 0.0  # wall seconds spent in the cyclic garbage collector during the block
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)


@contextlib.contextmanager
def timed(label: str, results: list[Timing] | None = None, *, collect: bool = True) -> Iterator[Timing]:
    """Time the block (wall and process CPU); a full GC first, so earlier garbage is not billed here."""
    if collect:
        gc.collect()
    timing = Timing(label)
    started: list[float] = []

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            timing.gc += time.perf_counter() - started.pop()

    gc.callbacks.append(on_gc)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall = time.perf_counter() - wall
        timing.cpu = time.process_time() - cpu
        gc.callbacks.remove(on_gc)
        if results is not None:
            results.append(timing)
        figures = f"{timing.wall:.2f} s wall, {timing.cpu:.2f} s cpu, {timing.gc:.2f} s in gc"
        print(f"  {label}: {figures} {timing.note}".rstrip(), flush=True)


def figures(t: Timing) -> list[str]:
    """Wall, CPU and GC seconds of a step, for a table row."""
    return [f"{t.wall:.2f}", f"{t.cpu:.2f}", f"{t.gc:.2f}"]


def ratio(ours: float, raw: float) -> str:
    return f"{ours / raw:.1f}x" if raw > 0 else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes into RESULTS.md as it is)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    right = [all(_numeric(r[i]) or not r[i] for r in cells[1:]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right)]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-.") and not text.endswith(("s)", "]"))


def machine(extra: dict[str, str] | None = None) -> str:
    """What the figures were measured on: cores, load, Python, SQLite, packages."""
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    info = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {_cpu_model()}",
        "load average (1/5/15 min) at start": load,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "sqlite": sqlite3.sqlite_version,
        "packages": f"pydantic {pkg('pydantic')}, ruamel.yaml {pkg('ruamel.yaml')} (clib {pkg('ruamel.yaml.clib')}), "
        f"SQLAlchemy {pkg('SQLAlchemy')}, psycopg {pkg('psycopg')}",
        **(extra or {}),
    }
    return "\n".join(f"- {k}: {v}" for k, v in info.items())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def profiled(enabled: bool, label: str, *, top: int = 25) -> Iterator[None]:
    """With ``enabled``, run the block under cProfile and print the top functions by own time."""
    if not enabled:
        yield
        return
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        print(f"\n--- profile: {label} ---\n{_trim(out.getvalue())}", flush=True)


def _trim(text: str) -> str:
    return "\n".join(line.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/", "") for line in text.splitlines())


@contextlib.contextmanager
def databases(kind: str, tmp: Path, name: str) -> Iterator[tuple[str, str, str]]:
    """(URL of the database under test, URL of the raw-limit database, server description).

    SQLite: two files in ``tmp``. PostgreSQL: one throwaway server (tests/support/postgres.py,
    fsync and synchronous_commit off) holding ``bench_<name>`` and ``bench_raw``.
    """
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'switch.db'}", f"sqlite:///{tmp / 'raw.db'}", "SQLite (file, WAL as configured)"
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from support.postgres import PostgresServer

    with PostgresServer() as server:
        import psycopg

        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = f"PostgreSQL {row[0] if row else '?'} ({server.bindir}; fsync/synchronous_commit off)"
        yield server.create_database(f"bench_{name}"), server.create_database("bench_raw"), version


def processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command line, the fields of /proc/PID/stat after the command name) of every live process."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        yield int(proc.name), command, fields


def cpu_seconds(groups: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """CPU seconds so far of the live processes whose command line holds all words of a group.

    Processes that exited are not counted here (take their share from ``resource.getrusage``).
    (/proc/stat's machine-wide ticks undercount bursty work in this VM, so "everything else"
    is not derived from it.)
    """
    tick = os.sysconf("SC_CLK_TCK")
    found = dict.fromkeys(groups, 0.0)
    for _pid, command, fields in processes():
        for name, words in groups.items():
            if all(word in command for word in words):
                found[name] += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
                break
    return found
