"""A throwaway PostgreSQL server for tests.

Why a real server: the switch database runs on PostgreSQL in production, and the things that
matter there (advisory locks, row locks on balances, unique call ids under concurrency, DDL in a
transaction) cannot be faked by SQLite or a mock.

How: the server binaries of the newest installed major version (Debian's
`/usr/lib/postgresql/<major>/bin`, else whatever `initdb` is on PATH) initialise a cluster in a
temporary directory and serve it on a free port of 127.0.0.1, with the unix socket in the same
directory so nothing touches `/var/run/postgresql`. Durability is switched off (fsync,
synchronous_commit, full_page_writes) because a test cluster is thrown away. Authentication is
`trust`: only local tests can reach it.

PostgreSQL refuses to run as root and CI machines run as root, so when we are root every server
command runs as the `postgres` system user through `runuser -u postgres --`, in a directory owned
by that user. Each pytest-xdist worker starts its own server; ports are picked by binding to port
0 and the start is retried when another process took the port in between.

Exceptions: `PostgresUnavailable` (no binaries or no user to run them as: a reason to skip
outside CI) and `PostgresStartError` (the binaries exist but the server would not come up: always
a failure). Both derive from `PostgresError`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

__all__ = [
    "PostgresError",
    "PostgresServer",
    "PostgresStartError",
    "PostgresUnavailable",
    "find_bindir",
]

#: The binaries a server needs; they must all live in one directory (one major version).
SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")

#: Settings passed to every server: fast and throwaway, reachable only from this machine.
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Tests create engines freely; a pool per engine adds up, and the default of 100 is low for it.
    "max_connections": "200",
    "shared_buffers": "32MB",
    # Containers often give /dev/shm only 64MB; parallel query then fails in "posix" segments.
    "dynamic_shared_memory_type": "mmap",
}

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PORT_TAKEN = ("could not bind", "Address already in use", "could not create any TCP/IP sockets")
_START_ATTEMPTS = 10
_READY_TIMEOUT = 60.0


class PostgresError(Exception):
    """Base of the errors this module raises."""


class PostgresUnavailable(PostgresError):
    """PostgreSQL cannot be run on this machine at all (binaries or user missing)."""


class PostgresStartError(PostgresError):
    """The binaries exist but the server did not initialise, start or accept connections."""


def find_bindir() -> Path | None:
    """Return the directory holding initdb, pg_ctl and postgres, or None.

    `$TRUNKLINE_PG_BINDIR`, when set, is the only place looked at. Otherwise: the highest major
    version under /usr/lib/postgresql/*/bin (Debian/Ubuntu), then the directory `initdb` on PATH
    resolves to.
    """
    candidates: list[Path] = []
    if override := os.environ.get("TRUNKLINE_PG_BINDIR"):
        candidates.append(Path(override))
    else:
        candidates.extend(_default_candidates())
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in SERVER_BINARIES):
            return bindir
    return None


def _default_candidates() -> list[Path]:
    candidates: list[Path] = []
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major_version, reverse=True))
    if on_path := shutil.which("initdb"):
        # /usr/local/bin/initdb may be a symlink into a versioned directory: use the real one, so
        # pg_ctl and postgres come from the same version.
        candidates.append(Path(on_path).resolve().parent)
        candidates.append(Path(on_path).parent)
    return candidates


def _major_version(bindir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bindir.parent.name.split("."))
    except ValueError:
        return (-1,)


class PostgresServer:
    """One PostgreSQL server in a temporary directory, for the lifetime of a test session.

    Use as a context manager, or call `start()` and `stop()`. `create_database(name)` returns a
    SQLAlchemy URL for a new empty database.
    """

    host = "127.0.0.1"
    user = "postgres"

    def __init__(self, *, bindir: Path | None = None, base_dir: Path | None = None) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found under "
                "/usr/lib/postgresql/*/bin or on PATH (or in $TRUNKLINE_PG_BINDIR when set); run "
                "`make system-deps` (Debian package `postgresql`)"
            )
        self.bindir = found
        self._run_as = self._run_as_prefix()
        self._base_dir = base_dir
        self.root: Path | None = None
        self.port: int | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def data_dir(self) -> Path:
        return self._root / "data"

    @property
    def socket_dir(self) -> Path:
        return self._root

    @property
    def log_file(self) -> Path:
        return self._root / "server.log"

    def start(self) -> None:
        """Initialise a cluster and start the server; return once it accepts connections."""
        if self._started:
            return
        self.root = Path(tempfile.mkdtemp(prefix="trunkline-pg-", dir=self._temp_parent()))
        atexit.register(self.stop)
        try:
            self._chown_to_server_user(self.root)
            self._initdb()
            self._start_on_free_port()
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (immediate mode: the data is thrown away) and remove its directory."""
        root, self.root = self.root, None
        if root is None:
            return
        try:
            if self._started:
                self._started = False
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    self._run(
                        ["pg_ctl", "stop", "-D", str(root / "data"), "-m", "immediate", "-w", "-t", "30"],
                        cwd=root,
                        timeout=60,
                    )
        finally:
            shutil.rmtree(root, ignore_errors=True)
            atexit.unregister(self.stop)

    # -- databases -------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of `database` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self._port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        """libpq connection string of `database`, for psycopg.connect()."""
        return f"host={self.host} port={self._port} user={self.user} dbname={database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._check_name(name)
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        self._check_name(name)
        with self._admin() as conn:
            if conn.info.server_version >= 130000:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
                return
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

    # -- internals -------------------------------------------------------------------------

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise PostgresError("cannot use server: it is not running")
        return self.root

    @property
    def _port(self) -> int:
        if self.port is None or not self._started:
            raise PostgresError("cannot use server: it is not running")
        return self.port

    @staticmethod
    def _check_name(name: str) -> None:
        if not _DB_NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_DB_NAME.pattern}")

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10)

    @staticmethod
    def _run_as_prefix() -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root, and PostgreSQL refuses root, but there is no `postgres` user to "
                "run it as; run `make system-deps`"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is None:
            raise PostgresUnavailable("running as root, but `runuser` (util-linux) is not installed")
        return [runuser, "-u", "postgres", "--"]

    def _temp_parent(self) -> str | None:
        if self._base_dir is not None:
            return str(self._base_dir)
        if self._run_as:
            # The postgres user must be able to traverse every parent; $TMPDIR may be private to
            # root (pytest's own basetemp is 0700), /tmp never is.
            return "/tmp"
        return None

    def _chown_to_server_user(self, path: Path) -> None:
        if self._run_as:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a server binary (as postgres when we are root), output captured as text."""
        command = [*self._run_as, str(self.bindir / argv[0]), *argv[1:]]
        # Output goes to a file, not a pipe: `pg_ctl start` leaves a server behind, and a child
        # that inherited our pipe would keep it open and block us forever.
        with tempfile.TemporaryFile("w+") as output:
            completed = subprocess.run(
                command,
                cwd=cwd,
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
                text=True,
            )
            output.seek(0)
            return subprocess.CompletedProcess(command, completed.returncode, output.read(), None)

    def _initdb(self) -> None:
        done = self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=self._root,
            timeout=120,
        )
        if done.returncode != 0:
            raise PostgresStartError(f"cannot initialise cluster with {self.bindir}/initdb:\n{done.stdout}")

    def _start_on_free_port(self) -> None:
        last_output = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port(self.host)
            options = [f"-p {port}", f"-k {shlex.quote(str(self.socket_dir))}"]
            options += [f"-c {key}={shlex.quote(value)}" for key, value in SERVER_SETTINGS.items()]
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            done = self._run(
                [
                    "pg_ctl",
                    "start",
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(int(_READY_TIMEOUT)),
                    "-o",
                    " ".join(options),
                ],
                cwd=self._root,
                timeout=_READY_TIMEOUT + 30,
            )
            if done.returncode == 0:
                self.port = port
                self._started = True
                return
            last_output = done.stdout + self._log_since(log_offset)
            if not any(marker in last_output for marker in _PORT_TAKEN):
                break
        raise PostgresStartError(f"cannot start server from {self.bindir}:\n{last_output}")

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            try:
                with psycopg.connect(self.conninfo(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresStartError(
                        f"cannot connect to server on port {self.port}: {exc}\n{self._log_since(0)}"
                    ) from exc
                time.sleep(0.1)

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open(errors="replace") as log:
                log.seek(offset)
                return log.read()
        except OSError:
            return ""


def _free_port(host: str) -> int:
    """A port nobody listens on right now; another process may still take it before we do."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    # PGPORT, PGDATA, PGHOST... from the caller's environment would redirect the server commands.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}
