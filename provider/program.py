"""Render manifests as a Pulumi program (``trunkline export --format pulumi``).

Python dynamic providers cannot be imported with ``pulumi import`` (there is no provider
package to import into), so the way to bring live rows under Pulumi is to write the program
that declares them: one resource per object, in dependency order, references as the
referenced resource's ``.name`` output, passwords given from Pulumi read from the stack config.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from provider import args, fields
from resources.kinds import KINDS
from resources.meta import DEFAULT_NAMESPACE
from resources.modelpath import attribute_path, inner_model

INDENT = "    "


def variable(kind: str, namespace: str, name: str) -> str:
    stem = re.sub(r"\W+", "_", name if namespace == DEFAULT_NAMESPACE else f"{namespace}_{name}").strip("_")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()
    out = f"{snake}_{stem}"
    return out + "_" if keyword.iskeyword(out) else out


def _reference_paths(kind: str) -> dict[str, str]:
    """snake property path inside spec → referenced kind (e.g. ``provider.card_ref`` → RateCard)."""
    model = fields.spec_model(kind)
    return {".".join(attribute_path(model, ref.path)): ref.target for ref in KINDS[kind].references}


class _Renderer:
    def __init__(self) -> None:
        self.variables: dict[tuple[str, str, str], str] = {}
        self.secrets: list[str] = []
        self.used: set[str] = set()

    def value(self, model: type[BaseModel] | None, value: Any, path: str, ctx: dict[str, Any], depth: int) -> str:
        if isinstance(value, list):
            items = [self.value(model, v, path, ctx, depth + 1) for v in value]
            return self._wrap("[", items, "]", depth)
        if isinstance(value, dict) and model is not None:
            return self.model(model, value, path, ctx, depth)
        if isinstance(value, dict):
            items = [f"{k!r}: {self.value(None, v, path, ctx, depth + 1)}" for k, v in value.items()]
            return self._wrap("{", items, "}", depth)
        target = ctx["refs"].get(path)
        if target is not None and isinstance(value, str):
            var = self.variables.get((target, ctx["namespace"], value))
            if var is not None:
                return f"{var}.name"
        return repr(value)

    def model(self, model: type[BaseModel], value: dict[str, Any], path: str, ctx: dict[str, Any], depth: int) -> str:
        cls = args.model_args(model)
        self.used.add(cls.__name__)
        items: list[str] = []
        for key, item in value.items():
            if key == fields.PASSWORD_REF and fields.is_pulumi_ref(item):
                secret = f"{ctx['var']}_{path.replace('.', '_').replace('[', '_').replace(']', '') or 'spec'}_password"
                self.secrets.append(secret)
                items.append(f"{fields.PASSWORD}=config.require_secret({secret!r})")
                continue
            info = model.model_fields.get(key)
            inner = inner_model(info.annotation) if info is not None else None
            sub = f"{path}.{key}" if path else key
            items.append(f"{key}={self.value(inner, item, sub, ctx, depth + 1)}")
        return self._wrap(f"{cls.__name__}(", items, ")", depth)

    @staticmethod
    def _wrap(open_: str, items: list[str], close: str, depth: int) -> str:
        if not items:
            return open_ + close
        one = open_ + ", ".join(items) + close
        if len(one) + depth * 4 <= 100 and "\n" not in one:
            return one
        inner = INDENT * (depth + 1)
        return open_ + "\n" + "".join(f"{inner}{i},\n" for i in items) + INDENT * depth + close


def render(manifests: Iterable[dict[str, Any]]) -> str:
    """A ``__main__.py`` declaring ``manifests`` (in the order given: dependencies first)."""
    renderer = _Renderer()
    body: list[str] = []
    kinds_used: list[str] = []
    for manifest in manifests:
        props = fields.from_manifest(manifest)
        kind, namespace, name = props["kind"], props["namespace"], props["name"]
        var = variable(kind, namespace, name)
        ctx = {"refs": _reference_paths(kind), "namespace": namespace, "var": var}
        spec = renderer.model(fields.spec_model(kind), props["spec"], "", ctx, 1)
        resource_name = name if namespace == DEFAULT_NAMESPACE else f"{namespace}-{name}"
        call = [repr(resource_name), spec]
        if resource_name != name:
            call.append(f"name={name!r}")
        if namespace != DEFAULT_NAMESPACE:
            call.append(f"namespace={namespace!r}")
        for extra in ("labels", "annotations"):
            if props.get(extra):
                call.append(f"{extra}={props[extra]!r}")
        body.append(f"{var} = {kind}(\n" + "".join(f"{INDENT}{c},\n" for c in call) + ")\n")
        renderer.variables[(kind, namespace, name)] = var
        if kind not in kinds_used:
            kinds_used.append(kind)
    names = sorted(set(kinds_used) | renderer.used)
    head = [
        '"""Generated by `trunkline export --format pulumi`: the live rows as a Pulumi program."""',
        "",
        "import pulumi",
        "",
        "from provider import (\n" + "".join(f"{INDENT}{n},\n" for n in names) + ")",
    ]
    if renderer.secrets:
        head += ["", "config = pulumi.Config()"]
        head.append("# Passwords given from Pulumi are not in the database; set them with")
        head.extend(f"#   pulumi config set --secret {s} ..." for s in renderer.secrets)
    return "\n".join(head) + "\n\n" + "\n".join(body)
