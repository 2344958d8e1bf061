"""Billed seconds, package allowance, connect fee and rounding, against hand-computed figures."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rating import charges
from rating.charges import Charge, Tariff
from resources.kinds.ratecard import Rate, RateCardSpec, RateDefaults

D = Decimal


def tariff(increments: str = "1/1", *, minimum: int = 0, **fields: object) -> Tariff:
    first, then = (int(part) for part in increments.split("/"))
    return Tariff(
        per_minute=fields.pop("per_minute", D("0.0125")),  # type: ignore[arg-type]
        minimum_seconds=minimum,
        initial_increment=first,
        subsequent_increment=then,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("increments", "minimum", "duration", "billed"),
    [
        pytest.param("1/1", 0, 1, 1, id="1/1: one second bills one second"),
        pytest.param("1/1", 0, 7, 7, id="1/1: exact seconds"),
        pytest.param("1/1", 0, 3601, 3601, id="1/1: an hour and a second is exact"),
        pytest.param("6/6", 0, 1, 6, id="6/6: 1 s fills the first 6 s block"),
        pytest.param("6/6", 0, 6, 6, id="6/6: exactly one block"),
        pytest.param("6/6", 0, 7, 12, id="6/6: 7 s starts a second block"),
        pytest.param("30/6", 0, 1, 30, id="30/6: 1 s bills the 30 s first block"),
        pytest.param("30/6", 0, 30, 30, id="30/6: 30 s is exactly the first block"),
        pytest.param("30/6", 0, 31, 36, id="30/6: 31 s adds one 6 s block"),
        pytest.param("30/6", 0, 36, 36, id="30/6: 36 s fills that block exactly"),
        pytest.param("30/6", 0, 37, 42, id="30/6: 37 s adds a second 6 s block"),
        pytest.param("60/60", 0, 59, 60, id="60/60: under a minute bills a minute"),
        pytest.param("60/60", 0, 60, 60, id="60/60: a minute is a minute"),
        pytest.param("60/60", 0, 61, 120, id="60/60: 61 s bills two minutes"),
        pytest.param("60/1", 0, 1, 60, id="60/1: 1 s bills the first minute"),
        pytest.param("60/1", 0, 61, 61, id="60/1: per second after the first minute"),
        pytest.param("1/1", 30, 5, 30, id="minimum 30 s lifts a 5 s call"),
        pytest.param("1/1", 30, 31, 31, id="minimum 30 s leaves a longer call alone"),
        pytest.param("30/6", 45, 10, 48, id="minimum 45 s then 30/6 blocks: 30 + 3*6"),
        pytest.param("60/60", 90, 10, 120, id="minimum 90 s then 60/60 blocks: two minutes"),
        pytest.param("30/6", 0, 0, 0, id="unanswered (0 s) bills nothing despite 30 s first block"),
        pytest.param("1/1", 60, 0, 0, id="unanswered (0 s) bills nothing despite a minimum"),
    ],
)
def test_billed_seconds(increments: str, minimum: int, duration: int, billed: int) -> None:
    assert charges.billed_seconds(duration, tariff(increments, minimum=minimum)) == billed


def test_negative_duration_is_refused(per_second: Tariff) -> None:
    with pytest.raises(ValueError, match="cannot last -1 seconds"):
        charges.billed_seconds(-1, per_second)


@pytest.mark.parametrize(
    ("precision", "rounding", "cost"),
    [
        # 0.0125/min * 7 s / 60 = 0.00145833...
        pytest.param(4, "up", D("0.0015"), id="precision 4 up: 0.00145833 -> 0.0015"),
        pytest.param(4, "down", D("0.0014"), id="precision 4 down: 0.00145833 -> 0.0014"),
        pytest.param(4, "nearest", D("0.0015"), id="precision 4 nearest: 0.00145833 -> 0.0015"),
        pytest.param(2, "up", D("0.01"), id="precision 2 up: any fraction of a cent is a cent"),
        pytest.param(2, "down", D("0.00"), id="precision 2 down: under a cent is free"),
        pytest.param(2, "nearest", D("0.00"), id="precision 2 nearest: 0.0015 is under half a cent"),
        pytest.param(6, "nearest", D("0.001458"), id="precision 6 nearest: 0.00145833 -> 0.001458"),
        pytest.param(0, "up", D("1"), id="precision 0 up: whole currency units"),
    ],
)
def test_rounding_seven_seconds(precision: int, rounding: str, cost: Decimal) -> None:
    priced = charges.charge(7, tariff("1/1", precision=precision, rounding=rounding))
    assert priced.cost == cost
    assert priced.cost.as_tuple().exponent == -precision  # kept at the card's precision: 0.00, not 0


@pytest.mark.parametrize(
    ("per_minute", "duration", "precision", "rounding", "cost"),
    [
        # 0.03/min * 5 s / 60 = 0.0025 exactly: the tie goes up for "nearest"
        pytest.param(D("0.03"), 5, 3, "nearest", D("0.003"), id="exact half rounds up (half up, not banker's)"),
        pytest.param(D("0.03"), 5, 3, "down", D("0.002"), id="exact half rounded down"),
        # 0.06/min * 10 s / 60 = 0.01 exactly: no rounding mode may move an exact amount
        pytest.param(D("0.06"), 10, 2, "up", D("0.01"), id="exact amount unchanged by up"),
        pytest.param(D("0.06"), 10, 2, "down", D("0.01"), id="exact amount unchanged by down"),
        # 0.0133/min * 1 s / 60 = 0.000221666...: nearest at 2 is 0.00, at 4 is 0.0002
        pytest.param(D("0.0133"), 1, 4, "nearest", D("0.0002"), id="nearest rounds 0.00022167 down at 4"),
        # 1.25/min for an hour = 75 exactly
        pytest.param(D("1.25"), 3600, 2, "up", D("75.00"), id="an hour at 1.25/min is 75.00"),
    ],
)
def test_rounding_edges(per_minute: Decimal, duration: int, precision: int, rounding: str, cost: Decimal) -> None:
    assert charges.charge(duration, tariff(per_minute=per_minute, precision=precision, rounding=rounding)).cost == cost


@pytest.mark.parametrize(
    ("duration", "package", "expected"),
    [
        pytest.param(
            90,
            0,
            Charge(90, 0, 90, D("0.0125"), D("0.05"), D("0.0688")),
            id="no package: 0.05 + 0.0125*90/60 = 0.06875 -> up 0.0688",
        ),
        pytest.param(
            90,
            60,
            Charge(90, 60, 30, D("0.0125"), D("0.05"), D("0.0563")),
            id="package covers 60 of 90 s: 0.05 + 0.0125*30/60 = 0.05625 -> 0.0563",
        ),
        pytest.param(
            90,
            500,
            Charge(90, 90, 0, D("0.0125"), D("0.05"), D("0.0500")),
            id="package covers the whole call: the connect fee is still charged",
        ),
        pytest.param(
            0,
            500,
            Charge(0, 0, 0, D("0.0125"), D("0"), D("0.0000")),
            id="unanswered: no connect fee, no allowance used",
        ),
        pytest.param(
            7,
            0,
            Charge(7, 0, 7, D("0.0125"), D("0.05"), D("0.0515")),
            id="connect fee added before rounding: 0.05 + 0.00145833 -> 0.0515",
        ),
    ],
)
def test_charge_with_connect_fee_and_package(duration: int, package: int, expected: Charge) -> None:
    assert charges.charge(duration, tariff(connect_fee=D("0.05")), package_seconds=package) == expected


def test_package_consumes_billed_seconds_not_duration() -> None:
    # 61 s at 60/60 bills 120 s; 100 s of allowance covers 100 of them, 20 s are paid: 0.60*20/60 = 0.20
    priced = charges.charge(61, tariff("60/60", per_minute=D("0.60"), precision=2), package_seconds=100)
    assert (priced.billed_seconds, priced.package_seconds, priced.chargeable_seconds) == (120, 100, 20)
    assert priced.cost == D("0.20")


def test_negative_package_is_refused(per_second: Tariff) -> None:
    with pytest.raises(ValueError, match="allowance"):
        charges.charge(10, per_second, package_seconds=-1)


def test_charge_is_decimal_throughout(per_second: Tariff) -> None:
    priced = charges.charge(61, per_second)
    assert all(isinstance(v, Decimal) for v in (priced.cost, priced.connect_fee, priced.per_minute))


CARD = RateCardSpec(
    currency="EUR",
    precision=2,
    rounding="down",
    defaults=RateDefaults(connect_fee=D("0.10"), minimum_seconds=30, initial_increment=60, subsequent_increment=6),
    rates=[],
)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        pytest.param(
            Rate(prefix="44", per_minute=D("0.02")),
            Tariff(D("0.02"), D("0.10"), 30, 60, 6, 2, "down", False),
            id="every default applies when the rate sets nothing",
        ),
        pytest.param(
            Rate(
                prefix="44",
                per_minute=D("0.02"),
                connect_fee=D("0"),
                minimum_seconds=0,
                initial_increment=1,
                subsequent_increment=1,
                blocked=True,
            ),
            Tariff(D("0.02"), D("0"), 0, 1, 1, 2, "down", True),
            id="rate fields override defaults, zero included",
        ),
        pytest.param(
            Rate(prefix="44", per_minute=D("0.02"), subsequent_increment=30),
            Tariff(D("0.02"), D("0.10"), 30, 60, 30, 2, "down", False),
            id="one overridden field, the rest from defaults",
        ),
    ],
)
def test_tariff_from_rate(rate: Rate, expected: Tariff) -> None:
    assert Tariff.from_rate(rate, CARD) == expected


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        pytest.param(
            {"per_minute": 0.5},
            TypeError,
            "perMinute and connectFee must be Decimal, never float",
            id="float price refused",
        ),
        pytest.param(
            {"per_minute": D("-1")},
            ValueError,
            "perMinute and connectFee must not be negative",
            id="negative price refused",
        ),
        pytest.param(
            {"per_minute": D(1), "initial_increment": 0},
            ValueError,
            "increments must be at least 1 second",
            id="zero increment refused",
        ),
        pytest.param(
            {"per_minute": D(1), "precision": 11},
            ValueError,
            "precision must be between 0 and 10",
            id="precision above 10 refused",
        ),
        pytest.param(
            {"per_minute": D(1), "rounding": "bankers"},
            ValueError,
            r"rounding must be one of .*, got 'bankers'",
            id="unknown rounding refused",
        ),
    ],
)
def test_tariff_guards(fields: dict[str, object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        Tariff(**fields)  # type: ignore[arg-type]


def test_blocked_is_carried_not_enforced() -> None:
    # Rejecting a CDR on a blocked prefix is the rater's decision; the price is still computable.
    priced = charges.charge(60, Tariff(D("1"), blocked=True))
    assert priced.cost == D("1.0000")


@given(
    duration=st.integers(1, 100_000),
    minimum=st.integers(0, 600),
    first=st.integers(1, 600),
    then=st.integers(1, 600),
)
def test_billed_seconds_invariants(duration: int, minimum: int, first: int, then: int) -> None:
    billed = charges.billed_seconds(duration, tariff(f"{first}/{then}", minimum=minimum))
    floor = max(duration, minimum)
    assert billed >= floor  # never under-bills
    if billed > first:
        assert (billed - first) % then == 0  # whole blocks only
        assert billed - floor < then  # and never a block more than needed
    else:
        assert billed == first


@given(
    duration=st.integers(0, 10_000),
    per_minute=st.decimals(min_value=0, max_value=100, places=6),
    precision=st.integers(0, 10),
)
def test_rounding_modes_bracket_the_exact_cost(duration: int, per_minute: Decimal, precision: int) -> None:
    costs = {
        mode: charges.charge(duration, tariff(per_minute=per_minute, precision=precision, rounding=mode)).cost
        for mode in ("up", "down", "nearest")
    }
    exact = per_minute * duration / 60
    quantum = Decimal(1).scaleb(-precision)
    assert costs["down"] <= exact <= costs["up"]
    assert costs["down"] <= costs["nearest"] <= costs["up"]
    assert costs["up"] - costs["down"] <= quantum
