"""One sync of the switch database to a commit of a git repository: fetch, check out, load, apply.

This is the pipeline the git front end runs (``trunkline sync`` once today; a watch loop will
call ``sync_once`` on a timer). Each step fails on its own terms, before anything is written:

    fetch/checkout   SourceError       exit 1   the repository or the ref is unavailable
    load             ValidationError   exit 2   the commit's manifests are invalid (every problem
                                                is positioned as ``<sha>:<path>:line:col``)
    apply            the engine's own errors; one transaction, so nothing half-written

The revision row names the repository and path (``<url>#<path>``, credentials redacted) and the
commit's SHA, author and subject, so ``trunkline history`` answers "which commit is live".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Engine

import resources
from reconciler import reconcile
from reconciler.apply import RevisionInfo
from reconciler.gitsource import Checkout, GitSource, SourceError
from reconciler.plan import Plan
from reconciler.reconcile import Options
from reconciler.secrets import SecretResolver
from resources.errors import Problem, ValidationError
from resources.state import DesiredState

SHORT_SHA = 12


class InvalidCommitError(ValidationError):
    """The manifests at a commit do not validate; nothing was applied (exit code 2)."""

    def __init__(self, checkout: Checkout, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.commit_sha = checkout.commit_sha
        self.message = f"commit {checkout.commit_sha} ({checkout.subject}) is invalid; nothing was applied\n" + (
            self.message
        )
        self.args = (self.message,)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did: the commit it synced to, the plan it applied, the revision it wrote."""

    checkout: Checkout
    source: str  # "<url>#<path>", as recorded on the revision
    plan: Plan
    revision_id: int | None  # None: the database already matched the commit

    @property
    def changed(self) -> bool:
        return self.revision_id is not None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "revision": self.revision_id,
            "source": self.source,
            "commit": {
                "sha": self.checkout.commit_sha,
                "author": self.checkout.author,
                "subject": self.checkout.subject,
            },
        }


def _path_in_repo(path_in_repo: str) -> PurePosixPath:
    """The manifests' directory inside the repository; never outside it."""
    path = PurePosixPath(path_in_repo or ".")
    if path.is_absolute() or ".." in path.parts:
        raise SourceError(f"path {path_in_repo} must be relative to the repository root, without '..'")
    return path


def describe(source: GitSource, path_in_repo: str) -> str:
    return f"{source.display_url}#{_path_in_repo(path_in_repo)}"


class _LastCommit:
    """The desired state of the last commit loaded, reused while the commit does not change.

    A commit's tree is immutable, so its manifests load to the same state every time; a watch
    loop re-plans the same commit on every tick to find drift, and reloading 120k objects was
    26 of a 31 s tick (bench/RESULTS.md). Drift is still found: every plan reads the live rows.
    Secrets are not part of the state; they are resolved again by every plan.
    """

    def __init__(self) -> None:
        self.key: tuple[str, str, str] | None = None
        self.state: DesiredState | None = None

    def get(self, key: tuple[str, str, str]) -> DesiredState | None:
        return self.state if key == self.key else None

    def put(self, key: tuple[str, str, str], state: DesiredState) -> None:
        self.key, self.state = key, state


_last_commit = _LastCommit()


def load_commit(checkout: Checkout, path_in_repo: str) -> DesiredState:
    """Load the manifests under ``path_in_repo`` at ``checkout``; problems name the commit."""
    target = checkout.path / _path_in_repo(path_in_repo)
    key = (checkout.commit_sha, str(_path_in_repo(path_in_repo)), str(checkout.path))
    cached = _last_commit.get(key)
    if cached is not None:
        return cached
    try:
        state = resources.load([target])
        _last_commit.put(key, state)
        return state
    except ValidationError as exc:
        short = checkout.commit_sha[:SHORT_SHA]
        problems = [replace(p, file=_in_commit(p.file, checkout.path, short, path_in_repo)) for p in exc.problems]
        raise InvalidCommitError(checkout, problems) from exc


def _in_commit(file: str | None, root: Path, short: str, path_in_repo: str) -> str:
    # git's own "<rev>:<path>" notation: readable, and says which commit the line numbers belong to.
    if file is None:
        return f"{short}:{_path_in_repo(path_in_repo)}"
    try:
        return f"{short}:{Path(file).relative_to(root).as_posix()}"
    except ValueError:
        return f"{short}:{file}"


def sync_once(
    engine: Engine,
    source: GitSource,
    path_in_repo: str,
    *,
    options: Options = Options(),
    actor: str,
    secrets: SecretResolver | None = None,
    look_first: bool = False,
) -> SyncResult:
    """Fetch, check out the ref's commit, load it, and apply it in one transaction.

    ``look_first``: see ``reconcile.apply`` (the watch loop sets it: most ticks change nothing).
    """
    where = describe(source, path_in_repo)
    checkout = source.checkout()
    state = load_commit(checkout, path_in_repo)
    info = RevisionInfo(
        actor=actor,
        source=where,
        commit_sha=checkout.commit_sha,
        commit_author=checkout.author,
        commit_subject=checkout.subject,
    )
    result = reconcile.apply(engine, state, info=info, secrets=secrets, options=options, look_first=look_first)
    return SyncResult(checkout=checkout, source=where, plan=result.plan, revision_id=result.revision_id)


def plan_once(
    engine: Engine,
    source: GitSource,
    path_in_repo: str,
    *,
    options: Options = Options(),
    secrets: SecretResolver | None = None,
) -> tuple[Checkout, Plan]:
    """What ``sync_once`` would apply now, without writing (``trunkline plan --repo``)."""
    checkout = source.checkout()
    state = load_commit(checkout, path_in_repo)
    return checkout, reconcile.plan(engine, state, secrets=secrets, options=options)
