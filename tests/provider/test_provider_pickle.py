"""Pulumi pickles the provider (dill) into each resource's state; that copy must be stable.

Deterministic bytes mean no spurious diff of ``__provider`` between runs; unpickling in a
fresh interpreter is what the provider plugin does. Neither works if the instance captured an
engine, a logger or module state, so the pickle is also checked for those.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import dill
from pulumi.dynamic.dynamic import serialize_provider

from provider import PROVIDER, TrunklineProvider

ROOT = Path(__file__).resolve().parents[2]


def test_pickling_twice_gives_identical_bytes():
    assert serialize_provider(PROVIDER) == serialize_provider(PROVIDER)
    assert serialize_provider(TrunklineProvider()) == serialize_provider(PROVIDER)
    assert dill.dumps(TrunklineProvider(), recurse=True) == dill.dumps(TrunklineProvider(), recurse=True)


def test_the_pickle_refers_to_the_provider_package_and_carries_no_engine():
    raw = base64.b64decode(serialize_provider(PROVIDER))
    assert b"provider.provider" in raw and b"__main__" not in raw
    for captured in (b"sqlalchemy", b"Engine", b"logging", b"Logger", b"psycopg"):
        assert captured not in raw
    assert len(raw) < 1000, "pickled by reference, not by value"


def test_a_fresh_interpreter_unpickles_it(tmp_path):
    script = (
        "import base64, sys, dill\n"
        "p = dill.loads(base64.b64decode(sys.stdin.read()))\n"
        "print(type(p).__module__, type(p).__name__, sorted(vars(p)))\n"
        "spec = {'display_name': 'X', 'currency': 'USD'}\n"
        "print(p.check({}, {'kind': 'Customer', 'name': 'x', 'spec': spec}).failures)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=serialize_provider(PROVIDER),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["provider.provider TrunklineProvider ['config_url']", "[]"]


def test_a_provider_that_has_written_pickles_as_a_fresh_one(sqlite_url):
    """The engine a call opens stays in the module, not in the instance Pulumi pickles again."""
    before = serialize_provider(PROVIDER)
    spec = {"display_name": "X", "currency": "USD"}
    PROVIDER.create({"kind": "Customer", "name": "x", "namespace": "default", "db_url": sqlite_url, "spec": spec})
    assert serialize_provider(PROVIDER) == before
