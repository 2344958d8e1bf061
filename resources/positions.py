"""Where each document, object and field sits in its file.

Parsing 110k objects with node positions is several times slower than without, and
positions are only needed to report problems, so they are found on demand: the file is
composed into ruamel nodes once, and paths are walked through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode


@dataclass(frozen=True, slots=True)
class Position:
    file: str
    line: int  # 1-based
    column: int  # 1-based


class PositionIndex:
    """Composes files lazily and answers ``find(file, document, path)``."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._texts = texts or {}
        self._documents: dict[str, list[Node]] = {}

    def add_text(self, file: str, text: str) -> None:
        self._texts[file] = text

    def _nodes(self, file: str) -> list[Node]:
        if file not in self._documents:
            text = self._texts.get(file)
            if text is None:
                try:
                    text = Path(file).read_text(encoding="utf-8")
                except OSError:
                    text = ""
            try:
                self._documents[file] = [n for n in YAML(typ="safe", pure=False).compose_all(text)]
            except YAMLError:
                self._documents[file] = []
        return self._documents[file]

    def find(self, file: str, document: int, path: tuple[Any, ...] = ()) -> Position | None:
        """Position of the deepest existing node on ``path`` (a key, or its mapping if absent)."""
        nodes = self._nodes(file)
        if document >= len(nodes):
            return None
        node: Node = nodes[document]
        mark = node.start_mark
        for part in path:
            child: Node | None = None
            if isinstance(node, MappingNode):
                for key, value in node.value:
                    if key.value == part or (isinstance(part, int) and key.value == str(part)):
                        mark = key.start_mark
                        child = value
                        break
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
                mark = child.start_mark
            if child is None:
                break
            node = child
        return Position(file, mark.line + 1, mark.column + 1)
