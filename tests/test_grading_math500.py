"""Every MATH-500 reference answer grades equal to its solution's box and to its rewrite."""

import json
from pathlib import Path

import pytest
from grading_cases import rewrite

from reasoning.grading import extract_answer, grade, grade_many

DATA = Path(__file__).parents[1].parent / "shared/data/math500_test.json"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is not present")


@pytest.fixture(scope="module")
def problems():
    return json.loads(DATA.read_text())


def test_every_answer_grades_equal_to_the_box_of_its_solution(problems):
    pairs = [(extract_answer(p["solution"]), p["answer"]) for p in problems]
    results = grade_many(pairs)
    failures = [(pair, r) for pair, r in zip(pairs, results) if not r]
    assert len(results) == 500 and not failures


def test_every_answer_grades_equal_to_itself(problems):
    results = grade_many([(p["answer"], p["answer"]) for p in problems])
    assert all(results)


def test_every_answer_grades_equal_to_a_rewrite_through_the_full_comparison(problems):
    pairs = [(rewrite(p["answer"]), p["answer"]) for p in problems]
    results = grade_many(pairs)
    failures = [(pair, r) for pair, r in zip(pairs, results) if not r]
    assert not failures
    assert sum(r.method != "string" for r in results) >= 450


def test_an_earlier_box_in_another_form_also_grades_equal():
    assert grade(r"15\frac{39}{40}", r"\frac{639}{40}")
