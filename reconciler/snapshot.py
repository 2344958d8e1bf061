"""Snapshots: a desired state as bytes, stored on each revision so it can be applied again.

``trunkline rollback N`` must work when the commit, the checkout or the rate deck a revision
came from is gone, so a snapshot holds every object as a self-contained storage-version
manifest: rate decks are inlined (``ratesFrom`` is dropped, its rates kept), and a
``passwordRef.file`` relative to its manifest is made absolute. Secrets are references only
(the model never holds a value), so a snapshot is as safe to store as the manifests in git.

Format: gzip of ``{"snapshotVersion": 1, "items": [manifest, ...]}`` (compact JSON, no
timestamp in the gzip header, so the same state always gives the same bytes).
"""

from __future__ import annotations

import gzip
import itertools
import json
import operator
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reconciler.rows import declared_jsons
from resources import modelpath
from resources.errors import TrunklineError, ValidationError
from resources.loader import load_manifests
from resources.meta import Resource
from resources.state import DesiredState

VERSION = 1
_FILE = b'"file":'  # in a declared JSON: maybe a relative passwordRef.file to make absolute
SOURCE = "<snapshot>"


class SnapshotError(TrunklineError):
    """Stored snapshot bytes cannot be read back (corrupt, or written by a newer Trunkline)."""

    exit_code = 1


def _manifest(obj: Resource, base_dir: Path | None) -> dict[str, Any]:
    manifest: dict[str, Any] = obj.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec = manifest["spec"]
    for field in obj.source_fields:
        if spec.get(field) is not None and any(v is not None for k, v in spec.items() if k != field):
            spec.pop(field)  # the loader resolved it into the spec (a deck into ``rates``)
    if base_dir is not None and modelpath.reaches(type(obj.spec), "passwordRef"):
        _absolute_files(spec, base_dir)  # only kinds that can hold one: a 100k-rate card cannot
    return manifest


def _absolute_files(value: Any, base_dir: Path) -> None:
    """Make ``passwordRef.file`` paths absolute: a snapshot has no manifest directory."""
    if isinstance(value, dict):
        ref = value.get("passwordRef")
        if isinstance(ref, dict) and isinstance(ref.get("file"), str) and not Path(ref["file"]).is_absolute():
            ref["file"] = str((base_dir / ref["file"]).resolve())
        for item in value.values():
            _absolute_files(item, base_dir)
    elif isinstance(value, list):
        for item in value:
            _absolute_files(item, base_dir)


def _resolved_sources(obj: Resource) -> set[str]:
    """Attributes of ``obj.spec`` to leave out: source fields the loader resolved into the spec."""
    spec = obj.spec
    names = type(spec).model_fields
    drop: set[str] = set()
    for alias in obj.source_fields:
        found = modelpath.field(type(spec), alias)
        if found is None or getattr(spec, found[0]) is None:
            continue
        if any(getattr(spec, other) is not None for other in names if other != found[0]):
            drop.add(found[0])
    return drop


def _item(obj: Resource, base_dir: Path | None, declared: bytes) -> bytes:
    """One manifest as compact JSON (the same JSON as ``json.dumps(_manifest(...))``): the
    declared JSON itself unless a resolved source field must go or a relative
    ``passwordRef.file`` needs rewriting."""
    drop = _resolved_sources(obj)
    if base_dir is not None and b'"passwordRef":' in declared and _FILE in declared:
        return json.dumps(_manifest(obj, base_dir), separators=(",", ":"), ensure_ascii=False).encode()
    if drop:
        data: bytes = obj.__pydantic_serializer__.to_json(obj, by_alias=True, exclude_none=True, exclude={"spec": drop})
        return data
    return declared


def items(state: DesiredState) -> tuple[list[bytes], list[bytes]]:
    """The declared JSON and the snapshot item of every object, in ``state.objects`` order:
    each object is serialized once for both the snapshot and the ownership hashes an apply
    records. Built list by list (120k objects): only objects that may hold a resolved source or
    a ``passwordRef.file`` are looked at one by one."""
    objects = list(state.objects.values())
    declared = declared_jsons(objects)
    manifests = declared.copy()
    sourced = tuple(kind for kind in set(map(type, objects)) if kind.source_fields)
    candidates = sorted(
        {i for i, obj in enumerate(objects) if isinstance(obj, sourced)}
        | set(itertools.compress(range(len(declared)), map(operator.contains, declared, itertools.repeat(_FILE))))
    )
    keys = list(state.objects) if candidates else []
    for i in candidates:
        manifests[i] = _item(objects[i], state.directory(keys[i]), declared[i])
    return declared, manifests


def pack(manifests: Iterable[bytes]) -> bytes:
    """Snapshot items (from ``items``) as the stored snapshot bytes."""
    body = b'{"snapshotVersion":%d,"items":[%s]}' % (VERSION, b",".join(manifests))
    return gzip.compress(body, compresslevel=6, mtime=0)


def snapshot(state: DesiredState) -> bytes:
    """Every object of ``state`` as storage-version manifests: JSON, gzip-compressed."""
    return pack(items(state)[1])


def restore(data: bytes) -> DesiredState:
    """The desired state a snapshot holds, validated like any manifests."""
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise SnapshotError(f"cannot read snapshot: {exc}") from exc
    if not isinstance(document, dict) or document.get("snapshotVersion") != VERSION:
        version = document.get("snapshotVersion") if isinstance(document, dict) else None
        raise SnapshotError(f"cannot read snapshot: unknown snapshot version {version!r}")
    try:
        return load_manifests(document.get("items", []), source=SOURCE)
    except ValidationError as exc:
        raise SnapshotError(f"cannot restore snapshot: {exc.message}") from exc
