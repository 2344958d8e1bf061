"""The rating sidecar: turns calls into money, beside the switch.

The pure core, with no I/O, so every rule a customer's invoice depends on can be tested against
hand-computed figures and benchmarked in-process:

- ``rating.charges``: a ``Tariff`` (one rate with the card's defaults folded in), billed seconds
  under increments and minimums, and the ``Charge`` of a call (package allowance first).
- ``rating.prefixes``: ``PrefixIndex``, longest-prefix match with effective-dated rates.
- ``rating.cdr``: parsing the CDR exchange format (JSON lines and CSV) into ``Cdr`` values.
- ``rating.directory``: the in-memory view ``authorize`` and the rater share (``identify``, ``route``).
- ``rating.authorize`` and ``rating.limits``: the decision on an INVITE, channels and CPS.

Around it, the database side: ``rating.loading`` (the directory from the switch database),
``rating.rater``, ``rating.recalc``, ``rating.ledger``, ``rating.payments``, ``rating.export``,
``rating.stats``, ``rating.alerts`` and ``rating.notify``; and the sidecar process:
``rating.service`` (HTTP routes), ``rating.sidecar`` (background work), ``rating.state``,
``rating.tail`` and ``rating.metrics``.

Modules are imported qualified (``charges.charge(...)``); this package re-exports nothing so that
importing one module never pulls in the others.

Exception tree (every error here is a ``TrunklineError``, shown to users without a traceback)::

    TrunklineError
    └── RatingError          the rating core cannot do what was asked
        └── CdrError         one malformed CDR: line, field, message (``rating.cdr``)
"""

from __future__ import annotations

from resources.errors import TrunklineError


class RatingError(TrunklineError):
    """Base of every error raised by the rating sidecar."""
