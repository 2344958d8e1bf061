"""Longest-prefix match, effective-dated rates and blocked prefixes in ``PrefixIndex``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rating import RatingError
from rating.prefixes import PrefixIndex
from resources.kinds.ratecard import Rate, RateCardSpec

D = Decimal
SWITCH = datetime(2026, 7, 1, tzinfo=UTC)  # the moment UK mobile prices change in CARD
BEFORE = SWITCH - timedelta(microseconds=1)
AFTER = SWITCH + timedelta(days=1)

CARD = RateCardSpec.model_validate(
    {
        "currency": "EUR",
        "rates": [
            {"prefix": "44", "name": "UK", "perMinute": "0.0100"},
            {"prefix": "447", "name": "UK Mobile", "perMinute": "0.0300"},
            {"prefix": "447", "name": "UK Mobile", "perMinute": "0.0250", "effectiveFrom": "2026-07-01T00:00:00Z"},
            {"prefix": "4477", "name": "UK Mobile premium", "perMinute": "0.5000"},
            {"prefix": "449", "name": "UK premium", "perMinute": "1", "blocked": True},
            {"prefix": "33", "name": "France", "perMinute": "0.0090", "effectiveFrom": "2026-01-01"},
            {"prefix": "336", "name": "France Mobile", "perMinute": "0.0200", "effectiveFrom": "2026-09-01"},
        ],
    }
)


@pytest.fixture(scope="module")
def index() -> PrefixIndex:
    return PrefixIndex.from_card(CARD)


@pytest.mark.parametrize(
    ("number", "at", "prefix", "per_minute"),
    [
        pytest.param("441234567", AFTER, "44", D("0.0100"), id="only 44 matches a UK landline"),
        pytest.param("447123456789", AFTER, "447", D("0.0250"), id="447 beats 44"),
        pytest.param("447712345678", AFTER, "4477", D("0.5000"), id="4477 beats 447 and 44"),
        pytest.param("+447712345678", AFTER, "4477", D("0.5000"), id="a leading + is ignored"),
        pytest.param("4477", AFTER, "4477", D("0.5000"), id="a number equal to the prefix matches it"),
        pytest.param("447123456789", BEFORE, "447", D("0.0300"), id="a microsecond before the switch: old price"),
        pytest.param("447123456789", SWITCH, "447", D("0.0250"), id="exactly at the switch: new price"),
        pytest.param(
            "447123456789",
            datetime(2026, 7, 1, 2, 0, tzinfo=timezone(timedelta(hours=2))),
            "447",
            D("0.0250"),
            id="the switch in another timezone is the same instant",
        ),
        pytest.param("447123456789", datetime(1990, 1, 1, tzinfo=UTC), "447", D("0.0300"), id="undated is always on"),
        pytest.param(
            "33612345678",
            datetime(2026, 8, 31, tzinfo=UTC),
            "33",
            D("0.0090"),
            id="336 not effective yet: falls back to 33",
        ),
        pytest.param(
            "33612345678", datetime(2026, 9, 1, tzinfo=UTC), "336", D("0.0200"), id="336 effective from its start"
        ),
    ],
)
def test_lookup(index: PrefixIndex, number: str, at: datetime, prefix: str, per_minute: Decimal) -> None:
    match = index.lookup(number, at)
    assert match is not None
    assert (match.prefix, match.tariff.per_minute, match.blocked) == (prefix, per_minute, False)


@pytest.mark.parametrize(
    ("number", "at"),
    [
        pytest.param("12125551234", AFTER, id="no prefix of the number is on the card"),
        pytest.param("33112345678", datetime(2025, 12, 31, tzinfo=UTC), id="the only prefix is not effective yet"),
        pytest.param("", AFTER, id="empty number"),
        pytest.param("4", AFTER, id="shorter than every prefix"),
    ],
)
def test_no_match(index: PrefixIndex, number: str, at: datetime) -> None:
    assert index.lookup(number, at) is None


def test_blocked_prefix_is_reported_as_blocked(index: PrefixIndex) -> None:
    match = index.lookup("449012345", AFTER)
    assert match is not None
    assert (match.prefix, match.name, match.blocked) == ("449", "UK premium", True)


def test_match_carries_name_and_effective_date(index: PrefixIndex) -> None:
    match = index.lookup("447123456789", AFTER)
    assert match is not None
    assert (match.name, match.effective_from) == ("UK Mobile", SWITCH)


def test_many_versions_of_one_prefix_pick_the_latest_started() -> None:
    # Given out of order on purpose: the index sorts them.
    starts = [datetime(2026, month, 1, tzinfo=UTC) for month in (5, 1, 9, 3)]
    card = RateCardSpec(
        currency="EUR",
        rates=[Rate(prefix="1", per_minute=D(start.month), effective_from=start) for start in starts],
    )
    index = PrefixIndex.from_card(card)
    cases = {
        datetime(2025, 12, 31, tzinfo=UTC): None,
        datetime(2026, 1, 1, tzinfo=UTC): D(1),
        datetime(2026, 4, 30, tzinfo=UTC): D(3),
        datetime(2026, 5, 1, tzinfo=UTC): D(5),
        datetime(2027, 1, 1, tzinfo=UTC): D(9),
    }
    for at, price in cases.items():
        match = index.lookup("1555", at)
        assert (match.tariff.per_minute if match else None) == price, at


def test_two_rates_for_the_same_prefix_and_start_are_refused() -> None:
    card = RateCardSpec(currency="EUR", rates=[Rate(prefix="1", per_minute=D(1)), Rate(prefix="1", per_minute=D(2))])
    with pytest.raises(RatingError, match="prefix 1 has two rates effective always"):
        PrefixIndex.from_card(card)


def test_unresolved_deck_is_refused() -> None:
    card = RateCardSpec.model_validate({"currency": "EUR", "ratesFrom": {"csv": "deck.csv"}})
    with pytest.raises(RatingError, match="ratesFrom deck has not been loaded"):
        PrefixIndex.from_card(card)


def test_naive_time_is_refused(index: PrefixIndex) -> None:
    with pytest.raises(ValueError, match="naive"):
        index.lookup("44", datetime(2026, 1, 1))


def test_card_defaults_reach_the_tariff() -> None:
    card = RateCardSpec.model_validate(
        {
            "currency": "EUR",
            "precision": 2,
            "rounding": "nearest",
            "defaults": {"connectFee": "0.01", "initialIncrement": 30, "subsequentIncrement": 6},
            "rates": [{"prefix": "49", "perMinute": "0.02", "subsequentIncrement": 1}],
        }
    )
    match = PrefixIndex.from_card(card).lookup("4930123", AFTER)
    assert match is not None
    tariff = match.tariff
    assert (tariff.connect_fee, tariff.initial_increment, tariff.subsequent_increment) == (D("0.01"), 30, 1)
    assert (tariff.precision, tariff.rounding) == (2, "nearest")


def test_100k_rates_build_and_answer() -> None:
    # Functional only: never assert wall-clock time. Prefixes 1000000..1099999 (7 digits), plus "1".
    card = RateCardSpec(currency="USD", rates=[Rate(prefix="1", per_minute=D("0.5"))])
    rates = [Rate(prefix=str(1_000_000 + i), per_minute=D(i) / 10_000) for i in range(100_000)]
    index = PrefixIndex.from_rates([*card.rates, *rates], card)  # type: ignore[misc]
    assert len(index) == 100_001
    for i in (0, 1, 54_321, 99_999):
        match = index.lookup(f"{1_000_000 + i}4567", AFTER)
        assert match is not None
        assert (match.prefix, match.tariff.per_minute) == (str(1_000_000 + i), D(i) / 10_000)
    fallback = index.lookup("12125551234", AFTER)
    assert fallback is not None and fallback.prefix == "1"
