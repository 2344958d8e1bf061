"""Pulumi properties ↔ Trunkline manifests, walked generically over the pydantic models.

Pulumi programs speak snake_case (the models' attribute names); manifests speak camelCase (the
models' aliases). Both directions follow the model, so nested parts (contacts, an address, a
``passwordRef``) are renamed and free-form maps (labels, annotations) are left alone. Nothing
here is per kind: a new kind is handled once it is in ``resources.kinds.KINDS``.

A password given directly from Pulumi (a ``password`` beside a ``passwordRef`` in the model)
is taken out of the manifest here and replaced by a reference the engine resolves from memory
(``PULUMI_SECRET``), so the clear value never reaches a manifest, a plan or the state.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_snake

from resources import modelpath
from resources.kinds import KINDS
from resources.meta import API_VERSION, DEFAULT_NAMESPACE

PASSWORD = "password"
PASSWORD_REF = "password_ref"
PASSWORD_HASH = "password_hash"
# The secretKeyRef name that marks "given from Pulumi, resolved from memory for one call".
PULUMI_SECRET = "pulumi"
METADATA = ("name", "namespace", "labels", "annotations")


def spec_model(kind: str) -> type[BaseModel]:
    model = KINDS[kind].model_fields["spec"].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _number(value: Any) -> Any:
    # Pulumi sends every number as a double; the models are strict, so 200.0 becomes 200 again.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def rename(model: type[BaseModel] | None, value: Any, *, camel: bool) -> Any:
    """``value`` with field names of ``model`` (recursively) in camelCase or snake_case."""
    if isinstance(value, list):
        return [rename(model, item, camel=camel) for item in value]
    if model is None or not isinstance(value, dict):
        if isinstance(value, dict):
            return {k: rename(None, v, camel=camel) for k, v in value.items()}
        return _number(value)
    out: dict[str, Any] = {}
    for key, item in value.items():
        entry = modelpath.field(model, key)
        if entry is None:  # unknown: kept as given, so validation names it
            out[key] = rename(None, item, camel=camel)
            continue
        snake, alias, annotation = entry
        out[alias if camel else snake] = rename(modelpath.inner_model(annotation), item, camel=camel)
    return out


@cache
def password_sites(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> tuple[tuple[str, ...], ...]:
    """Where ``model`` has ``password`` beside ``password_ref``: paths of snake names and ``[]``
    (``("contacts", "[]")`` for Customer.spec.contacts[i]; ``()`` for the spec itself)."""
    sites: list[tuple[str, ...]] = []
    fields = model.model_fields
    if PASSWORD in fields and PASSWORD_REF in fields:
        sites.append(prefix)
    for attr, info in fields.items():
        inner = modelpath.inner_model(info.annotation)
        if inner is None or attr == PASSWORD_REF:
            continue
        is_list = typing.get_origin(info.annotation) is list
        sites.extend(password_sites(inner, (*prefix, attr, *(("[]",) if is_list else ()))))
    return tuple(sites)


def _holders(spec: Any, path: tuple[str, ...], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """The dicts at ``path`` inside ``spec`` (lists expanded), with their property path."""
    if not path:
        if isinstance(spec, dict):
            yield where, spec
        return
    head, rest = path[0], path[1:]
    if head == "[]":
        for index, item in enumerate(spec if isinstance(spec, list) else []):
            yield from _holders(item, rest, f"{where}[{index}]")
    elif isinstance(spec, dict) and head in spec:
        yield from _holders(spec[head], rest, f"{where}.{head}" if where else head)


def password_holders(kind: str, spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each dict of a snake_case spec that may carry a direct ``password``, with its path."""
    for site in password_sites(spec_model(kind)):
        yield from _holders(spec, site)


def pulumi_ref(path: str) -> dict[str, Any]:
    """The reference stored for a password given from Pulumi (names the property, never the value)."""
    return {"secretKeyRef": {"name": PULUMI_SECRET, "key": f"spec.{path}" if path else "spec"}}


def is_pulumi_ref(ref: Any) -> bool:
    selector = (ref.get("secretKeyRef") or ref.get("secret_key_ref")) if isinstance(ref, dict) else None
    return isinstance(selector, dict) and selector.get("name") == PULUMI_SECRET


@dataclass(frozen=True)
class Manifest:
    body: dict[str, Any]
    passwords: dict[str, str]  # "spec.contacts[0]" → clear value, for this call only


def to_manifest(props: dict[str, Any]) -> Manifest:
    """A Pulumi resource's properties (plain values: no secret wrappers, no unknowns) as a
    manifest of a known kind; direct passwords replaced by references."""
    kind = props["kind"]
    spec = copy.deepcopy(props.get("spec") or {})
    passwords: dict[str, str] = {}
    for path, holder in password_holders(kind, spec):
        hashed = holder.pop(PASSWORD_HASH, None)
        if holder.get(PASSWORD) is None:
            holder.pop(PASSWORD, None)
            if hashed is not None and holder.get(PASSWORD_REF) is None:
                holder[PASSWORD_REF] = pulumi_ref(path)  # state outputs: the hash stands for the value
            continue
        if holder.get(PASSWORD_REF) is not None:
            continue  # both given: left in place, so validation rejects `password` with its field
        passwords[f"spec.{path}" if path else "spec"] = str(holder.pop(PASSWORD))
        holder[PASSWORD_REF] = pulumi_ref(path)
    metadata: dict[str, Any] = {"name": props.get("name"), "namespace": props.get("namespace") or DEFAULT_NAMESPACE}
    for extra in ("labels", "annotations"):
        if props.get(extra):
            metadata[extra] = copy.deepcopy(props[extra])
    spec = rename(spec_model(kind), spec, camel=True)
    return Manifest({"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}, passwords)


def from_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """A manifest (e.g. exported from live rows) as Pulumi properties, snake_case."""
    kind = manifest["kind"]
    meta = manifest.get("metadata") or {}
    props: dict[str, Any] = {
        "kind": kind,
        "name": meta.get("name"),
        "namespace": meta.get("namespace") or DEFAULT_NAMESPACE,
        "spec": rename(spec_model(kind), manifest.get("spec") or {}, camel=False),
    }
    for extra in ("labels", "annotations"):
        if meta.get(extra):
            props[extra] = dict(meta[extra])
    return props


_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def property_path(kind: str | None, field: str | None) -> str:
    """A Problem's camelCase field (``spec.contacts[0].email``) as a Pulumi property path."""
    if not field:
        return ""
    if field.startswith("metadata."):
        return field.removeprefix("metadata.")
    model: type[BaseModel] | None = spec_model(kind) if kind in KINDS else None
    parts: list[str] = []
    for index, (name, number) in enumerate(_PART.findall(field)):
        if number:
            parts.append(f"[{number}]")
            continue
        if index == 0 and name == "spec":
            parts.append(name)
            continue
        entry = modelpath.field(model, name) if model is not None else None
        if entry is None:
            parts.append(to_snake(name))
            model = None
        else:
            parts.append(entry[0])
            model = modelpath.inner_model(entry[2])
    return ".".join(parts).replace(".[", "[")
