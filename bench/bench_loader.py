"""Loader benchmark: ``resources.load`` on a generated carrier, against plain YAML parsing.

Generates (bench/gen.py) N customers with 11 child objects each (12N objects) and a RateCard
with a CSV deck, then measures, in one process:

- raw limit: ruamel.yaml's C-backed safe loader, ``load_all`` of the same files, no validation;
- ``resources.load`` of the whole tree (YAML, validation, deck, cross-object checks): objects/s
  and the ratio ours / raw;
- the CSV deck alone (``resources.decks.load_deck``; goal: well under 2 s for 100k rows), against
  ``csv.reader`` over the same file;
- where the load's time goes (``--no-breakdown`` skips it): the depth guard, YAML, per-object
  model validation and the cross-object checks, timed one by one through the loader's internals.

    python bench/bench_loader.py                                  # 10k customers, 100k-row deck
    python bench/bench_loader.py --customers 1000 --deck-rows 10000   # a quick run
    python bench/bench_loader.py --profile                        # + cProfile of resources.load
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import sys
import tempfile
from pathlib import Path

from common import Timing, figures, load_average, machine, profiled, ratio, table, timed
from gen import generate
from ruamel.yaml import YAML

import resources
from resources.decks import load_deck


def _files(tree: Path) -> list[Path]:
    from resources.loader import manifest_files

    return manifest_files(tree)


def raw_yaml(files: list[Path]) -> list[tuple[str, str, list[object]]]:
    """The raw limit: read and ``load_all`` every file with ruamel's C loader, nothing else."""
    out = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        out.append((str(file), text, list(YAML(typ="safe", pure=False).load_all(text))))
    return out


def breakdown(parsed: list[tuple[str, str, list[object]]], results: list[Timing]) -> None:
    """Time the loader's steps one by one (private API: skipped if it has moved)."""
    try:
        from resources.checks import check_all
        from resources.loader import _Loader, _too_deep
        from resources.versions import DEFAULT_REGISTRY
    except ImportError as exc:
        print(f"  (breakdown skipped: {exc})")
        return
    with timed("step: depth guard (_too_deep) on every file", results):
        for _, text, _ in parsed:
            _too_deep(text)
    loader = _Loader(DEFAULT_REGISTRY)
    with timed("step: validate parsed documents (load_document)", results):
        for file, text, documents in parsed:
            loader.state.positions.add_text(file, text)
            for index, document in enumerate(documents):
                if document is not None:
                    loader.load_document(document, file, index)
    with timed("step: resolve the deck (resolve_decks)", results):
        loader.resolve_decks()
    with timed("step: cross-object checks (check_all)", results):
        problems = list(check_all(loader.state))
    if loader.problems or problems:
        print(f"  !! {len(loader.problems) + len(problems)} problems in the generated tree")


def rate(items: int, t: Timing) -> str:
    return f"{items / t.wall:,.0f}" if t.wall > 0 else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--deck-rows", type=int, default=100_000)
    parser.add_argument("--tree", type=Path, help="use (or keep) the generated tree here instead of a temp dir")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the step-by-step timing")
    parser.add_argument("--profile", action="store_true", help="also run resources.load under cProfile")
    args = parser.parse_args(argv)

    print(f"# loader benchmark: {args.customers} customers, {args.deck_rows}-row deck\n")
    print(machine())
    print(f"- command: python bench/bench_loader.py {' '.join(sys.argv[1:])}".rstrip())
    with tempfile.TemporaryDirectory(prefix="trunkline-bench-") as tmp:
        tree = args.tree or Path(tmp) / "carrier"
        results: list[Timing] = []
        print("\nsteps:")
        with timed("generate manifests (bench/gen.py)", results):
            summary = generate(tree, customers=args.customers, deck_rows=args.deck_rows)
        files = _files(tree)
        size = sum(f.stat().st_size for f in files) / 1e6
        assert summary.deck is not None
        deck_size = summary.deck.stat().st_size / 1e6
        print(f"  {summary.objects} objects in {len(files)} YAML files ({size:.1f} MB), deck {deck_size:.1f} MB")

        with timed("raw: ruamel C-loader load_all of every file", results) as raw:
            parsed = raw_yaml(files)
        documents = sum(len(d) for _, _, d in parsed)
        if not args.no_breakdown:
            breakdown(parsed, results)
        del parsed
        gc.collect()

        with timed("ours: resources.load(tree)", results) as ours:
            state = resources.load([tree])
        loaded = len(state)
        del state
        gc.collect()

        with timed("raw: csv.reader over the deck", results) as raw_deck:
            raw_rows = sum(1 for _ in csv.reader(io.StringIO(summary.deck.read_text(encoding="utf-8-sig")))) - 1
        with timed("ours: load_deck (parse + validate rates)", results) as deck:
            rates, problems = load_deck(summary.deck)
        deck_rates = len(rates)
        del rates
        if problems:
            print(f"  !! deck problems: {problems[:3]}")

        if args.profile:
            gc.collect()
            with profiled(True, "resources.load(tree)"):
                resources.load([tree])

    print(f"\nload average at end: {load_average()}")
    print("\n## results\n")
    manifests_only = ours.wall - deck.wall
    rows = [
        ["raw YAML: ruamel C-loader load_all (no validation)", documents, *figures(raw), rate(documents, raw), "1.0x"],
        ["resources.load (whole tree, deck included)", loaded, *figures(ours), rate(loaded, ours),
         ratio(ours.wall, raw.wall)],
        ["resources.load minus load_deck (estimate)", loaded - 1, f"{manifests_only:.2f}", "", "",
         f"{(loaded - 1) / manifests_only:,.0f}", ratio(manifests_only, raw.wall)],
        ["raw CSV: csv.reader over the deck", raw_rows, *figures(raw_deck), rate(raw_rows, raw_deck), "1.0x"],
        ["load_deck (CSV deck, validated Rates)", deck_rates, *figures(deck), rate(deck_rates, deck),
         ratio(deck.wall, raw_deck.wall)],
    ]  # fmt: skip
    print(table(["step", "items", "wall s", "cpu s", "in gc s", "items/s (wall)", "vs raw"], rows))
    steps = [t for t in results if t.label.startswith("step:")]
    if steps:
        print("\nwhere resources.load spends its time (each step timed alone; YAML = the raw row above):\n")
        print(table(["step", "wall s", "cpu s", "in gc s"], [[t.label[6:], *figures(t)] for t in steps]))
    verdict = "met" if deck.wall < 2.0 else "MISSED"
    print(f"\ngoal: {deck_rates}-row deck well under 2 s -> {deck.wall:.2f} s wall ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
