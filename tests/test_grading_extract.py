"""Extraction of the final answer from completions."""

import time

import pytest
from grading_cases import EXTRACTIONS

from reasoning.grading import extract_answer
from reasoning.grading.extract import unbox


@pytest.mark.parametrize("completion, expected", EXTRACTIONS)
def test_extract_answer(completion, expected):
    assert extract_answer(completion) == expected


def test_table_has_at_least_forty_cases():
    assert len(EXTRACTIONS) >= 40


def test_last_number_fallback_can_be_turned_off():
    assert extract_answer("so we get 12 apples", last_number=False) is None
    assert extract_answer(r"so \boxed{12}", last_number=False) == "12"


def test_unbox_strips_only_a_box_that_wraps_the_whole_answer():
    assert unbox(r" \boxed{ \boxed{x} } ") == "x"
    assert unbox(r"\boxed{a}+\boxed{b}") == r"\boxed{a}+\boxed{b}"
    assert unbox("5") == "5"


@pytest.mark.parametrize(
    "completion",
    [
        r"\boxed{" * 150_000,
        r"\boxed{}" * 120_000,
        r"\boxed" * 150_000,
        "{" * 1_000_000,
        "1," * 500_000,
        "The answer is $" * 70_000,
        "</think>" * 100_000,
    ],
    ids=["open boxes", "empty boxes", "bare boxes", "braces", "numbers", "stated", "think tags"],
)
def test_a_megabyte_of_hostile_text_extracts_in_linear_time(completion):
    start = time.monotonic()
    extract_answer(completion)
    assert time.monotonic() - start < 10.0  # linear: under 0.3 s; quadratic: hours (loose, so a busy machine never flakes)
