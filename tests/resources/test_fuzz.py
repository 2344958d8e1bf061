"""Whatever the input, loading either succeeds or raises ``ValidationError`` whose problems
are usable: a message, and a line wherever a file is named. Never another exception.

Three generators: arbitrary text (and decoded bytes), character-level damage to a valid
manifest, and JSON-like trees dumped to YAML, mostly shaped like real objects whose valid
spec has been mutated (fields dropped, retyped, replaced by junk, unknown keys added).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import resources
from resources import KINDS

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # keep runs reproducible and the work tree clean
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOKENS = [
    "apiVersion: trunkline.dev/v1alpha1\n",
    "kind: Customer\n",
    "kind: RateCard\n",
    "kind: ",
    "metadata:\n",
    "  name: acme\n",
    "spec:\n",
    "  ",
    "- ",
    ": ",
    "\n",
    "---\n",
    "...\n",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!binary ",
    "!custom ",
    "? ",
    "|",
    ">-",
    "#",
    "'",
    '"',
    "\\",
    "\t",
    "%YAML 1.2\n",
    "@",
    "0x1F",
    "1e400",
    ".nan",
    "-.inf",
    "2025-02-30",
    "~",
    "null",
    "yes",
    "\ufeff",
    "\x00",
    "\u2028",
]
VALUES = [
    "0.0125",
    "-1",
    "1e5",
    "abc",
    "",
    "+442079460000",
    "12ab",
    "192.0.2.1",
    "10.0.0.300",
    "198.51.100.0/24",
    "pbx.example",
    "acme",
    "usd",
    "USD",
    "usdollar",
    "GB",
    "2025-01-01",
    "2025-07-01T00:00:00Z",
    "([0-9]",
    "^99",
    "15m",
    "0s",
    "sip:a@192.0.2.1",
    "https://hooks.example/a",
    "a@b.example",
    "Active",
    "Sampling",
    "Egress",
    "Monthly",
    "<",
    "decks/none.csv",
    ".",
    "a{99999999999}",
    "*" * 3,
]


def check(text: str) -> None:
    try:
        resources.load_text(text)
    except resources.ValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem.message, str) and problem.message.strip(), problem
            if problem.file is not None:
                assert problem.line is not None and problem.line >= 1, problem
            if problem.column is not None:
                assert problem.column >= 1, problem
            problem.render()
            problem.to_json()


# ---------------------------------------------------------------- (a) text


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    check(text)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_decoded_bytes(data, encoding):
    check(data.decode(encoding, errors="replace"))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.sampled_from(VALUES) | st.text(max_size=4), max_size=60))
def test_yaml_shaped_token_soup(tokens):
    check("".join(tokens))


@FUZZ
@given(st.data())
def test_damaged_manifests(world, data):
    """Delete, insert or duplicate characters and lines in a valid file: near-misses users make."""
    lines = world.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        operation = data.draw(st.sampled_from(["delete-line", "duplicate-line", "indent", "dedent", "insert", "cut"]))
        line = lines[index]
        if operation == "delete-line" and len(lines) > 1:
            del lines[index]
        elif operation == "duplicate-line":
            lines.insert(index, line)
        elif operation == "indent":
            lines[index] = "  " + line
        elif operation == "dedent":
            lines[index] = line.removeprefix("  ")
        elif operation == "insert":
            at = data.draw(st.integers(0, len(line)))
            lines[index] = line[:at] + data.draw(st.sampled_from(TOKENS) | st.text(max_size=3)) + line[at:]
        elif operation == "cut" and line:
            at = data.draw(st.integers(0, len(line) - 1))
            lines[index] = line[:at] + line[at + 1 :]
    check("".join(lines))


# ---------------------------------------------------------------- (b) trees dumped to YAML

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(VALUES)
)


@functools.cache
def _junk(field_names: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """JSON-like trees whose keys are often real field names. Built once: building is slow."""
    keys = st.sampled_from(field_names) | st.text(max_size=8) | st.integers(-5, 5)
    return st.recursive(
        SCALARS,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
        max_leaves=12,
    )


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a node inside a spec (dict keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _mutate(spec: dict[str, Any], draw: st.DrawFn, junk: st.SearchStrategy[Any]) -> dict[str, Any]:
    for _ in range(draw(st.integers(0, 4))):
        paths = _paths(spec)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = spec
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        operation = draw(st.sampled_from(["drop", "junk", "retype", "extra", "null"]))
        if operation == "drop":
            del parent[key]
        elif operation == "junk":
            parent[key] = draw(junk)
        elif operation == "retype":
            value = parent[key]
            parent[key] = str(value) if not isinstance(value, str) else (int(value) if value.isdigit() else [value])
        elif operation == "null":
            parent[key] = None
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(junk)
        else:
            parent.append(draw(junk))
    return spec


@st.composite
def _document(draw: st.DrawFn, specs: dict[str, dict[str, Any]], junk: st.SearchStrategy[Any]) -> Any:
    shape = draw(st.sampled_from(["object"] * 6 + ["envelope-junk", "any-tree"]))
    if shape == "any-tree":
        return draw(junk)
    kind = draw(st.sampled_from(list(KINDS)))
    document: dict[Any, Any] = {
        "apiVersion": draw(st.sampled_from([resources.API_VERSION] * 6 + ["trunkline.dev/v1", "v1", 7, None])),
        "kind": draw(st.sampled_from([kind] * 6 + ["ConfigMap", "Carrier", 3, None])),
        "metadata": {"name": draw(st.sampled_from(["x", "y", "acme", "usd"]) | st.text(max_size=8))},
        "spec": _mutate(copy.deepcopy(specs[kind]), draw, junk),
    }
    if draw(st.booleans()):
        document["metadata"]["namespace"] = draw(st.sampled_from(["default", "lab"]) | st.text(max_size=6))
    if shape == "envelope-junk":
        target = draw(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "data", "status"]))
        document[target] = draw(junk)
    return document


@FUZZ
@given(st.data())
def test_mutated_objects_dumped_to_yaml(valid_specs, world, dump, data):
    junk = _junk(tuple(sorted({str(p[-1]) for spec in valid_specs.values() for p in _paths(spec)})))
    documents = data.draw(st.lists(_document(valid_specs, junk), min_size=1, max_size=3), label="documents")
    text = dump(*documents)
    if data.draw(st.booleans(), label="with world"):
        text = world + "---\n" + text
    check(text)
