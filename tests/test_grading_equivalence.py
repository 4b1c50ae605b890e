"""The equivalence table, and what a grade result reports."""

from collections import defaultdict

import pytest
from grading_cases import EQUIVALENCES

from reasoning.grading import GradeResult, grade, grade_many


@pytest.mark.parametrize(
    "form, pred, gold, expected", EQUIVALENCES, ids=[f"{row[0]}-{k}" for k, row in enumerate(EQUIVALENCES)]
)
def test_equivalence_table(form, pred, gold, expected):
    result = grade(pred, gold)
    assert bool(result) is expected, result


def test_table_covers_every_form_both_ways():
    assert len(EQUIVALENCES) >= 150
    outcomes = defaultdict(set)
    for form, _, _, expected in EQUIVALENCES:
        outcomes[form].add(expected)
    one_sided = [form for form, seen in outcomes.items() if seen != {True, False} and form != "structure"]
    assert not one_sided


def test_a_result_says_how_and_why():
    wrong = grade("0.333", r"\frac{1}{3}")
    assert isinstance(wrong, GradeResult) and not wrong
    assert (wrong.method, wrong.pred, wrong.gold) == ("numeric", "333/1000", "1/3")
    assert "0.333" in wrong.reason
    right = grade(r"\dfrac{2}{4}", "0.5")
    assert right and right.reason == "" and right.method == "numeric"
    assert grade(r"\dfrac{1}{2}", r"\frac{1}{2}").method == "string"


def test_no_answer_is_incorrect_with_a_reason():
    result = grade(None, "5")
    assert not result and result.method == "none" and result.reason


def test_relative_tolerance_is_a_parameter():
    assert not grade("0.3333", r"\frac13")
    assert grade("0.3333", r"\frac13", rel_tol=1e-3)


def test_grade_many_keeps_order_and_agrees_with_grade():
    pairs = [(pred, gold) for _, pred, gold, _ in EQUIVALENCES[:60]]
    one = [grade(pred, gold) for pred, gold in pairs]
    assert grade_many(pairs, processes=2) == one
    assert grade_many(pairs, processes=1) == one
    assert grade_many([]) == []
