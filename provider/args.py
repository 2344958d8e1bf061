"""Typed argument classes for Pulumi programs, built from the pydantic models.

``args_class(kind)`` makes a keyword-only dataclass per spec model (``CustomerArgs``) and per
nested part (``ContactArgs``, ``PostalAddressArgs``, ``SecretRefArgs`` ...), with the models'
snake_case attribute names and types wrapped in ``pulumi.Input``. Nothing is written per kind:
a field added to a model appears here, and validation stays with the models (``check``).

Beside every ``password_ref`` the model offers, the args also accept ``password``: a value
given from Pulumi (``pulumi.Output.secret(...)``), which the provider never stores in clear.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from decimal import Decimal
from typing import Any, Literal

import pulumi
from pydantic import BaseModel

from provider import fields

_ARGS: dict[type[BaseModel], type] = {}
_NAMES: dict[str, type[BaseModel]] = {}


def _typed(annotation: Any) -> Any:
    """The model's annotation as a program sees it: nested models → Args classes, money → str."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _typed(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        parts = [_typed(a) for a in typing.get_args(annotation) if a is not type(None)]
        return typing.Union[tuple(parts)] if len(parts) > 1 else parts[0]  # noqa: UP007
    if origin is list:
        return list[pulumi.Input[_typed(typing.get_args(annotation)[0])]]
    if origin is dict:
        key, value = typing.get_args(annotation)
        return dict[_typed(key), pulumi.Input[_typed(value)]]
    if origin is Literal:
        return annotation
    if annotation is Decimal:
        return str | int | float  # a decimal string keeps every digit ("0.0095")
    if annotation in (dt.date, dt.datetime):
        return str  # ISO 8601, as in YAML
    return annotation


def _optional_ref(model: type[BaseModel], attr: str) -> bool:
    # A password_ref may be replaced by a direct `password`, so it is never required here.
    return attr == fields.PASSWORD_REF and fields.PASSWORD in model.model_fields


def model_args(model: type[BaseModel]) -> type:
    """The Args dataclass of one model (built once, then reused by every field that nests it)."""
    if model in _ARGS:
        return _ARGS[model]
    name = f"{model.__name__.removesuffix('Spec')}Args"
    if name in _NAMES and _NAMES[name] is not model:
        name = f"{model.__module__.rsplit('.', 1)[-1].title()}{name}"
    _NAMES[name] = model
    specs: list[tuple[str, Any, Any]] = []
    for attr, info in model.model_fields.items():
        if attr == fields.PASSWORD:
            specs.append((attr, pulumi.Input[str] | None, dataclasses.field(default=None)))
            continue
        typ = pulumi.Input[_typed(info.annotation)]
        if info.is_required() and not _optional_ref(model, attr):
            specs.append((attr, typ, dataclasses.field()))
        else:
            specs.append((attr, typ | None, dataclasses.field(default=None)))
    cls = dataclasses.make_dataclass(name, specs, kw_only=True)
    cls.__module__ = __name__
    cls.__doc__ = f"Arguments of {model.__name__} (snake_case, as in YAML camelCase); see docs/pulumi.md."
    _ARGS[model] = cls
    globals()[name] = cls  # importable and picklable by name: provider.args.ContactArgs
    return cls


def args_class(kind: str) -> type:
    return model_args(fields.spec_model(kind))


def plain(value: Any) -> Any:
    """Args (and nested Args, lists, dicts) as plain properties; Outputs stay for Pulumi to resolve."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if getattr(value, f.name) is not None
        }
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def all_args() -> dict[str, type]:
    """Every Args class built so far, by name (for the docs and the export's imports)."""
    return {cls.__name__: cls for cls in _ARGS.values()}
