"""``trunkline sidecar``: the rating sidecar's HTTP server (``rating.service``), beside the switch.

``--listen HOST:PORT`` (``[::1]:8080`` for IPv6; port 0 picks a free one). The line
``listening on http://HOST:PORT`` is printed once the first revision is loaded and the socket
accepts connections. SIGTERM/SIGINT stop accepting, let requests in flight finish (a CDR batch
that was answered 200 is committed), and exit 0.

Statistics are rolled up every ``--stats-interval`` and after each CDR batch. With
``--alerts-interval``, alerts are evaluated on that timer and emails go through ``--smtp
HOST:PORT`` (several sidecars may all evaluate: one at a time does, see ``rating.service``).
Package periods are charged every ``--packages-interval`` (exactly once across sidecars).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click
from aiohttp import web

from rating.notify import Notifier
from rating.service import create_app
from reconciler.cli.app import INTERVAL, cli, db_option
from reconciler.cli.common import open_db


def parse_listen(text: str) -> tuple[str, int]:
    """``127.0.0.1:8080`` / ``[::1]:8080`` / ``:8080`` (loopback) → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


class _Listen(click.ParamType):
    name = "host:port"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, tuple):
            return value
        try:
            return parse_listen(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@cli.command()
@db_option
@click.option("--listen", type=_Listen(), default="127.0.0.1:8080", show_default=True, help="HTTP address")
@click.option(
    "--cdr-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="tail the .jsonl/.ndjson/.csv CDR files in this directory",
)
@click.option(
    "--tail-state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="offsets file (default DIR/.trunkline-tail.json)",
)
@click.option(
    "--tail-interval", type=INTERVAL, default="1s", show_default=True, help="time between passes over --cdr-dir"
)
@click.option("--reload-interval", type=INTERVAL, default="5s", show_default=True, help="time between revision checks")
@click.option(
    "--stats-interval", type=INTERVAL, default="60s", show_default=True, help="time between statistics roll-ups"
)
@click.option("--alerts-interval", type=INTERVAL, help="evaluate alerts this often (default: never)")
@click.option(
    "--packages-interval",
    type=INTERVAL,
    default="60s",
    show_default=True,
    help="time between package charging passes",
)
@click.option(
    "--charge-packages/--no-charge-packages",
    default=True,
    show_default=True,
    help="charge package periods here (off when another job runs 'trunkline packages charge')",
)
@click.option("--smtp", type=_Listen(), default="localhost:25", show_default=True, help="SMTP relay for alert emails")
@click.option("--sender", default="trunkline@localhost", show_default=True, help="From address of alert emails")
def sidecar(
    db_url: str | None,
    listen: tuple[str, int],
    cdr_dir: Path | None,
    tail_state: Path | None,
    tail_interval: float,
    reload_interval: float,
    stats_interval: float,
    alerts_interval: float | None,
    packages_interval: float,
    charge_packages: bool,
    smtp: tuple[str, int],
    sender: str,
) -> None:
    """Serve authorize, CDR rating, calls, health and metrics over HTTP, reloading on each new revision."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = open_db(db_url)
    app = create_app(
        engine,
        reload_interval=reload_interval,
        cdr_dir=cdr_dir,
        tail_state=tail_state,
        tail_interval=tail_interval,
        stats_interval=stats_interval,
        alerts_interval=alerts_interval,
        packages_interval=packages_interval if charge_packages else None,
        notifier=Notifier(smtp_host=smtp[0], smtp_port=smtp[1], sender=sender),
    )
    asyncio.run(_serve(app, *listen))
    engine.dispose()


async def _serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=30)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        print(f"listening on http://{shown}:{bound[1]}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        print("stopping", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
