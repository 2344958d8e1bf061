"""Fixtures for the git front end: a real git repository the tests commit to, and the switch database.

- `remote`: a ``Remote`` (a real repository made with ``git init`` in tmp_path) whose ``commit``
  writes manifest files and commits them with a named author; it is the "remote" the sync fetches.
- `cache_dir`: an empty git cache for this test (also set as ``$TRUNKLINE_CACHE`` for the CLI).
- `engine`: the switch database at head, on SQLite and PostgreSQL (``db_url``); `dump(engine)` its rows.
- `manifests`: ``manifests(...)`` builds Kestrel Voice's small production directory, with the knobs the tests turn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import git
import pytest
from support.db import dump

PROD = "clusters/prod"
AUTHOR = git.Actor("Dana Whitfield", "dana@kestrel-voice.example")

CUSTOMER = """\
apiVersion: trunkline.dev/v1alpha1
kind: Customer
metadata:
  name: acme-voip
  labels:
    tier: gold
spec:
  displayName: Acme VoIP Inc.
  status: Active
  currency: USD
  debitLimit: "500.00"          # postpaid: may run 500 USD below zero
  channels: {channels}
  flowSpeed: 20
  tags: [wholesale, postpaid]
"""

RATE_CARD = """\
apiVersion: trunkline.dev/v1alpha1
kind: RateCard
metadata:
  name: usd-wholesale
spec:
  currency: USD
  description: A-Z wholesale termination, USD
  defaults:
    initialIncrement: 6
    subsequentIncrement: 6
  rates:
    - {{prefix: "1", name: US/Canada, perMinute: "{us_rate}"}}
    - {{prefix: "44", name: United Kingdom - Fixed, perMinute: "0.0065"}}
    - {{prefix: "447", name: United Kingdom - Mobile, perMinute: "0.0095"}}
"""

ROUTE = """\
apiVersion: trunkline.dev/v1alpha1
kind: IngressRoute
metadata:
  name: acme-standard
spec:
  customerRef: acme-voip
  rateCardRef: usd-wholesale
  channels: 150
  flowSpeed: 15
  maxDuration: 14400            # 4 h: guards against a lost BYE
"""

IP_AUTH = """\
apiVersion: trunkline.dev/v1alpha1
kind: IpAuthentication
metadata:
  name: acme-pbx
spec:
  customerRef: acme-voip
  address: 198.51.100.10
  channels: 150
  flowSpeed: 15
  codecs: [PCMU, PCMA]
"""


def manifests(*, us_rate: str = "0.0045", channels: int = 200, ip_auth: bool = True) -> dict[str, str | None]:
    """The files of ``clusters/prod`` (``None`` deletes a file when committed)."""
    return {
        f"{PROD}/customers.yaml": CUSTOMER.format(channels=channels),
        f"{PROD}/ratecards.yaml": RATE_CARD.format(us_rate=us_rate),
        f"{PROD}/routes.yaml": ROUTE,
        f"{PROD}/auth.yaml": IP_AUTH if ip_auth else None,
    }


class Remote:
    """A real git repository; each ``commit`` writes files and returns the new commit's SHA."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch="main")
        with self.repo.config_writer() as config:  # for `git revert`, which commits on its own
            config.set_value("user", "name", AUTHOR.name)
            config.set_value("user", "email", AUTHOR.email)
        self.commit({"README.md": "# Kestrel Voice switch configuration\n"}, "Add README")

    @property
    def url(self) -> str:
        return self.path.as_uri()  # file://...

    def commit(self, files: dict[str, str | None], subject: str, *, author: git.Actor = AUTHOR) -> str:
        for name, text in files.items():
            target = self.path / name
            if text is None:
                if target.exists():
                    self.repo.index.remove([name], working_tree=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.repo.index.add([name])
        return self.repo.index.commit(subject, author=author, committer=author).hexsha

    def revert(self, sha: str) -> str:
        self.repo.git.revert("--no-edit", sha)
        return self.repo.head.commit.hexsha

    def tag(self, name: str, sha: str) -> None:
        self.repo.create_tag(name, ref=sha, message=f"release {name}")


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path / "kestrel-switch-config")


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("TRUNKLINE_CACHE", str(path))
    monkeypatch.setenv("TRUNKLINE_ACTOR", "gitops-test")
    return path


@pytest.fixture(name="manifests")
def manifests_fixture() -> Any:
    """``manifests(us_rate=..., channels=..., ip_auth=...)``: the files of ``clusters/prod``."""
    return manifests


@pytest.fixture(name="dump")
def dump_fixture() -> Any:
    """``dump(engine)``: every row of every table and Kamailio view, to compare before and after."""
    return dump
