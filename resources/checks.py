"""Checks across objects: references resolve, unique keys are unique, currencies agree.

All rules are read from each kind's class-level data (``references``, ``uniqueness``), so
a new kind gets them by declaring, not by code here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resources.errors import Problem
from resources.meta import ObjectKey, Resource, spec_value
from resources.state import DesiredState


def _problem(state: DesiredState, obj: Resource, path: tuple[str, ...], message: str) -> Problem:
    key = obj.key
    position = state.position(key, ("spec", *path))
    return Problem(
        message,
        file=position.file if position else None,
        line=position.line if position else None,
        column=position.column if position else None,
        kind=key.kind,
        namespace=key.namespace,
        name=key.name,
        field=".".join(("spec", *path)),
    )


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


# (kind, path of a RateCard reference) whose card must bill in the customer's currency.
_CUSTOMER_CARDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("IngressRoute", ("rateCardRef",)),
    ("Did", ("customerCardRef",)),
)


def check_currencies(state: DesiredState) -> list[Problem]:
    """A customer is billed from a rate card in its own currency: no silent conversion."""
    problems: list[Problem] = []
    for kind, path in _CUSTOMER_CARDS:
        for obj in state.of_kind(kind):
            namespace = obj.metadata.namespace
            customer = _currency(state, "Customer", namespace, spec_value(obj.spec, ("customerRef",)))
            card_name = spec_value(obj.spec, path)
            card = _currency(state, "RateCard", namespace, card_name)
            if customer and card and customer != card:
                problems.append(
                    _problem(
                        state,
                        obj,
                        path,
                        f"rate card {card_name!r} bills in {card} but customer "
                        f"{spec_value(obj.spec, ('customerRef',))!r} pays in {customer}",
                    )
                )
    return problems


def check_all(state: DesiredState) -> Iterable[Problem]:
    yield from check_references(state)
    yield from check_uniqueness(state)
    yield from check_currencies(state)
