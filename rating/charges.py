"""What one call costs: billed seconds under increments, package allowance, connect fee, rounding.

A ``Tariff`` is a ``Rate`` with its card's defaults and rounding folded in, so rating a call never
has to look at the card again. Everything is ``Decimal``: money must come out the same on every
machine and match a hand calculation to the last digit, which binary floats cannot promise.

Rules (recorded in docs/decisions.md):

- An unanswered (0 s) call bills nothing: no seconds, no connect fee.
- Billed seconds: ``max(duration, minimumSeconds)``, then the first block is ``initialIncrement``
  and every further block ``subsequentIncrement``, each block counted whole (30/6: 31 s -> 36 s).
- Package allowance is consumed first, from the billed seconds (not the raw duration).
- The connect fee is charged on every answered call, even one fully covered by a package: the
  package buys minutes, the fee pays for the call setup.
- ``cost = connectFee + perMinute * chargeableSeconds / 60``, rounded once, at the end, to the
  card's ``precision`` with its ``rounding`` (up = ceiling, down = floor, nearest = half up).
- ``blocked`` is carried, not enforced: whether a CDR on a blocked prefix is rejected is the
  caller's decision (authorize refuses such calls; a CDR that arrives anyway is still priced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from resources.kinds.ratecard import Rate, RateCardSpec

Rounding = Literal["up", "down", "nearest"]

_ROUNDING: dict[str, str] = {"up": ROUND_CEILING, "down": ROUND_FLOOR, "nearest": ROUND_HALF_UP}
_MAX_PRECISION = 10  # RateCardSpec.precision allows 0..10
_QUANTA: tuple[Decimal, ...] = tuple(Decimal(1).scaleb(-p) for p in range(_MAX_PRECISION + 1))
_ZERO = Decimal(0)
_SIXTY = Decimal(60)


@dataclass(frozen=True, slots=True)
class Tariff:
    """The price of calls to one prefix from one moment on: a rate with its card's defaults applied."""

    per_minute: Decimal
    connect_fee: Decimal = _ZERO
    minimum_seconds: int = 0
    initial_increment: int = 1
    subsequent_increment: int = 1
    precision: int = 4
    rounding: Rounding = "up"
    blocked: bool = False
    # Derived once here rather than per call: rating runs at 100k+ CDRs/s.
    _quantum: Decimal = field(init=False, repr=False, compare=False)
    _mode: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The models validate these already; a Tariff built by hand (tests, bench) gets the same guard.
        if not isinstance(self.per_minute, Decimal) or not isinstance(self.connect_fee, Decimal):
            raise TypeError("perMinute and connectFee must be Decimal, never float")
        if self.per_minute < 0 or self.connect_fee < 0:
            raise ValueError("perMinute and connectFee must not be negative")
        if self.minimum_seconds < 0:
            raise ValueError("minimumSeconds must not be negative")
        if self.initial_increment < 1 or self.subsequent_increment < 1:
            raise ValueError("increments must be at least 1 second")
        if not 0 <= self.precision <= _MAX_PRECISION:
            raise ValueError(f"precision must be between 0 and {_MAX_PRECISION}")
        if self.rounding not in _ROUNDING:
            raise ValueError(f"rounding must be one of {', '.join(_ROUNDING)}, got {self.rounding!r}")
        object.__setattr__(self, "_quantum", _QUANTA[self.precision])
        object.__setattr__(self, "_mode", _ROUNDING[self.rounding])

    @classmethod
    def from_rate(cls, rate: Rate, card: RateCardSpec) -> Tariff:
        """Fold ``card.defaults`` under ``rate``: a field set on the rate wins over the default."""
        defaults = card.defaults
        return cls(
            per_minute=rate.per_minute,
            connect_fee=_money(defaults.connect_fee if rate.connect_fee is None else rate.connect_fee),
            minimum_seconds=defaults.minimum_seconds if rate.minimum_seconds is None else rate.minimum_seconds,
            initial_increment=(
                defaults.initial_increment if rate.initial_increment is None else rate.initial_increment
            ),
            subsequent_increment=(
                defaults.subsequent_increment if rate.subsequent_increment is None else rate.subsequent_increment
            ),
            precision=card.precision,
            rounding=card.rounding,
            blocked=rate.blocked,
        )

    def round(self, amount: Decimal) -> Decimal:
        """``amount`` at the card's precision, rounded the card's way."""
        return amount.quantize(self._quantum, rounding=self._mode)


def _money(value: Decimal | int) -> Decimal:
    # RateDefaults.connect_fee defaults to the int 0 (the models skip validating defaults).
    return value if isinstance(value, Decimal) else Decimal(value)


@dataclass(frozen=True, slots=True)
class Charge:
    """The priced call: how many seconds were billed, who pays for them, and the money."""

    billed_seconds: int
    package_seconds: int  # of billed_seconds, covered by a package allowance
    chargeable_seconds: int  # billed_seconds - package_seconds, paid at per_minute
    per_minute: Decimal
    connect_fee: Decimal
    cost: Decimal  # connect_fee + per_minute * chargeable_seconds / 60, rounded once


def billed_seconds(duration_s: int, tariff: Tariff) -> int:
    """Seconds billed for an answered call of ``duration_s`` whole seconds (0 = unanswered)."""
    if duration_s < 0:
        raise ValueError(f"a call cannot last {duration_s} seconds")
    if duration_s == 0:
        return 0
    seconds = max(duration_s, tariff.minimum_seconds)
    first = tariff.initial_increment
    if seconds <= first:
        return first
    step = tariff.subsequent_increment
    return first + -(-(seconds - first) // step) * step


def charge(duration_s: int, tariff: Tariff, *, package_seconds: int = 0) -> Charge:
    """Price one call; ``package_seconds`` is the allowance left, consumed before money."""
    if package_seconds < 0:
        raise ValueError(f"a package allowance cannot be {package_seconds} seconds")
    billed = billed_seconds(duration_s, tariff)
    covered = min(package_seconds, billed)
    chargeable = billed - covered
    fee = tariff.connect_fee if billed else _ZERO
    # One division, one rounding: rounding per minute or per block would drift from the invoice.
    cost = (fee + tariff.per_minute * chargeable / _SIXTY).quantize(tariff._quantum, rounding=tariff._mode)
    return Charge(
        billed_seconds=billed,
        package_seconds=covered,
        chargeable_seconds=chargeable,
        per_minute=tariff.per_minute,
        connect_fee=fee,
        cost=cost,
    )
