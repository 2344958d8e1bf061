"""The JSON schema of each kind, as one self-contained document.

Pydantic writes nested models as ``$defs`` reached through ``$ref``; editors, ``trunkline
schema`` users and the CRD generator all want the tree spelled out, so every ``$ref`` is
inlined here, once, and the rest of Trunkline never sees one. The schema is the validation
side (what a manifest may contain), with camelCase names as written in YAML.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML

from resources.errors import Problem, TrunklineError, ValidationError
from resources.kinds import KINDS
from resources.meta import Resource

Schema = dict[str, Any]
_DEFS_PREFIX = "#/$defs/"


def resolve_kind(name: str, *, kinds: Mapping[str, type[Resource]] = KINDS) -> type[Resource]:
    """The model for ``name``: a kind (any case), its plural or a short name, like kubectl.

    Raises ``ValidationError`` (exit code 2) listing the kinds when nothing matches.
    """
    wanted = name.strip().lower()
    for kind, model in kinds.items():
        if wanted in (kind.lower(), model.plural, *model.short_names):
            return model
    raise ValidationError([Problem(f"unknown kind {name!r}; Trunkline kinds are {', '.join(kinds)}")])


def json_schema(kind: str | type[Resource]) -> Schema:
    """The JSON schema of a whole object (apiVersion, kind, metadata, spec), ``$ref``s inlined."""
    model = resolve_kind(kind) if isinstance(kind, str) else kind
    return dereference(model.model_json_schema(by_alias=True, mode="validation"))


def dereference(schema: Schema) -> Schema:
    """Inline every local ``$ref`` of ``schema`` and drop ``$defs``.

    Keys written beside a ``$ref`` (a field's description or default) win over the inlined
    definition's, as in JSON Schema 2020-12. A model that contains itself cannot be spelled
    out; that raises ``TrunklineError`` naming the cycle rather than recursing forever.
    """
    definitions: dict[str, Schema] = schema.get("$defs", {})

    def inline(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if ref is None:
            return {key: inline(value, seen) for key, value in node.items() if key != "$defs"}
        if not isinstance(ref, str) or not ref.startswith(_DEFS_PREFIX) or ref[len(_DEFS_PREFIX) :] not in definitions:
            raise TrunklineError(f"cannot inline schema reference {ref!r}: only local $defs are supported")
        name = ref[len(_DEFS_PREFIX) :]
        if name in seen:
            raise TrunklineError(f"cannot inline recursive schema: {' -> '.join((*seen, name))}")
        target = inline(copy.deepcopy(definitions[name]), (*seen, name))
        siblings = {key: inline(value, seen) for key, value in node.items() if key != "$ref"}
        return {**target, **siblings}

    return inline(schema, ())


def to_yaml(value: Any) -> str:
    """Block-style YAML of plain data, keys in insertion order, the same bytes every time.

    Dumped with YAML 1.1 resolution so strings that kubectl's YAML 1.1 parser would read as
    booleans or numbers (``yes``, ``on``, ``1:20``) come out quoted; the ``%YAML 1.1``
    directive that comes with it is removed, since quoted text means the same in YAML 1.2.
    """
    yaml = YAML(typ="rt", pure=True)
    yaml.version = (1, 1)
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(value, buffer)
    return buffer.getvalue().removeprefix("%YAML 1.1\n---\n")
