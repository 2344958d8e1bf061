"""Checks across objects: references resolve, unique keys are unique, currencies agree.

All rules are read from each kind's class-level data (``references``, ``uniqueness``), so
a new kind gets them by declaring, not by code here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from resources.errors import Problem
from resources.meta import ObjectKey, Resource, spec_value
from resources.state import DesiredState


def _problem(state: DesiredState, obj: Resource, path: tuple[str, ...], message: str) -> Problem:
    return state.problem(obj.key, ("spec", *path), message)


def _where(state: DesiredState, key: ObjectKey) -> str:
    position = state.position(key)
    at = f" ({position.file}:{position.line})" if position else ""
    return f"{key}{at}"


def check_references(state: DesiredState) -> list[Problem]:
    problems: list[Problem] = []
    for obj in state:
        for ref in type(obj).references:
            target = spec_value(obj.spec, ref.path)
            if target is None:
                continue
            if ObjectKey(ref.target, obj.metadata.namespace, target) not in state:
                problems.append(
                    _problem(
                        state,
                        obj,
                        ref.path,
                        f"{ref.target} {target!r} is not declared in namespace {obj.metadata.namespace}",
                    )
                )
    return problems


def check_uniqueness(state: DesiredState) -> list[Problem]:
    problems: list[Problem] = []
    by_kind: dict[str, list[Resource]] = {}
    for obj in state:
        by_kind.setdefault(obj.kind, []).append(obj)
    for objects in by_kind.values():
        for rule in type(objects[0]).uniqueness:
            claimed: dict[tuple[Any, ...], Resource] = {}
            path = tuple(rule.field.split(".")[1:])
            for obj in objects:
                value = rule.key(obj.spec)
                if value is None:
                    continue
                scoped = (obj.metadata.namespace, *value) if rule.scope == "namespace" else value
                first = claimed.setdefault(scoped, obj)
                if first is not obj:
                    message = rule.message.format(*value, other=_where(state, first.key))
                    problems.append(_problem(state, obj, path, message))
    return problems


def _currency(state: DesiredState, kind: str, namespace: str, name: str | None) -> str | None:
    if name is None:
        return None
    obj = state.get(ObjectKey(kind, namespace, name))
    return getattr(obj.spec, "currency", None) if obj is not None else None


def _words(kind: str) -> str:
    """``RateCard`` → ``rate card``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower()


def check_currencies(state: DesiredState) -> list[Problem]:
    """Referenced objects that must share a currency (``Reference.same_currency_as``) do."""
    problems: list[Problem] = []
    for obj in state:
        refs = {ref.path: ref for ref in type(obj).references}
        for ref in refs.values():
            if ref.same_currency_as is None:
                continue
            other = refs[ref.same_currency_as]
            namespace = obj.metadata.namespace
            name, other_name = spec_value(obj.spec, ref.path), spec_value(obj.spec, other.path)
            mine = _currency(state, ref.target, namespace, name)
            theirs = _currency(state, other.target, namespace, other_name)
            if mine and theirs and mine != theirs:
                message = (
                    f"{_words(ref.target)} {name!r} bills in {mine} but {_words(other.target)} {other_name!r} "
                    f"pays in {theirs}"
                )
                problems.append(_problem(state, obj, ref.path, message))
    return problems


def check_all(state: DesiredState) -> Iterable[Problem]:
    yield from check_references(state)
    yield from check_uniqueness(state)
    yield from check_currencies(state)
