"""The summary of a task's records: every figure, and the printed table, checked against
numbers worked by hand."""

from __future__ import annotations

import statistics

import pytest

from reasoning.evaluation.summary import format_duration, format_summaries, problem_score, problem_tokens, summarize


def record(correct, groups, *, tokens=None, finish=None, extracted="x", subject=None, level=None, id="p", answer=None, total=None):
    n = len(correct)
    built = {
        "id": id, "index": 0, "subject": subject, "level": level, "groups": groups, "seconds": 1.5,
        "samples": [
            {"text": "", "correct": c, "extracted": None if g is None else extracted, "tokens": (tokens or [10] * n)[k],
             "finish_reason": (finish or ["eos"] * n)[k]}
            for k, (c, g) in enumerate(zip(correct, groups))
        ],
    }  # fmt: skip
    if answer is not None:
        built["answer"] = {"sample": 0, "correct": answer}
    if total is not None:
        built["tokens"] = total
    return built


def stderr_of(values):
    """The standard error of a mean over problems: the sample standard deviation / sqrt(problems)."""
    return statistics.stdev(values) / len(values) ** 0.5


def test_summary_figures_by_hand():
    records = [
        # 4 samples: 2 right (group 0), 1 wrong (group 1), no answer
        record([True, False, True, False], [0, 1, 0, None], tokens=[10, 20, 30, 40], finish=["eos", "length", "eos", "eos"],
               subject="algebra", level=1, id="a"),
        # all wrong, one group
        record([False] * 4, [0, 0, 0, 0], subject="algebra", level=2, id="b"),
        # one right of 4; the wrong ones agree: maj@4 wrong
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
    # maj@2 over the 6 pairs of each problem; a tie of two groups scores the share of them that is right
    # a: {0,1} tie 1/2, {0,2} 1, {0,3} 1 (no answer, no vote), {1,2} tie 1/2, {1,3} 0, {2,3} 1 -> 4/6
    # c: {0,1} 1/2, {1,2} 1/2, {1,3} 1/2, the other three 0 -> 1.5/6
    maj2 = [4 / 6, 0.0, 1.5 / 6]
    assert s["maj@2"] == pytest.approx(sum(maj2) / 3) and s["maj@2_stderr"] == pytest.approx(stderr_of(maj2))
    assert s["maj@4"] == pytest.approx((1 + 0 + 0) / 3) and s["maj@4_stderr"] == pytest.approx(stderr_of([1, 0, 0]))
    pass2 = [1 - 1 / 6, 0.0, 0.5]
    assert s["pass@2_stderr"] == pytest.approx(stderr_of(pass2)) and s["pass@4_stderr"] == pytest.approx(stderr_of([1, 0, 1]))
    # G-Pass@2 needs ceil(tau * 2) of 2 right: tau 0.25 and 0.5 -> one (pass@2), 0.75 and 1 -> both: a 1/6, b 0, c 0
    assert s["g-pass@2_0.25"] == s["g-pass@2_0.5"] == pytest.approx(sum(pass2) / 3)
    assert s["g-pass@2_0.75"] == s["g-pass@2_1.0"] == pytest.approx(1 / 18) and s["g-pass@2_1.0_stderr"] == pytest.approx(1 / 18)
    assert s["g-pass@2_0.0"] == pytest.approx(s["pass@2"])  # at least one right: pass@k
    assert s["mg-pass@2"] == pytest.approx(1 / 18)  # (2 / 2) * G-Pass@2 with 2 right
    assert s["g-pass@4_0.5"] == pytest.approx(1 / 3) and s["g-pass@4_0.75"] == 0.0 and s["mg-pass@4"] == 0.0
    # lengths over the 12 samples: nine of 10, then 20, 30, 40; p90 at rank 0.9 * 11 = 9.9: 20 + 0.9 * 10
    assert s["tokens_median"] == 10 and s["tokens_p90"] == pytest.approx(29)
    assert s["tokens_correct"] == pytest.approx((10 + 30 + 10) / 3) and s["tokens_wrong"] == pytest.approx((180 - 50) / 9)
    assert s["mean_tokens"] == pytest.approx((100 + 40 + 40) / 12)
    assert s["tokens_per_problem"] == pytest.approx((100 + 40 + 40) / 3)
    assert s["truncated"] == pytest.approx(1 / 12) and s["no_answer"] == pytest.approx(1 / 12)
    assert s["seconds"] == pytest.approx(4.5)
    assert s["by_subject"]["algebra"]["pass@1"] == pytest.approx(0.25) and s["by_subject"]["algebra"]["problems"] == 2
    assert s["by_subject"]["geometry"]["maj@4"] == 0.0 and s["by_subject"]["algebra"]["maj@2"] == pytest.approx(2 / 6)
    assert list(s["by_level"]) == ["1", "2", "10"]  # levels in numeric order
    table = format_summaries({"gsm8k": s}).splitlines()
    assert table[0].split() == ["benchmark", "problems", "n", "pass@1", "tokens", "truncated", "unfinished", "time"]
    # pass@1 25.0 ± 14.4 (stderr 0.25 / sqrt 3), 15 tokens, 1 of 12 truncated
    assert table[1].split() == ["gsm8k", "3", "4", "25.0%", "±", "14.4", "15", "8.3%", f"{s['unfinished']:.1%}", "4.5", "s"]
    by_k = table.index(
        "benchmark        k         pass@k          maj@k g-pass@k_0.25  g-pass@k_0.5 g-pass@k_0.75  g-pass@k_1.0  mg-pass@k"
    )
    # k = 2: pass@2 44.4 ± 24.2, maj@2 11/36 ± 19.4, G-Pass@2 at 0.25, 0.5 (pass@2), 0.75, 1 (1/18), mG-Pass@2 1/18
    assert table[by_k + 1].split() == ["gsm8k", "2", "44.4%", "±", "24.2", "30.6%", "±", "19.4", "44.4%", "44.4%", "5.6%", "5.6%", "5.6%"]
    assert table[by_k + 2].split() == ["gsm8k", "4", "66.7%", "±", "33.3", "33.3%", "±", "33.3", "66.7%", "33.3%", "0.0%", "0.0%", "0.0%"]
    lengths = table.index(f"{'benchmark':<14} {'tokens':>8} {'median':>8} {'p90':>8} {'correct':>8} {'wrong':>8}")
    assert table[lengths + 1].split() == ["gsm8k", "15", "10", "29", "17", "14"]  # mean, median, p90, correct 50/3, wrong 130/9
    by_subject = table[table.index("gsm8k by subject (pass@1)") + 1 :][:2]
    assert [line.split() for line in by_subject] == [["algebra", "2", "25.0%", "±", "25.0"], ["geometry", "1", "25.0%", "±", "0.0"]]


def test_one_sample_reports_pass1_only():
    s = summarize([record([True], [0], id="a"), record([False], [0], id="b")])
    assert s["pass@1"] == 0.5 and not any(key.startswith(("pass@2", "maj@", "g-pass@", "mg-pass@")) for key in s)
    table = format_summaries({"gsm8k": s})
    assert "maj@k" not in table and "g-pass" not in table  # no figures by k for one sample
    assert s["tokens_correct"] == s["tokens_wrong"] == 10


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


def test_lengths_of_correct_or_wrong_samples_are_none_where_there_are_none():
    s = summarize([record([False, False], [0, 0], tokens=[7, 9], id="a")])
    assert s["tokens_correct"] is None and s["tokens_wrong"] == 8 and s["tokens_median"] == 8
    row = [line for line in format_summaries({"gsm8k": s}).splitlines() if line.startswith("gsm8k ")][-1]
    assert row.split() == ["gsm8k", "8", "8", "9", "-", "8"]  # mean, median, p90 (7 + 0.9 * 2 = 8.8), correct, wrong
