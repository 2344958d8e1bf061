"""Plans for people: terminal text with ``+ ~ -`` and field diffs, and pull-request markdown."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from reconciler.plan import Change, Plan
from reconciler.rows import canonical

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def _value(value: Any) -> str:
    value = canonical(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def change_lines(change: Change) -> list[tuple[str, str]]:
    """(style, text) lines of one change: a header, then one line per changed field."""
    symbol, style = SYMBOL[change.action]
    header = f"{symbol} {change.key}"
    if change.adopt:
        header += "  (adopt: take ownership of an existing row)"
    lines = [(style, header)]
    for name, diff in change.diff.items():
        if change.action == "create":
            lines.append((style, f"    {name}: {_value(diff.after)}"))
        elif change.action == "delete":
            lines.append((style, f"    {name}: {_value(diff.before)}"))
        else:
            lines.append((style, f"    {name}: {_value(diff.before)} → {_value(diff.after)}"))
    return lines


def summary_line(plan: Plan) -> str:
    s = plan.summary
    if plan.empty:
        return f"No changes. {plan.unchanged} objects up to date."
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete ({plan.unchanged} unchanged)."
    )


def print_plan(plan: Plan, console: Console, *, max_fields: int | None = None) -> None:
    for change in plan.changes:
        lines = change_lines(change)
        shown = lines if max_fields is None else lines[: max_fields + 1]
        for style, text in shown:
            console.print(f"[{style}]{escape(text)}[/{style}]")
        if len(shown) < len(lines):
            console.print(f"    … {len(lines) - len(shown)} more fields")
    if plan.unmanaged:
        console.print(
            f"[dim]{len(plan.unmanaged)} rows in the database are not managed by Trunkline and are left alone"
            " (see `trunkline export` to adopt them).[/dim]"
        )
    style = "bold" if not plan.empty else "bold green"
    console.print(f"[{style}]{summary_line(plan)}[/{style}]")


def plan_markdown(plan: Plan, *, title: str = "Trunkline plan", max_changes: int = 200) -> str:
    """A pull-request comment: summary table, then a ``diff`` block GitHub colours by +/-."""
    s = plan.summary
    out = [f"### {title}", "", "| create | update | delete | unchanged |", "|---:|---:|---:|---:|"]
    out.append(f"| {s['create']} | {s['update']} | {s['delete']} | {plan.unchanged} |")
    out.append("")
    if plan.empty:
        out.append("No changes: the switch database already matches.")
        return "\n".join(out) + "\n"
    out += ["<details open><summary>Changes</summary>", "", "```diff"]
    marks = {"create": "+", "update": "!", "delete": "-"}
    for change in plan.changes[:max_changes]:
        for index, (_, text) in enumerate(change_lines(change)):
            # GitHub colours a diff block by the first character: + green, - red, ! orange.
            out.append(text if index == 0 and change.action != "update" else f"{marks[change.action]}{text[1:]}")
    if len(plan.changes) > max_changes:
        out.append(f"# … {len(plan.changes) - max_changes} more changes")
    out += ["```", "", "</details>", "", f"**{summary_line(plan)}**"]
    return "\n".join(out) + "\n"
