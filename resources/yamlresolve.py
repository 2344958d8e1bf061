"""Manifest YAML through ruamel's libyaml parser, with its tag resolution remembered.

Parsing was 70 % of loading 120k objects (bench/RESULTS.md, loader), and a third of that was
ruamel's ``VersionedResolver``: for every scalar it looks up the YAML version being processed
(through an ``AttributeError`` each time with the C parser) and tries its regular expressions.
With the C parser the version cannot change within a stream (a ``%YAML`` directive is not
passed to the resolver), and a scalar's tag depends only on its text and on whether it was
quoted, so both are worked out once: the version per parser, the tag per distinct scalar. The
values are exactly ruamel's (``tests/resources/test_yaml_resolve.py`` compares them).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.resolver import VersionedResolver


class RememberingResolver(VersionedResolver):
    """``VersionedResolver`` whose version is read once and whose answers are kept per input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers: dict[tuple[Any, Any, Any], Any] = {}
        self._version: Any = None

    @property
    def processing_version(self) -> Any:
        if self._version is None:
            self._version = VersionedResolver.processing_version.fget(self)  # type: ignore[attr-defined]
        return self._version

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if self.yaml_path_resolvers:  # none in the safe loader; kept correct if ever added
            return super().resolve(kind, value, implicit)
        key = (kind, value, implicit)
        tag = self._answers.get(key)
        if tag is None:
            tag = self._answers[key] = super().resolve(kind, value, implicit)
        return tag


def safe_yaml() -> YAML:
    """A safe, libyaml-backed loader (one per stream: it remembers that stream's scalars)."""
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = RememberingResolver
    return yaml
