"""The root click group and the options every command shares."""

from __future__ import annotations

from datetime import UTC, datetime

import click

DB_HELP = "SQLAlchemy URL of the switch database (default: $TRUNKLINE_DB or sqlite:///trunkline.db)"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="trunkline", prog_name="trunkline")
def cli() -> None:
    """Trunkline: declare a carrier's switch as code; plan and apply it to the switch database."""


def db_option(function):  # type: ignore[no-untyped-def]
    return click.option("--db", "db_url", envvar="TRUNKLINE_DB", default=None, help=DB_HELP)(function)


def output_option(*choices: str, default: str = "text"):  # type: ignore[no-untyped-def]
    return click.option(
        "--output",
        "-o",
        "output",
        type=click.Choice([default, *choices]),
        default=default,
        show_default=True,
        help="output format",
    )


class Interval(click.ParamType):
    """A duration option: ``90`` (seconds), ``90s``, ``5m``, ``1h30m`` → float seconds."""

    name = "duration"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        from reconciler.watch import parse_interval

        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_interval(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


INTERVAL = Interval()


class Instant(click.ParamType):
    """A time option: a date (``2026-11-01``) or an RFC 3339 time; without an offset it is UTC."""

    name = "time"

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a date or an RFC 3339 time", param, ctx)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


INSTANT = Instant()
