"""The object envelope shared by every kind: apiVersion, kind, metadata, spec.

Per-kind behaviour that the rest of Trunkline needs (plural name, references, uniqueness
rules) is declared here as class-level data, so the loader, the CRD generator and the engine
stay generic: a new kind is a model with these attributes filled in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from resources.types import DnsLabel, Str

GROUP = "trunkline.dev"
STORAGE_VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{STORAGE_VERSION}"
DEFAULT_NAMESPACE = "default"


class Model(BaseModel):
    """Base of every spec part: camelCase in YAML, unknown fields rejected, strict types."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=False,
    )


class ObjectKey(NamedTuple):
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


class ObjectMeta(Model):
    name: DnsLabel
    namespace: DnsLabel = DEFAULT_NAMESPACE
    labels: dict[Str, Str] = Field(default_factory=dict)
    annotations: dict[Str, Str] = Field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """A field naming another object of ``target`` kind in the same namespace."""

    path: tuple[str, ...]  # camelCase path inside spec, e.g. ("provider", "cardRef")
    target: str
    # Another reference of the same object whose target must have the same ``currency`` (a
    # customer is billed from a card in its own currency: no silent conversion).
    same_currency_as: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Uniqueness:
    """Objects of one kind whose ``key(spec)`` is equal collide; ``None`` keys are skipped.

    ``scope`` is ``cluster`` (the switch is shared by every namespace) or ``namespace``.
    """

    key: Callable[[Any], tuple[Any, ...] | None]
    field: str
    message: str
    scope: str = "cluster"


class Resource(Model):
    """One declared object. Subclasses fix ``kind`` and ``spec`` and fill the ClassVars."""

    api_version: Str = Field(alias="apiVersion")
    kind: Str
    metadata: ObjectMeta
    spec: Model

    plural: ClassVar[str]
    short_names: ClassVar[tuple[str, ...]] = ()
    references: ClassVar[tuple[Reference, ...]] = ()
    uniqueness: ClassVar[tuple[Uniqueness, ...]] = ()
    # A field path in spec whose value is shown as the "Status" printer column.
    status_field: ClassVar[str | None] = None
    # Spec fields that cannot change once created (the engine refuses; Pulumi replaces).
    immutable_fields: ClassVar[dict[str, str]] = {}
    # Spec fields saying where data came from (a deck's CSV path): stored, never diffed.
    source_fields: ClassVar[tuple[str, ...]] = ()
    # Spec fields shown as columns by `trunkline get` (a table, like kubectl's printer columns).
    table_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.metadata.namespace, self.metadata.name)

    @model_validator(mode="after")
    def _check_kind(self) -> Resource:
        expected = type(self).__name__
        if type(self) is not Resource and self.kind != expected:
            raise ValueError(f"kind must be {expected}")
        return self


def spec_value(spec: Model, path: tuple[str, ...]) -> Any:
    """Read a camelCase path from a spec model; ``None`` where a part is missing."""
    value: Any = spec
    for part in path:
        if value is None:
            return None
        fields = type(value).model_fields
        attr = next((n for n, f in fields.items() if (f.alias or n) == part), part)
        value = getattr(value, attr, None)
    return value


def _reject_password(value: Any) -> Any:
    raise ValueError(
        "clear-text password is not accepted; use passwordRef "
        "(env, file or secretKeyRef) so the secret never sits in a manifest"
    )


ClearPassword = SkipJsonSchema[Annotated[Any, BeforeValidator(_reject_password)] | None]
"""Type of a ``password`` field that exists only to reject clear text with a clear message."""
