from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from service.domain.errors import InvalidValueError
from service.domain.intervals import Interval
from service.domain.units import (
    SI_EXPONENTS,
    energy_kwh,
    extended_price,
    plain,
    price_from_kwh,
    price_per_kwh,
    rate_kw,
    si_multiplier,
    to_scale,
)


def hours(n) -> Interval:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return Interval(start, start + timedelta(hours=n))


# --- SI scale codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "multiplier"),
    [("p", "0.000000000001"), ("n", "0.000000001"), ("micro", "0.000001"), ("m", "0.001"),
     ("c", "0.01"), ("d", "0.1"), ("none", "1"), ("k", "1000"), ("M", "1000000"),
     ("G", "1000000000"), ("T", "1000000000000")],
)
def test_each_si_scale_code_of_the_schema_has_its_multiplier(code, multiplier):
    assert si_multiplier(code) == Decimal(multiplier)
    assert format(si_multiplier(code), "f") == multiplier


def test_the_codes_are_exactly_those_of_siscale_xsd():
    assert set(SI_EXPONENTS) == {"p", "n", "micro", "m", "c", "d", "k", "M", "G", "T", "none"}


def test_surrounding_whitespace_around_a_scale_code_is_ignored():
    assert si_multiplier(" k\n") == 1000


def test_milli_and_mega_are_told_apart_by_case():
    assert si_multiplier("m") == Decimal("0.001")
    assert si_multiplier("M") == 1_000_000


@pytest.mark.parametrize("code", ["K", "kilo", "u", "µ", "", "None", "da", "h", None])
def test_an_unknown_scale_code_is_refused_with_the_valid_codes(code):
    with pytest.raises(InvalidValueError, match="Unknown SI scale code") as refused:
        si_multiplier(code)
    assert "micro" in refused.value.description


# --- rates --------------------------------------------------------------------------


def test_a_rate_in_kilowatts_stays_as_it_is():
    assert rate_kw(Decimal("10"), "W", "k") == Decimal("10")


def test_megawatts_are_a_thousand_kilowatts():
    assert rate_kw(Decimal("2"), "W", "M") == Decimal("2000")
    assert str(rate_kw(Decimal("2"), "W", "M")) == "2000"


def test_joules_per_second_are_watts():
    assert rate_kw(Decimal("2.5"), "J/s", "M") == rate_kw(Decimal("2.5"), "W", "M") == Decimal("2500")


def test_watts_become_a_fraction_of_a_kilowatt_without_exponent_noise():
    assert str(rate_kw(Decimal("500"), "W", "none")) == "0.5"
    assert str(rate_kw(Decimal("1"), "W", "m")) == "0.000001"


def test_an_integer_quantity_is_accepted():
    assert rate_kw(3, "W", "G") == Decimal("3000000")


@pytest.mark.parametrize("units", ["kW", "Wh", "VA", "VAR", "w", "", "J"])
def test_units_other_than_watts_are_refused_for_real_power(units):
    with pytest.raises(InvalidValueError, match="'W' or 'J/s'"):
        rate_kw(Decimal(1), units, "k")


def test_a_quantity_with_more_digits_than_the_context_is_refused_rather_than_rounded():
    with pytest.raises(InvalidValueError, match="significant digits"):
        rate_kw(Decimal("1." + "1" * 60), "W", "k")


@pytest.mark.parametrize("quantity", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_a_quantity_that_is_not_a_finite_number_is_refused(quantity):
    with pytest.raises(InvalidValueError, match="finite"):
        rate_kw(quantity, "W", "k")


def test_a_float_is_a_programming_error_not_a_quantity():
    with pytest.raises(TypeError):
        rate_kw(0.1, "W", "k")


@pytest.mark.parametrize("code", list(SI_EXPONENTS))
def test_a_rate_converted_back_to_the_partys_scale_is_the_quantity_it_gave(code):
    quantity = Decimal("12.34")
    assert to_scale(rate_kw(quantity, "W", code), code) == quantity


def test_a_remaining_rate_renders_in_the_partys_scale_without_exponent_noise():
    assert str(to_scale(Decimal("500"), "M")) == "0.5"
    assert str(to_scale(Decimal("5"), "none")) == "5000"
    assert str(to_scale(Decimal("1500.000"), "k")) == "1500"


# --- prices -------------------------------------------------------------------------


def test_80_per_megawatt_hour_is_8_cents_per_kilowatt_hour():
    assert price_per_kwh(Decimal("80"), "M") == Decimal("0.08")
    assert str(price_per_kwh(Decimal("80"), "M")) == "0.08"


def test_a_price_per_kilowatt_hour_stays_as_it_is():
    assert price_per_kwh(Decimal("0.05"), "k") == Decimal("0.05")


def test_a_price_per_watt_hour_is_a_thousand_times_the_price_per_kilowatt_hour():
    assert price_per_kwh(Decimal("0.0001"), "none") == Decimal("0.1")


@pytest.mark.parametrize("code", list(SI_EXPONENTS))
def test_a_price_per_kilowatt_hour_converts_back_to_the_partys_scale(code):
    price = Decimal("81.25")
    assert price_from_kwh(price_per_kwh(price, code), code) == price


def test_8_cents_per_kilowatt_hour_is_80_per_megawatt_hour():
    assert str(price_from_kwh(Decimal("0.08"), "M")) == "80"


def test_a_price_with_an_unknown_scale_is_refused():
    with pytest.raises(InvalidValueError):
        price_per_kwh(Decimal("80"), "MWh")


# --- energy and extended price --------------------------------------------------------


def test_the_energy_of_a_rate_is_rate_times_hours():
    assert energy_kwh(Decimal("2000"), hours(2)) == Decimal("4000")
    quarter_hour = Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 15, tzinfo=UTC))
    assert energy_kwh(Decimal("-1.5"), quarter_hour) == Decimal("-0.375")


def test_the_energy_of_five_minutes_rounds_only_at_the_fiftieth_digit():
    five_minutes = Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert energy_kwh(Decimal(1), five_minutes) == Decimal("0.08" + "3" * 49)
    assert energy_kwh(Decimal(12), five_minutes) == 1


def test_80_per_megawatt_hour_for_1_megawatt_over_2_hours_costs_160():
    energy = energy_kwh(rate_kw(Decimal(1), "W", "M"), hours(2))
    assert extended_price(price_per_kwh(Decimal(80), "M"), energy) == Decimal("160")


def test_large_quantities_multiply_exactly():
    rate = Decimal("12345678901234567890.123456789")
    assert energy_kwh(rate, hours(1)) == rate
    assert extended_price(Decimal("0.123456789"), rate) == Decimal("1524157875171467887.517146788750190521")


def test_plain_numbers_carry_no_exponent_and_no_trailing_zeros():
    assert str(plain(Decimal("5E-1"))) == "0.5"
    assert str(plain(Decimal("2E+3"))) == "2000"
    assert str(plain(Decimal("1.500"))) == "1.5"
    assert str(plain(Decimal("-0.000"))) == "0"
