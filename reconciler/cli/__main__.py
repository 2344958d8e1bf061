"""``python -m reconciler.cli``: the same as the ``trunkline`` command."""

from reconciler.cli import main

main()
