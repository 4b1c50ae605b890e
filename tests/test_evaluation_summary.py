"""The summary of a task's records: every figure, and the printed table, checked against
numbers worked by hand."""

from __future__ import annotations

import pytest

from reasoning.evaluation.summary import format_duration, format_summaries, problem_score, problem_tokens, summarize


def record(correct, groups, *, tokens=None, finish=None, extracted="x", subject=None, level=None, id="p", answer=None, total=None):
    n = len(correct)
    built = {
        "id": id, "index": 0, "subject": subject, "level": level, "groups": groups, "seconds": 1.5,
        "samples": [
            {"correct": c, "extracted": None if g is None else extracted, "tokens": (tokens or [10] * n)[k],
             "finish_reason": (finish or ["eos"] * n)[k]}
            for k, (c, g) in enumerate(zip(correct, groups))
        ],
    }  # fmt: skip
    if answer is not None:
        built["answer"] = {"sample": 0, "correct": answer}
    if total is not None:
        built["tokens"] = total
    return built


def test_summary_figures_by_hand():
    records = [
        # 4 samples: 2 right (group 0), 1 wrong (group 1), no answer; maj@2: 0 vs 1 tie -> first (right)
        record([True, False, True, False], [0, 1, 0, None], tokens=[10, 20, 30, 40], finish=["eos", "length", "eos", "eos"],
               subject="algebra", level=1, id="a"),
        # all wrong, one group
        record([False] * 4, [0, 0, 0, 0], subject="algebra", level=2, id="b"),
        # one right of 4; the wrong ones agree: maj@4 wrong, maj@2 wrong (sample 0 wrong, 1 right: tie -> first)
        record([False, True, False, False], [0, 1, 0, 0], subject="geometry", level=10, id="c"),
    ]  # fmt: skip
    s = summarize(records)
    assert s["problems"] == 3 and s["samples"] == 4
    rates = [0.5, 0.0, 0.25]
    assert s["pass@1"] == pytest.approx(0.25)
    mean = 0.25
    stderr = (sum((r - mean) ** 2 for r in rates) / 2) ** 0.5 / 3**0.5
    assert s["pass@1_stderr"] == pytest.approx(stderr)
    assert s["accuracy"] == s["pass@1"] and s["accuracy_stderr"] == s["pass@1_stderr"] and s["answers"] == 0
    # pass@2: 1 - C(n-c,2)/C(4,2): c=2 -> 1 - 1/6; c=0 -> 0; c=1 -> 1 - 3/6
    assert s["pass@2"] == pytest.approx(((1 - 1 / 6) + 0 + 0.5) / 3)
    assert s["pass@4"] == pytest.approx((1 + 0 + 1) / 3)
    assert s["maj@2"] == pytest.approx((1 + 0 + 0) / 3)
    assert s["maj@4"] == pytest.approx((1 + 0 + 0) / 3)
    assert s["mean_tokens"] == pytest.approx((100 + 40 + 40) / 12)
    assert s["tokens_per_problem"] == pytest.approx((100 + 40 + 40) / 3)
    assert s["truncated"] == pytest.approx(1 / 12) and s["no_answer"] == pytest.approx(1 / 12)
    assert s["seconds"] == pytest.approx(4.5)
    assert s["by_subject"]["algebra"]["pass@1"] == pytest.approx(0.25) and s["by_subject"]["algebra"]["problems"] == 2
    assert s["by_subject"]["geometry"]["maj@4"] == 0.0
    assert list(s["by_level"]) == ["1", "2", "10"]  # levels in numeric order
    table = format_summaries({"gsm8k": s}).splitlines()
    assert table[0].split() == ["benchmark", "problems", "n", "pass@1", "pass@2", "pass@4", "maj@2", "maj@4", "tokens", "truncated", "time"]
    # pass@1 25.0 ± 14.4 (stderr 0.25 / sqrt 3), pass@2 44.4, pass@4 66.7, maj 33.3, 15 tokens, 1 of 12 truncated
    assert table[1].split() == ["gsm8k", "3", "4", "25.0%", "±", "14.4", "44.4%", "66.7%", "33.3%", "33.3%", "15", "8.3%", "4.5", "s"]
    by_subject = table[table.index("gsm8k by subject (pass@1)") + 1 :][:2]
    assert [line.split() for line in by_subject] == [["algebra", "2", "25.0%", "±", "25.0"], ["geometry", "1", "25.0%", "±", "0.0"]]


def test_one_sample_reports_pass1_only():
    s = summarize([record([True], [0], id="a"), record([False], [0], id="b")])
    assert s["pass@1"] == 0.5 and not any(key.startswith(("pass@2", "maj@")) for key in s)


def test_a_strategys_answers_give_the_accuracy_and_its_column():
    """Self-consistency-like records: 5 of 9 samples right, the chosen answer right on two problems of three."""
    records = [
        record([True, True, False], [0, 0, 1], answer=True, total=100, id="a", subject="algebra"),
        record([False, True, True], [0, 1, 1], answer=True, total=50, id="b", subject="algebra"),
        record([True, False, False], [0, 1, 1], answer=False, total=30, id="c", subject="geometry"),
    ]
    s = summarize(records)
    assert s["accuracy"] == pytest.approx(2 / 3) and s["pass@1"] == pytest.approx(5 / 9) and s["answers"] == 3
    assert s["accuracy_stderr"] == pytest.approx((((1 / 3) ** 2 * 2 + (2 / 3) ** 2) / 2) ** 0.5 / 3**0.5)
    assert s["tokens_per_problem"] == pytest.approx(60) and s["mean_tokens"] == 10
    assert [problem_score(r) for r in records] == [1.0, 1.0, 0.0] and [problem_tokens(r) for r in records] == [100, 50, 30]
    table = format_summaries({"math500": s}).splitlines()
    assert table[0].split()[:5] == ["benchmark", "problems", "n", "accuracy", "pass@1"]
    assert table[1].split()[:9] == ["math500", "3", "3", "66.7%", "±", "33.3", "55.6%", "±", "11.1"]
    assert table[table.index("math500 by subject (accuracy)") + 1].split() == ["algebra", "2", "100.0%", "±", "0.0"]
    assert table[-1] == "accuracy: the share of problems whose answer, chosen by the strategy, is correct"


def test_nothing_to_summarize_is_an_error():
    with pytest.raises(ValueError, match="nothing to summarize"):
        summarize([])


@pytest.mark.parametrize(("seconds", "text"), [(12.34, "12.3 s"), (270, "4.5 min"), (4320, "72.0 min"), (7200, "2.0 h")])
def test_durations_read_in_the_unit_that_fits(seconds, text):
    assert format_duration(seconds) == text
