"""Units and word multipliers split from the end of an answer."""

import pytest

from reasoning.grading.normalize import clean_with_unit
from reasoning.grading.units import split_unit


@pytest.mark.parametrize(
    "answer, value, unit",
    [
        ("5 km", "5", "km"),
        ("5km", "5", "km"),
        (r"5\text{ kilometers}", "5", "km"),
        (r"2\text{ m}^2", "2", "m^2"),
        (r"864 \text{ square inches}", "864", "in^2"),
        ("15 cm^2", "15", "cm^2"),
        ("3 thousand", "3000", ""),
        ("2.5005 thousand", "2500.5", ""),
        ("3 thousand square feet", "3000", "ft^2"),
        (r"7 \text{ apples}", "7", ""),
        ("5 m", "5 m", ""),  # a bare letter is more likely a variable than metres
        ("x^2", "x^2", ""),
        (r"\text{Evelyn}", r"\text{Evelyn}", ""),
    ],
)
def test_split_unit(answer, value, unit):
    assert split_unit(answer) == (value, unit)


def test_a_multiplier_keeps_every_digit_of_a_long_number():
    assert split_unit("1" * 40 + ".5 million")[0] == "1" * 40 + "500000"


@pytest.mark.parametrize(
    "answer, cleaned, unit",
    [
        (r"5^{\text{th}} place", "5", ""),
        (r"3.5\textnormal{ meters}", "3.5", "m"),
        (r"12 \mbox{cm}", "12", "cm"),
        (r"\frac{1,000}{3}", r"\frac{1000}{3}", ""),
        (r"\beginbmatrix 1 \\ 2 \endbmatrix", r"\begin{bmatrix}1 \\ 2 \end{bmatrix}", ""),
    ],
)
def test_clean_with_unit(answer, cleaned, unit):
    assert clean_with_unit(answer) == (cleaned, unit)
