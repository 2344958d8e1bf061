"""Walking the pydantic models by field name: the one place that knows how fields nest.

Used by the loader ("did you mean" hints), the engine's mapping (spec paths → attributes), and
the Pulumi provider (snake_case ↔ camelCase properties), so a field is found the same way
everywhere: by its Python name or its YAML alias, through ``Optional``, ``Annotated`` and lists.
"""

from __future__ import annotations

import types
import typing
from functools import cache
from typing import Any

from pydantic import BaseModel

FieldEntry = tuple[str, str, Any]  # (python name, YAML alias, annotation)


def inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model inside ``X | None``, ``list[X]``, ``Annotated[X, ...]``; None for scalars and maps."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is dict:
        return None  # a free-form map (labels): its keys are data, not field names
    if origin is typing.Annotated:
        return inner_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple):
        for arg in typing.get_args(annotation):
            found = inner_model(arg)
            if found is not None:
                return found
    return None


@cache
def _entries(model: type[BaseModel]) -> dict[str, FieldEntry]:
    entries: dict[str, FieldEntry] = {}
    for attr, info in model.model_fields.items():
        entry = (attr, info.alias or attr, info.annotation)
        entries[attr] = entry
        entries[info.alias or attr] = entry
    return entries


def field(model: type[BaseModel], name: str) -> FieldEntry | None:
    """A field of ``model`` by its Python name or its alias; None when there is none."""
    return _entries(model).get(name)


def aliases(model: type[BaseModel]) -> list[str]:
    """The YAML (camelCase) names of ``model``'s fields, in declaration order."""
    return [info.alias or attr for attr, info in model.model_fields.items()]


def model_at(model: type[BaseModel], path: typing.Sequence[Any]) -> type[BaseModel] | None:
    """The model reached by ``path`` (names; list indexes are skipped); None off the models."""
    current: type[BaseModel] | None = model
    for part in path:
        if isinstance(part, int):
            continue
        entry = field(current, part) if current is not None else None
        if entry is None:
            return None
        current = inner_model(entry[2])
    return current


def attribute_path(model: type[BaseModel], path: tuple[str, ...]) -> tuple[str, ...]:
    """camelCase path → Python attribute names. Raises KeyError for a name the model lacks."""
    attrs: list[str] = []
    current: type[BaseModel] | None = model
    for name in path:
        entry = field(current, name) if current is not None else None
        if entry is None:
            raise KeyError(f"{getattr(current, '__name__', current)} has no field {name!r}")
        attrs.append(entry[0])
        current = inner_model(entry[2])
    return tuple(attrs)


def list_item_model(model: type[BaseModel], attrs: tuple[str, ...]) -> type[BaseModel]:
    """The item model of the list field at ``attrs`` (``("contacts",)`` → ``Contact``)."""
    found = model_at(model, attrs)
    assert found is not None, f"{model.__name__}.{'.'.join(attrs)} is not a list of models"
    return found


@cache
def reaches(model: type[BaseModel], alias: str) -> bool:
    """Does ``model``, or any model nested in it, have a field called ``alias`` (YAML name)?"""
    return any(
        (info.alias or attr) == alias or ((inner := inner_model(info.annotation)) is not None and reaches(inner, alias))
        for attr, info in model.model_fields.items()
    )
