"""Which rate applies to a dialed number at a moment: longest prefix, then latest effective date.

Rate decks of 100k+ prefixes are normal and every CDR needs a lookup, so the index is a plain
dict keyed by the prefix string: a lookup tries ``number[:n]`` for n from the longest possible
prefix down to 1, which is at most ~20 hash lookups whatever the deck size (a scan or a sorted
search over the deck would grow with it). Building is one pass plus a sort per prefix.

Each prefix keeps its rates sorted by ``effectiveFrom``; a rate without one is always effective
and sorts first. At time ``at`` the rate used is the latest whose ``effectiveFrom <= at`` (a rate
switching at exactly ``at`` already applies); the versions are scanned newest first, which is
cheapest for the usual one or two versions per prefix.

If the longest matching prefix has no rate effective yet at ``at`` (it was added to the deck for
a future date), the lookup falls back to the next shorter prefix: until its first rate starts, that
prefix does not exist, so the number is rated exactly as it was before the prefix was added.

A blocked rate is a match like any other (``Match.blocked``): the longest prefix decides, so a
blocked ``4477`` blocks calls that ``44`` alone would have priced.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

from rating import RatingError
from rating.charges import Tariff
from resources.kinds.ratecard import Rate, RateCardSpec

_ALWAYS = datetime.min.replace(tzinfo=UTC)  # where a rate without effectiveFrom sorts


@dataclass(frozen=True, slots=True)
class Match:
    """The rate found for a number: the prefix that matched and what calls to it cost."""

    prefix: str
    tariff: Tariff
    name: str | None = None
    effective_from: datetime | None = None

    @property
    def blocked(self) -> bool:
        return self.tariff.blocked


class PrefixIndex:
    """Longest-prefix, effective-dated rate lookup over one rate card."""

    __slots__ = ("_by_prefix", "_longest")

    def __init__(self, matches: Iterable[Match]) -> None:
        with _no_cyclic_gc():
            by_prefix: dict[str, list[Match]] = {}
            for match in matches:
                versions = by_prefix.get(match.prefix)
                if versions is None:
                    by_prefix[match.prefix] = [match]
                else:
                    versions.append(match)
            for prefix, versions in by_prefix.items():
                if len(versions) > 1:
                    versions.sort(key=_start)
                    for earlier, later in pairwise(versions):
                        if _start(earlier) == _start(later):
                            when = later.effective_from.isoformat() if later.effective_from else "always"
                            raise RatingError(f"cannot index rate card: prefix {prefix} has two rates effective {when}")
        self._by_prefix = by_prefix
        self._longest = max(map(len, by_prefix), default=0)

    @classmethod
    def from_rates(cls, rates: Iterable[Rate], card: RateCardSpec) -> PrefixIndex:
        """Index ``rates`` priced with ``card``'s defaults, precision and rounding.

        Equal tariffs are shared: real decks repeat a few hundred prices over 100k prefixes.
        """
        tariffs: dict[tuple[object, ...], Tariff] = {}

        def tariff(rate: Rate) -> Tariff:
            key = (
                rate.per_minute,
                rate.connect_fee,
                rate.minimum_seconds,
                rate.initial_increment,
                rate.subsequent_increment,
                rate.blocked,
            )
            found = tariffs.get(key)
            if found is None:
                found = tariffs[key] = Tariff.from_rate(rate, card)
            return found

        with _no_cyclic_gc():
            return cls(Match(rate.prefix, tariff(rate), rate.name, rate.effective_from) for rate in rates)

    @classmethod
    def from_card(cls, card: RateCardSpec) -> PrefixIndex:
        """Index a card whose rates are inline or already resolved from its ``ratesFrom`` deck."""
        if card.rates is None:
            raise RatingError("cannot index rate card: its ratesFrom deck has not been loaded")
        return cls.from_rates(card.rates, card)

    def __len__(self) -> int:
        """Number of distinct prefixes."""
        return len(self._by_prefix)

    def lookup(self, number: str, at: datetime) -> Match | None:
        """The rate for ``number`` (digits, an optional leading ``+``) at ``at`` (timezone-aware)."""
        if at.tzinfo is None:
            raise ValueError("cannot look up a rate at a naive datetime: give it a timezone")
        if number.startswith("+"):
            number = number[1:]
        get = self._by_prefix.get
        for length in range(min(len(number), self._longest), 0, -1):
            versions = get(number[:length])
            if versions is not None:
                for match in reversed(versions):  # newest first; a prefix has a handful of versions
                    start = match.effective_from
                    if start is None or start <= at:
                        return match
        return None


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector while building: the index makes no cycles, and with 100k+ live
    objects every collection it triggers would rescan them all (it more than doubled build time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _start(match: Match) -> datetime:
    return _ALWAYS if match.effective_from is None else match.effective_from
