"""The remembering resolver gives exactly what ruamel's own safe loader gives."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.resolver import VersionedResolver

from resources.yamlresolve import safe_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Plain scalars whose type depends on the resolver: YAML 1.1 and 1.2 forms, look-alikes.
SCALARS = [
    "yes", "no", "NO", "on", "off", "y", "n", "true", "True", "TRUE", "false", "tRUE",
    "~", "null", "Null", "NULL", "nil", "",
    "0", "-0", "+1", "0755", "0o17", "0O17", "0x1F", "0X1F", "0b101", "1_000", "12:30", "1:20:30",
    "0044", "44", "4420", "+44 20", "1e3", "1E3", "1.5", "1.", ".5", "-.5", "1_0.5", "1.5e-3",
    ".inf", "-.inf", "+.Inf", ".NaN", ".nan", "inf", "NaN",
    "2026-01-01", "2026-1-1", "2026-01-01T10:00:00Z", "2026-01-01 10:00:00.5 +02:00", "2026-01-01T10:00",
    "=", "<<x", "a: b", "#x", "10.0.0.1", "10.0.0.0/24", "sip:+4420@example.com", "PCMU",
]  # fmt: skip


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _assert_read_alike(text: str) -> None:
    """Our values equal ruamel's, or both refuse the text with the same error type."""
    try:
        expected = _stock(text)
    except Exception as exc:
        with pytest.raises(type(exc)):
            _ours(text)
        return
    assert _same(_ours(text), expected), text


def _stock(text: str) -> list[Any]:
    return list(YAML(typ="safe", pure=False).load_all(text))


def _ours(text: str) -> list[Any]:
    return list(safe_yaml().load_all(text))


def _plain(scalar: str) -> bool:
    """Whether ``scalar`` can stand unquoted as a block value (``a: b`` and ``#x`` cannot)."""
    return bool(scalar) and not scalar.startswith("#") and ": " not in scalar


def _document(scalars: list[str]) -> str:
    """Each scalar as a block value, a flow item, a key, quoted, and again (remembered) later."""
    lines = [f"v{i}: {s}" for i, s in enumerate(scalars) if _plain(s)]
    lines.append("flow: [" + ", ".join(s for s in scalars if _plain(s) and not any(c in s for c in ":,[]{}")) + "]")
    lines += [f"'{s}': quoted-key-{i}" for i, s in enumerate(scalars)]
    lines += [f"q{i}: '{s}'" for i, s in enumerate(scalars)]
    lines += [f"again{i}: {s}" for i, s in enumerate(scalars) if _plain(s)]
    return "\n".join(lines) + "\n"


def test_every_tricky_scalar_reads_as_ruamel_reads_it() -> None:
    _assert_read_alike(_document([s for s in SCALARS if s != "="]))  # "=" has no constructor
    # and each one on its own, so no answer comes from an earlier scalar of the same text
    for scalar in SCALARS:
        one = f"a: {scalar}\nb: [{scalar}]\n" if _plain(scalar) and "," not in scalar else f"a: '{scalar}'\n"
        _assert_read_alike(one)


def test_a_yaml_directive_is_treated_as_ruamel_treats_it() -> None:
    _assert_read_alike("%YAML 1.1\n---\na: yes\nb: 0755\nc: 1:20\n---\nd: yes\n")


def test_tags_anchors_merges_and_documents_read_as_ruamel_reads_them() -> None:
    text = (
        "base: &base {a: 1, b: yes, c: 2026-01-01}\n"
        "merged:\n  <<: *base\n  b: no\n"
        "tagged: !!str 123\nfloat: !!float 1\nbinary: !!binary aGVsbG8=\n"
        "set: !!set {a, b}\nomap: !!omap [{x: 1}, {y: 2}]\n"
        "---\n- 1\n- [2, 3]\n---\nplain text\n"
    )
    assert _same(_ours(text), _stock(text))


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_the_examples_read_as_ruamel_reads_them(path: Path) -> None:
    _assert_read_alike(path.read_text(encoding="utf-8"))  # an invalid example must fail alike


def test_each_distinct_scalar_is_resolved_once_per_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = VersionedResolver.resolve

    def counted(self: Any, kind: Any, value: Any, implicit: Any) -> Any:
        calls.append(value)
        return real(self, kind, value, implicit)

    monkeypatch.setattr(VersionedResolver, "resolve", counted)
    text = "a: yes\nb: yes\nc: [yes, yes]\n"
    assert _ours(text) == _stock(text)
    ours, stock = calls[: len(calls) // 2], calls[len(calls) // 2 :]
    calls.clear()
    _ours(text)
    assert calls.count("yes") == 1 and stock.count("yes") == 4, (ours, stock)
    calls.clear()
    _ours(text)  # a new stream starts afresh
    assert calls.count("yes") == 1
