"""Walking pydantic models by camelCase path: the bridge from spec paths to attributes."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional; return the first model or list inside."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _field(model: type[BaseModel], alias: str) -> tuple[str, Any]:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias or name == alias:
            return name, _unwrap(info.annotation)
    raise KeyError(f"{model.__name__} has no field {alias!r}")


def attribute_path(model: type[BaseModel], path: tuple[str, ...]) -> tuple[str, ...]:
    attrs: list[str] = []
    current: Any = model
    for alias in path:
        name, annotation = _field(current, alias)
        attrs.append(name)
        current = annotation
    return tuple(attrs)


def list_item_model(model: type[BaseModel], attrs: tuple[str, ...]) -> type[BaseModel]:
    current: Any = model
    for attr in attrs:
        current = _unwrap(current.model_fields[attr].annotation)
    if typing.get_origin(current) is list:
        current = _unwrap(typing.get_args(current)[0])
    assert isinstance(current, type) and issubclass(current, BaseModel)
    return current
