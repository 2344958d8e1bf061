"""Load manifests (files, directories, stdin) into a validated ``DesiredState``.

Every problem in the input is collected and raised together as one ``ValidationError``;
nothing but that error type leaves ``load`` for bad input, whatever the bytes were.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
import reprlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError as PydanticValidationError
from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.reader import ReaderError

from resources import modelpath
from resources.checks import check_all, check_uniqueness
from resources.decks import load_deck, parse_deck
from resources.errors import Problem, ValidationError, render_path
from resources.gcpause import paused_gc
from resources.kinds.ratecard import RateCard, duplicate_rates
from resources.meta import DEFAULT_NAMESPACE, ObjectKey, Resource
from resources.positions import PositionIndex
from resources.state import DesiredState, Source
from resources.versions import DEFAULT_REGISTRY, Registry, UnknownKind, UnknownVersion
from resources.yamlresolve import safe_yaml

IGNORE_FILE = ".trunklineignore"
STDIN = "-"
_SUFFIXES = (".yaml", ".yml")
# Real manifests nest fewer than 20 levels; libyaml's composer recurses in C and crashes the
# process (no exception) somewhere past 20k levels, so deeper input is refused before composing.
MAX_DEPTH = 1000
_DOCUMENT_START = re.compile(r"^---", re.MULTILINE)
_SHOWN = reprlib.Repr()  # keyword arguments only from Python 3.12
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 2, 4, 4, 80, 80


def _shown(value: Any) -> str:
    """A bounded repr of user input: aliases can make a small file expand to a huge value."""
    try:
        return _SHOWN.repr(value)
    except (ValueError, RecursionError):  # e.g. an int past the int-to-str digit limit
        return f"{type(value).__name__} value too large to show"


class _PositionedConstructor(SafeConstructor):
    """Safe construction whose value errors (``2025-02-30``, an integer too long to convert)
    carry the position of the scalar, like every other YAML error."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            what = _shown(node.value) if isinstance(node.value, str) else f"this {node.id}"
            raise ConstructorError(None, None, f"cannot read {what}: {exc}", node.start_mark) from exc


def _parse_all(text: str) -> list[Any]:
    try:
        return list(safe_yaml().load_all(text))
    except (ValueError, OverflowError):
        # Rare, so the (slower) positioned constructor only runs again to say where.
        yaml = safe_yaml()
        yaml.Constructor = _PositionedConstructor
        return list(yaml.load_all(text))


def _reader_position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a libyaml reader error, which counts UTF-8 bytes."""
    before = text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "replace")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _too_deep(text: str) -> Any:
    """The mark where ``text`` nests deeper than ``MAX_DEPTH``, or ``None``.

    Each level needs a ``[``/``{`` or, in block style, at most two levels per column of
    indentation, so the cheap bound below settles almost every file; only the rest pay for
    an event scan (iterative in libyaml, unlike the composer).
    """
    longest = max(map(len, text.splitlines()), default=0)
    # A "---" at column 0 ends any collection (or is an error there), so count per document.
    flow = max(part.count("[") + part.count("{") for part in _DOCUMENT_START.split(text))
    if flow + 2 * (longest + 1) <= MAX_DEPTH:
        return None
    depth = 0
    try:
        for event in YAML(typ="safe", pure=False).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return None  # the parse proper reports it, having composed no deeper than this
    return None


def _ignored_patterns(directory: Path) -> list[str]:
    ignore = directory / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = ignore.read_text(encoding="utf-8").splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def manifest_files(root: Path) -> list[Path]:
    """YAML files under ``root``, sorted, skipping hidden entries and ``.trunklineignore`` globs."""
    found: list[Path] = []

    def walk(directory: Path, patterns: list[str], base: Path) -> None:
        patterns = patterns + [str(directory.relative_to(base) / p) for p in _ignored_patterns(directory)]
        for entry in sorted(directory.iterdir()):
            relative = str(entry.relative_to(base))
            if entry.name.startswith(".") or any(fnmatch.fnmatch(relative, p) for p in patterns):
                continue
            if entry.is_dir():
                walk(entry, patterns, base)
            elif entry.suffix in _SUFFIXES:
                found.append(entry)

    walk(root, [], root)
    return found


def _field_path(loc: Sequence[Any]) -> list[Any]:
    """Drop pydantic's union/validator tags from an error location, keep keys and indexes."""
    path: list[Any] = []
    for part in loc:
        if isinstance(part, int) or (isinstance(part, str) and part[:1].islower() and "[" not in part):
            path.append(part)
    return path


def _allowed_fields(model: type[Any], path: Sequence[Any]) -> list[str]:
    """The camelCase field names allowed at ``path`` (for 'did you mean' hints)."""
    found = modelpath.model_at(model, path)
    return modelpath.aliases(found) if found is not None else []


def _message(error: Any, model: type[Resource], path: list[Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        name = path[-1] if path else "?"
        allowed = _allowed_fields(model, path[:-1])
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown field {name!r}{hint}"
    if kind == "missing":
        return "required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in ("literal_error", "int_type", "bool_type", "string_type", "model_type", "list_type"):
        message += f", got {_shown(error.get('input'))}"
    return message


class _Loader:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.state = DesiredState(positions=PositionIndex())
        self.problems: list[Problem] = []
        self._decks: list[tuple[ObjectKey, Path]] = []
        self._config_map_decks: list[ObjectKey] = []

    def problem(self, message: str, file: str, document: int, path: tuple[Any, ...] = (), **kw: Any) -> None:
        position = self.state.positions.find(file, document, path)
        self.problems.append(
            Problem(
                message,
                file=file,
                line=position.line if position else None,
                column=position.column if position else None,
                **kw,
            )
        )

    def load_text(self, text: str, file: str) -> None:
        deep = _too_deep(text)
        if deep is not None:
            # Reported without positions: composing this file for them is what would crash.
            self.problems.append(
                Problem(
                    f"invalid YAML: nested deeper than {MAX_DEPTH} levels",
                    file=file,
                    line=deep.line + 1,
                    column=deep.column + 1,
                )
            )
            return
        self.state.positions.add_text(file, text)
        try:
            documents = _parse_all(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            self.problems.append(
                Problem(
                    f"invalid YAML: {message}",
                    file=file,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            )
            return
        except ReaderError as exc:  # a character YAML does not allow, e.g. a control character
            line, column = _reader_position(text, exc.position)
            what = f"character U+{exc.character:04X}" if isinstance(exc.character, int) else "input"
            self.problems.append(
                Problem(f"invalid YAML: unacceptable {what}: {exc.reason}", file=file, line=line, column=column)
            )
            return
        except (YAMLError, ValueError, TypeError, RecursionError) as exc:
            self.problems.append(Problem(f"invalid YAML: {exc}", file=file))
            return
        for index, document in enumerate(documents):
            if document is not None:
                self.load_document(document, file, index)

    def load_document(self, document: Any, file: str, index: int) -> None:
        if not isinstance(document, dict):
            self.problem(f"expected a mapping with apiVersion and kind, got {type(document).__name__}", file, index)
            return
        api_version, kind = document.get("apiVersion"), document.get("kind")
        metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
        name = metadata.get("name") if isinstance(metadata.get("name"), str) else None
        namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else DEFAULT_NAMESPACE
        ident: dict[str, Any] = {"kind": kind if isinstance(kind, str) else None, "namespace": namespace, "name": name}
        for field in ("apiVersion", "kind"):
            if not isinstance(document.get(field), str):
                self.problem("required field is missing", file, index, (field,), field=field, **ident)
                return
        if api_version == "v1" and kind == "ConfigMap":
            self.load_config_map(document, file, index, namespace, name)
            return
        try:
            model = self.registry.model(kind)
            manifest = self.registry.to_storage(document)
        except UnknownKind:
            known = ", ".join(self.registry.kinds)
            self.problem(f"unknown kind {kind!r}; Trunkline kinds are {known}", file, index, ("kind",), **ident)
            return
        except UnknownVersion as exc:
            self.problem(str(exc), file, index, ("apiVersion",), field="apiVersion", **ident)
            return
        except Exception as exc:  # a conversion function failing is the input's fault
            self.problem(f"cannot convert {api_version}: {exc}", file, index, ("apiVersion",), **ident)
            return
        try:
            obj = model.model_validate(manifest)
        except PydanticValidationError as exc:
            for error in exc.errors():
                path = _field_path(error["loc"])
                self.problem(
                    _message(error, model, path),
                    file,
                    index,
                    tuple(path),
                    field=render_path(path) or None,
                    **ident,
                )
            return
        self.add(obj, Source(file, index))

    def add(self, obj: Resource, source: Source) -> None:
        key = obj.key
        if key in self.state.objects:
            first = self.state.position(key)
            where = f" (first at {first.file}:{first.line})" if first else ""
            self.problem(
                f"duplicate object: {key} is declared twice{where}",
                source.file,
                source.document,
                ("metadata", "name"),
                kind=key.kind,
                namespace=key.namespace,
                name=key.name,
                field="metadata.name",
            )
            return
        self.state.add(obj, source)
        if isinstance(obj, RateCard) and obj.spec.rates_from is not None:
            if obj.spec.rates_from.csv is not None:
                self._decks.append((key, Path(source.file).parent / obj.spec.rates_from.csv))
            else:
                self._config_map_decks.append(key)
        elif isinstance(obj, RateCard):
            self.check_rates(obj)

    def load_config_map(
        self, document: dict[str, Any], file: str, index: int, namespace: str, name: str | None
    ) -> None:
        data = document.get("data") or {}
        if name is None or not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            self.problem("a ConfigMap needs metadata.name and string data", file, index, kind="ConfigMap")
            return
        self.state.config_maps[(namespace, name)] = dict(data)

    def finish(self, *, check_references: bool = True) -> DesiredState:
        """Resolve decks, run the cross-object checks, and raise every problem found at once."""
        self.resolve_decks()
        self.problems.extend(check_all(self.state) if check_references else check_uniqueness(self.state))
        if self.problems:
            raise ValidationError(self.problems)
        return self.state

    def object_problem(self, key: ObjectKey, message: str, path: tuple[Any, ...]) -> None:
        """A problem with a loaded object, positioned at ``path`` in its document."""
        self.problems.append(self.state.problem(key, path, message))

    def check_rates(self, card: RateCard) -> None:
        """Duplicate prefixes of inline rates (a deck's are found by ``parse_deck``, by CSV line)."""
        for rate_index, message in duplicate_rates(card.spec.rates or []):
            self.object_problem(card.key, message, ("spec", "rates", rate_index, "prefix"))

    def resolve_decks(self) -> None:
        for key, path in self._decks:
            rates, problems = load_deck(path)
            for unreadable in (p for p in problems if p.line is None):
                # A deck that cannot be read has no line to show: point at the reference instead.
                self.object_problem(key, f"{unreadable.message} ({path})", ("spec", "ratesFrom", "csv"))
            self._set_rates(key, rates, [p for p in problems if p.line is not None])
        for key in self._config_map_decks:
            card = self.state.objects[key]
            assert isinstance(card, RateCard) and card.spec.rates_from and card.spec.rates_from.config_map_ref
            ref = card.spec.rates_from.config_map_ref
            data = self.state.config_maps.get((key.namespace, ref.name), {})
            if ref.key not in data:
                message = f"ConfigMap {ref.name!r} with key {ref.key!r} is not declared in namespace {key.namespace}"
                self.object_problem(key, message, ("spec", "ratesFrom", "configMapRef"))
                continue
            rates, problems = parse_deck(data[ref.key], file=f"ConfigMap/{key.namespace}/{ref.name}[{ref.key}]")
            self._set_rates(key, rates, problems)

    def _set_rates(self, key: ObjectKey, rates: list[Any], problems: list[Problem]) -> None:
        ident = {"kind": key.kind, "namespace": key.namespace, "name": key.name}
        self.problems.extend(
            Problem(p.message, file=p.file, line=p.line, column=p.column, field=p.field, **ident) for p in problems
        )
        card = self.state.objects[key]
        assert isinstance(card, RateCard)
        resolved = card.model_copy(update={"spec": card.spec.model_copy(update={"rates": rates})})
        self.state.objects[key] = resolved


def load(
    paths: Iterable[str | Path],
    *,
    stdin: TextIO | None = None,
    registry: Registry = DEFAULT_REGISTRY,
) -> DesiredState:
    """Load and validate manifests; raise ``ValidationError`` listing every problem."""
    with paused_gc():
        return _load(paths, stdin=stdin, registry=registry)


def _load(paths: Iterable[str | Path], *, stdin: TextIO | None, registry: Registry) -> DesiredState:
    loader = _Loader(registry)
    for raw in paths:
        if str(raw) == STDIN:
            loader.load_text((stdin or sys.stdin).read(), "<stdin>")
            continue
        path = Path(raw)
        if path.is_dir():
            files = manifest_files(path)
        elif path.is_file():
            files = [path]
        else:
            loader.problems.append(Problem("no such file or directory", file=str(path)))
            continue
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                loader.problems.append(Problem(f"cannot read manifest: {exc}", file=str(file)))
                continue
            loader.load_text(text, str(file))
    return loader.finish()


def load_manifests(
    manifests: Iterable[dict[str, Any]],
    *,
    source: str = "<api>",
    config_maps: dict[tuple[str, str], dict[str, str]] | None = None,
    check_references: bool = True,
    registry: Registry = DEFAULT_REGISTRY,
) -> DesiredState:
    """Validate manifests that arrive as data (Kubernetes objects, Pulumi inputs).

    Without ``check_references`` a lone object may name objects that live elsewhere (the
    engine then checks them against the database).
    """
    loader = _Loader(registry)
    loader.state.config_maps.update(config_maps or {})
    for index, manifest in enumerate(manifests):
        loader.load_document(manifest, source, index)
    return loader.finish(check_references=check_references)


def load_text(text: str, *, file: str = "<input>", registry: Registry = DEFAULT_REGISTRY) -> DesiredState:
    """Load manifests from a string (tests, the operator, the Pulumi provider)."""
    loader = _Loader(registry)
    loader.load_text(text, file)
    return loader.finish()
