"""The sync loop (``trunkline sync --watch``): keep the switch database at the tip of a git ref.

Each tick of a ``Watcher``:

1. does nothing but log "suspended" while the suspend file exists (``trunkline sync --suspend``);
2. fetches the ref and checks out its commit (``sync.sync_once`` / ``sync.plan_once``);
3. applies a commit it has not applied yet, writing a revision (event ``applied``);
4. on a commit it already applied, plans against the database: a non-empty plan is drift (owned
   rows changed behind Trunkline's back), put back by the same apply (a revision at the same
   commit) unless drift correction is off, in which case it is only logged and notified.

A failed tick (``SourceError``, an invalid commit, the database down, a dependency missing) is
logged, notified, and retried with exponential backoff (5 s doubling up to 5 min, never longer than
the interval). Nothing is half-applied: an apply is one transaction, and an invalid commit leaves
the database at the last commit that applied.

``run`` waits between ticks on a ``threading.Event``; SIGTERM and SIGINT set it, so a stop
request ends the wait at once but never interrupts a tick. Tests call ``tick()`` directly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Engine

from reconciler import sync as syncing
from reconciler.gitsource import Checkout, GitSource, SourceError
from reconciler.notify import Event, Notifier
from reconciler.plan import Change, Plan
from reconciler.reconcile import Options
from reconciler.secrets import SecretResolver
from resources.errors import TrunklineError

log = logging.getLogger("trunkline.watch")

SUSPEND_FILE = "suspended"  # in the repository's cache directory (GitSource.root)
BACKOFF_START = 5.0
BACKOFF_MAX = 300.0

Outcome = Literal["applied", "unchanged", "drift-corrected", "drift-detected", "suspended", "failed"]


@dataclass(frozen=True)
class Tick:
    """What one tick did, and how long the loop waits before the next one."""

    outcome: Outcome
    delay: float
    checkout: Checkout | None = None
    plan: Plan | None = None
    revision_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Delay after the n-th consecutive failure: start·2^(n-1), capped at ``maximum`` and the interval."""

    start: float = BACKOFF_START
    maximum: float = BACKOFF_MAX

    def delay(self, failures: int, interval: float) -> float:
        return min(self.start * 2 ** max(failures - 1, 0), self.maximum, max(interval, self.start))


def suspend_file(source: GitSource) -> Path:
    return source.root / SUSPEND_FILE


def suspend(path: Path, *, actor: str, reason: str = "") -> None:
    """Pause every watcher using ``path``: ticks do nothing until ``resume``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(f"suspended by {actor} at {stamp}{': ' + reason if reason else ''}\n", encoding="utf-8")


def resume(path: Path) -> bool:
    """Remove the suspend file; False when it was not there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def describe_change(change: Change) -> str:
    """``update RateCard/default/x: rates[1] a → b``; sensitive fields read ``(sensitive)``."""
    fields = ", ".join(f"{name}: {_short(d.before)} → {_short(d.after)}" for name, d in change.diff.items())
    head = f"{change.action} {change.key.kind}/{change.key.namespace}/{change.key.name}"
    return f"{head}: {fields}" if fields else head


def _short(value: Any, limit: int = 120) -> str:
    text = "∅" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Watcher:
    """Keeps ``engine`` at the commit ``source``'s ref points to; ``run()`` loops, ``tick()`` steps."""

    def __init__(
        self,
        engine: Engine,
        source: GitSource,
        path_in_repo: str,
        *,
        actor: str,
        interval: float,
        options: Options = Options(),
        secrets: SecretResolver | None = None,
        correct_drift: bool = True,
        suspend_path: Path | None = None,
        notifier: Notifier | None = None,
        backoff: Backoff = Backoff(),
        on_tick: Callable[[Tick], None] | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.path_in_repo = path_in_repo
        self.actor = actor
        self.interval = interval
        self.options = options
        self.secrets = secrets
        self.correct_drift = correct_drift
        self.suspend_path = suspend_path if suspend_path is not None else suspend_file(source)
        self.notifier = notifier or Notifier()
        self.backoff = backoff
        self.on_tick = on_tick
        self.where = syncing.describe(source, path_in_repo)
        self.stopping = threading.Event()
        self.failures = 0  # consecutive failed ticks
        self.last_commit: str | None = None  # the commit the database was last synced to from this source
        self._last_error: str | None = None
        self._last_drift: str | None = None  # signature of the drift last reported, not to repeat it

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Tick until ``stop()`` (or SIGTERM/SIGINT when run in the main thread)."""
        log.info("watching %s ref %s every %ss", self.where, self.source.ref, _seconds(self.interval))
        with self._signals():
            while not self.stopping.is_set():
                tick = self.tick()
                if self.on_tick is not None:
                    self.on_tick(tick)
                if self.stopping.wait(tick.delay):
                    break
        log.info("stopped watching %s", self.where)

    def stop(self, *_: Any) -> None:
        self.stopping.set()

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        # The handler only sets the event: a tick in progress finishes; the wait ends at once.
        previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # -- one tick ------------------------------------------------------------------------------

    def tick(self) -> Tick:
        if self.suspend_path.exists():
            note = self._suspend_note()
            log.info("suspended (%s); remove %s or run `trunkline sync --resume` to resume", note, self.suspend_path)
            return Tick("suspended", self.interval)
        try:
            tick = self._sync()
        except (TrunklineError, sa.exc.SQLAlchemyError, OSError) as exc:
            return self._failed(exc)
        except Exception as exc:  # a loop must outlive a bug in one tick; logged in full
            log.exception("unexpected error in sync tick")
            return self._failed(exc)
        if self.failures:
            log.info("sync of %s recovered after %d failed tick(s)", self.where, self.failures)
        self.failures = 0
        self._last_error = None
        return tick

    def _recorded_commit(self) -> str | None:
        """The commit the database is at, when its latest revision came from this source.

        A restarted watcher thus treats a drifted database at the same commit as drift (and
        leaves it alone with --no-correct-drift) instead of as a new commit to apply.
        """
        from switchdb.tables import metadata

        revisions = metadata.tables["trunkline_revisions"]
        query = sa.select(revisions.c.source, revisions.c.commit_sha).order_by(revisions.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            latest = conn.execute(query).first()
        return latest.commit_sha if latest is not None and latest.source == self.where else None

    def _sync(self) -> Tick:
        if self.last_commit is None:
            self.last_commit = self._recorded_commit()
        if not self.correct_drift:
            checkout, plan = syncing.plan_once(
                self.engine, self.source, self.path_in_repo, options=self.options, secrets=self.secrets
            )
            if checkout.commit_sha == self.last_commit:
                if plan.empty:
                    self._last_drift = None
                    return Tick("unchanged", self.interval, checkout, plan)
                self._drift(checkout, plan, corrected=False, revision_id=None)
                return Tick("drift-detected", self.interval, checkout, plan)
        result = syncing.sync_once(
            self.engine,
            self.source,
            self.path_in_repo,
            options=self.options,
            actor=self.actor,
            secrets=self.secrets,
            look_first=True,
        )
        checkout, plan = result.checkout, result.plan
        short = checkout.commit_sha[: syncing.SHORT_SHA]
        known = checkout.commit_sha == self.last_commit
        self.last_commit = checkout.commit_sha
        self._last_drift = None
        if not result.changed:
            log.debug("no changes at %s (%s)", short, checkout.subject)
            return Tick("unchanged", self.interval, checkout, plan)
        if known:
            self._drift(checkout, plan, corrected=True, revision_id=result.revision_id)
            return Tick("drift-corrected", self.interval, checkout, plan, result.revision_id)
        counts = _counts(plan)
        log.info("applied %s (%s) as revision %s: %s", short, checkout.subject, result.revision_id, counts)
        for change in plan.changes:
            log.info("  %s", describe_change(change))
        self._notify(
            Event(
                "applied",
                self.where,
                f"{counts}\n" + "\n".join(describe_change(c) for c in plan.changes),
                commit=checkout.commit_sha,
                subject=checkout.subject,
                summary=plan.summary,
                revision=result.revision_id,
            )
        )
        return Tick("applied", self.interval, checkout, plan, result.revision_id)

    def _drift(self, checkout: Checkout, plan: Plan, *, corrected: bool, revision_id: int | None) -> None:
        short = checkout.commit_sha[: syncing.SHORT_SHA]
        verb = "corrected drift" if corrected else "drift detected (not corrected: --no-correct-drift)"
        log.warning("%s at %s in %s: %s", verb, short, self.where, _counts(plan))
        lines = [describe_change(c) for c in plan.changes]
        lines += [f"forgotten {k}" for k in plan.forgotten]
        for line in lines:
            log.warning("  %s", line)
        # Uncorrected drift stays in every plan; tell people when it appears or changes, not every tick.
        signature = plan.signature()
        if not corrected and signature == self._last_drift:
            return
        self._last_drift = None if corrected else signature
        self._notify(
            Event(
                "drift",
                self.where,
                "\n".join(lines),
                commit=checkout.commit_sha,
                subject=checkout.subject,
                summary=plan.summary,
                revision=revision_id,
                corrected=corrected,
            )
        )

    def _failed(self, exc: BaseException) -> Tick:
        self.failures += 1
        delay = self.backoff.delay(self.failures, self.interval)
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if isinstance(exc, sa.exc.SQLAlchemyError):
            message = f"cannot reach the switch database: {_first_line(str(exc))}"
        commit = getattr(exc, "commit_sha", None)
        kind = "source" if isinstance(exc, SourceError) else type(exc).__name__
        log.error(
            "sync of %s failed (%s, %d in a row); retrying in %ss: %s",
            self.where,
            kind,
            self.failures,
            _seconds(delay),
            message,
        )
        if self.last_commit:
            log.error("the database stays at %s", self.last_commit[: syncing.SHORT_SHA])
        # The same failure every backoff step is one incident, not one message per retry.
        if message != self._last_error:
            self._notify(Event("failed", self.where, message, commit=commit))
        self._last_error = message
        return Tick("failed", delay, error=message)

    def _notify(self, event: Event) -> None:
        if self.notifier.enabled:
            self.notifier.send(event)

    def _suspend_note(self) -> str:
        try:
            return self.suspend_path.read_text(encoding="utf-8").strip()[:200] or "suspend file present"
        except OSError:
            return "suspend file present"


def _counts(plan: Plan) -> str:
    s = plan.summary
    return f"{s['create']} to create, {s['update']} to update, {s['delete']} to delete"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _seconds(value: float) -> str:
    return f"{value:g}"


def parse_interval(text: str) -> float:
    """``90`` (seconds) or a duration as manifests write it (``90s``, ``5m``, ``1h30m``, ``1d``); at least 1 s."""
    from resources.types import duration_seconds

    spec = text.strip().lower()
    try:
        seconds = float(spec) if spec.replace(".", "", 1).isdigit() else float(duration_seconds(spec))
    except ValueError:
        raise ValueError(f"interval {text!r} is not a duration like 30s, 5m or 1h") from None
    if seconds < 1:
        raise ValueError(f"interval {text!r} is shorter than 1s")
    return seconds
