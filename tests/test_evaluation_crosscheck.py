"""`eval score --cross-check`: the samples on which the grader and math-verify disagree, with
what a reader needs to audit them; math-verify reads LaTeX only, in bounded workers."""

from __future__ import annotations

import json
import sys

import pytest

from reasoning.data import Problem
from reasoning.evaluation.attempts import Attempt, Completion
from reasoning.evaluation.crosscheck import cross_check, format_cross_checks, graded_text
from reasoning.evaluation.problem_record import problem_record
from reasoning.evaluation.tasks import Task
from reasoning.grading import crosscheck

PRIME = Problem(id="ode", question="Write the equation.", answer=r"y^{\prime}+r y-r x(t)=0")
HALF = Problem(id="half", question="What is 1/2?", answer=r"\frac{1}{2}")
TASK = Task("mix", (PRIME, HALF))
PROMPT = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"


def _record(problem: Problem, index: int, *texts: str, after_thinking: bool = False) -> dict:
    samples = tuple(Completion(text, 10, "eos") for text in texts)
    return problem_record(TASK, problem, index, PROMPT, Attempt(samples, 1.0), after_thinking=after_thinking)


def _records() -> list[dict]:
    return [
        # ours reads the prime; math-verify drops it and answers "y + ry - rx(t) = 0", which it then
        # judges against its own reading of the gold: the two readings are what the audit shows
        _record(PRIME, 0, r"So $\boxed{y'+ry-rx(t)=0}$.", r"So $\boxed{y+ry-rx(t)=0}$."),
        _record(HALF, 1, r"\boxed{0.5}", r"\boxed{3}"),
    ]


def _fake_math_verify(monkeypatch, verdicts: dict[str, bool]) -> list[tuple[str, str]]:
    """math-verify replaced by a table of verdicts by completion; the pairs it was asked about."""
    asked = []

    def second_opinions(pairs, processes=None, *, timeout=crosscheck.TIMEOUT):
        pairs = list(pairs)
        asked.extend(pairs)
        return [crosscheck.SecondOpinion(verdicts.get(text), f"read:{text[-12:]}", f"gold:{gold}") for text, gold in pairs]

    monkeypatch.setattr("reasoning.evaluation.crosscheck.second_opinions", second_opinions)
    return asked


def test_only_the_samples_the_two_graders_judge_differently_are_reported(monkeypatch):
    records = _records()
    assert [s["correct"] for r in records for s in r["samples"]] == [True, False, True, False]
    texts = [s["text"] for r in records for s in r["samples"]]
    asked = _fake_math_verify(monkeypatch, {texts[0]: False, texts[1]: False, texts[2]: True, texts[3]: True})
    check = cross_check(records)
    assert [(text, gold) for text, gold in asked] == [(t, r["gold"]) for r in records for t in (s["text"] for s in r["samples"])]
    assert (check.compared, check.no_verdict, check.not_read) == (4, 0, 0)
    assert [(d.problem, d.sample, d.ours, d.theirs, d.our_answer, d.gold) for d in check.disagreements] == [
        ("ode", 0, True, False, "y'+ry-rx(t)=0", PRIME.answer),
        ("half", 1, False, True, "3", HALF.answer),
    ]
    report = format_cross_checks({"mix": check, "mmlu-stem": None})
    assert "mix: 4 samples compared, 2 agree, 2 disagree" in report and "mmlu-stem: multiple choice, not cross-checked" in report
    assert "problem half sample 1: ours wrong, math-verify right | our answer '3', math-verify read 'read:" in report


def test_samples_without_a_verdict_or_not_read_are_counted_not_reported(monkeypatch):
    strict = _record(HALF, 0, r"<think>so \boxed{0.5}", r"<think>ok</think>\boxed{0.5}", after_thinking=True)
    assert [s["grade"]["method"] for s in strict["samples"]][0] == "unfinished"
    asked = _fake_math_verify(monkeypatch, {})  # no verdict on anything: timed out
    check = cross_check([strict], after_thinking=True)
    assert asked == [(r"\boxed{0.5}", HALF.answer)]  # the text after </think>, as the grader read it
    assert (check.compared, check.no_verdict, check.not_read, check.disagreements) == (0, 1, 1, ())


def test_the_text_compared_is_what_the_grader_read():
    assert graded_text("<think>a</think>b</think>c", after_thinking=True) == "c"
    assert graded_text("<think>a</think>c", after_thinking=False) == "<think>a</think>c"
    assert graded_text("<think>never closed", after_thinking=True) == "<think>never closed"


def test_eval_score_cross_check_prints_the_summary_then_the_disagreements(tmp_path, monkeypatch, capsys):
    from reasoning.cli import main

    monkeypatch.setattr(crosscheck, "math_verify_installed", lambda: True)
    _fake_math_verify(monkeypatch, {r"So $\boxed{y'+ry-rx(t)=0}$.": False})
    path = tmp_path / "mix.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in [{"settings": {"task": "mix", "task_kind": "math"}}, *_records()]))
    assert main(["eval", "score", str(path), "--cross-check"]) == 0
    out = capsys.readouterr().out
    assert out.index("pass@1") < out.index("cross-check with math-verify")
    assert "mix: 1 samples compared, 0 agree, 1 disagree" in out and "problem ode sample 0: ours right, math-verify wrong" in out


def test_without_math_verify_the_cross_check_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # what importing a missing package finds
    assert not crosscheck.math_verify_installed()
    with pytest.raises(ValueError, match=r"pip install 'reasoning\[verify\]'"):
        crosscheck.second_opinions([("\\boxed{1}", "1")])


# -- the real math-verify, where it is installed ([verify] and [test] extras) -------------------------
def test_math_verify_reads_latex_in_bounded_workers_and_never_runs_model_text():
    pytest.importorskip("math_verify")
    hostile = "The answer is __import__('os').system('touch pwned') and also 1/0"
    opinions = crosscheck.second_opinions(
        [(r"So the answer is $\boxed{\frac12}$.", "0.5"), (r"So the answer is $\boxed{3}$.", "4"), (hostile, "1")], processes=2
    )
    assert [o.correct for o in opinions] == [True, False, False]
    assert opinions[0].answer == r"\frac{1}{2}" and opinions[1].gold == "4"


def test_a_math_verify_verdict_past_its_bound_is_no_verdict(monkeypatch):
    pytest.importorskip("math_verify")
    slow = r"$\boxed{" + "+".join(["(x+1)^{99}"] * 60) + "}$"
    [opinion] = crosscheck.second_opinions([(slow, "(x+1)^{99}")], timeout=0.05)
    assert opinion.correct is None and "no verdict within 0.05 s" in opinion.reason
