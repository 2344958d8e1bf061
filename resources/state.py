"""DesiredState: every declared object, indexed by (kind, namespace, name), with its source."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resources.errors import Problem, render_path
from resources.meta import ObjectKey, Resource
from resources.positions import Position, PositionIndex


@dataclass(frozen=True, slots=True)
class Source:
    """Where an object was declared: a file and the index of its YAML document in that file."""

    file: str
    document: int


@dataclass
class DesiredState:
    objects: dict[ObjectKey, Resource] = field(default_factory=dict)
    sources: dict[ObjectKey, Source] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    positions: PositionIndex = field(default_factory=PositionIndex, repr=False)
    _directories: dict[str, Path | None] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.objects.values())

    def __contains__(self, key: object) -> bool:
        return key in self.objects

    def get(self, key: ObjectKey) -> Resource | None:
        return self.objects.get(key)

    def directory(self, key: ObjectKey) -> Path | None:
        """The directory of the manifest ``key`` was declared in, which a relative
        ``passwordRef.file`` is read from; None for objects from stdin or a snapshot. One
        ``Path`` per file, not per object (120k objects come from a few dozen files)."""
        source = self.sources.get(key)
        if source is None:
            return None
        if source.file not in self._directories:
            self._directories[source.file] = None if source.file.startswith("<") else Path(source.file).parent
        return self._directories[source.file]

    def of_kind(self, kind: str) -> list[Resource]:
        return [obj for key, obj in self.objects.items() if key.kind == kind]

    def add(self, obj: Resource, source: Source | None = None) -> None:
        self.objects[obj.key] = obj
        if source is not None:
            self.sources[obj.key] = source

    def problem(self, key: ObjectKey, path: tuple[Any, ...], message: str) -> Problem:
        """A problem with one object, positioned at ``path`` (from the document root) when known."""
        position = self.position(key, path)
        return Problem(
            message,
            file=position.file if position else None,
            line=position.line if position else None,
            column=position.column if position else None,
            kind=key.kind,
            namespace=key.namespace,
            name=key.name,
            field=render_path(path) or None,
        )

    def position(self, key: ObjectKey, path: tuple[Any, ...] = ()) -> Position | None:
        """File, line and column of an object (or one of its fields), found on demand."""
        source = self.sources.get(key)
        if source is None:
            return None
        return self.positions.find(source.file, source.document, path)
