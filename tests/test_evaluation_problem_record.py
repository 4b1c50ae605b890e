"""A problem's record: samples graded by the task, answer groups for maj@k, the strategy's
answer, and re-grading from the saved completions."""

from __future__ import annotations

from reasoning.data import Problem
from reasoning.evaluation.attempts import Attempt, Completion
from reasoning.evaluation.problem_record import answer_groups, attempt_of, problem_record, regrade
from reasoning.evaluation.tasks import Task

MATH = Task("gsm8k", ())
CHOICE = Task("mmlu-stem", (), "choice")
PROBLEM = Problem("p", "What is 1 + 1?", "2", subject="arith", level=1, meta={"source": "x"})


def test_math_answers_group_by_equivalence_and_letters_by_equality():
    assert answer_groups(MATH, ["1/2", "0.5", "\\frac{1}{2}", "3", None, "3.0"]) == [0, 0, 0, 1, None, 1]
    assert answer_groups(CHOICE, ["B", "C", "B", None]) == [0, 1, 0, None]


def test_a_record_holds_the_problem_every_sample_graded_and_the_chosen_answer():
    samples = (Completion("so \\boxed{2}", 5, "eos", {"mean_logprob": -0.5}), Completion("it is 3", 7, "length"))
    record = problem_record(MATH, PROBLEM, 4, "Q: 1+1", Attempt(samples, 1.23456, answer=0, tokens=30, details={"votes": []}))
    assert {k: record[k] for k in ("id", "index", "question", "gold", "subject", "level", "meta", "prompt")} == {
        "id": "p", "index": 4, "question": "What is 1 + 1?", "gold": "2", "subject": "arith", "level": 1,
        "meta": {"source": "x"}, "prompt": "Q: 1+1",
    }  # fmt: skip
    first, second = record["samples"]
    assert first == {"text": "so \\boxed{2}", "extracted": "2", "correct": True, "grade": {"method": "string", "reason": ""},
                     "tokens": 5, "finish_reason": "eos", "mean_logprob": -0.5}  # fmt: skip
    assert second["extracted"] == "3" and second["correct"] is False and second["grade"]["reason"]
    assert record["groups"] == [0, 1] and record["correct"] == 1
    assert record["answer"] == {"sample": 0, "extracted": "2", "correct": True, "grade": first["grade"]}
    assert record["tokens"] == 30 and record["seconds"] == 1.235 and record["details"] == {"votes": []}


def test_regrade_recomputes_every_verdict_from_the_saved_completions():
    attempt = Attempt((Completion("\\boxed{2}", 3, "eos"),), 0.1, answer=Completion("revised \\boxed{2}", 4, "eos"), tokens=9)
    record = problem_record(MATH, PROBLEM, 0, "Q", attempt)
    tampered = {**record, "gold": "\\frac{4}{2}", "correct": 0, "samples": [{**record["samples"][0], "correct": False}],
                "answer": {**record["answer"], "correct": False}, "extra": "kept"}  # fmt: skip
    [regraded] = regrade(MATH, [tampered])
    assert regraded["samples"][0]["correct"] and regraded["correct"] == 1  # 2 and \frac{4}{2} are one answer
    assert regraded["answer"]["correct"] and regraded["answer"]["text"] == "revised \\boxed{2}"
    assert regraded["gold"] == "\\frac{4}{2}" and regraded["extra"] == "kept" and regraded["tokens"] == 9


def test_an_attempt_reads_back_from_its_record():
    attempt = Attempt((Completion("a \\boxed{1}", 3, "eos", {"score": 0.5}), Completion("b", 2, "stop")), 0.25, 1, 11, {"k": 1})
    assert attempt_of(problem_record(MATH, PROBLEM, 0, "Q", attempt)) == attempt
    own = Attempt((Completion("a", 3, "eos"),), 0.5, Completion("c \\boxed{2}", 6, "eos", {"score": 1.0}), 20)
    assert attempt_of(problem_record(MATH, PROBLEM, 0, "Q", own)) == own


def test_a_choice_task_reads_the_letter():
    problem = Problem("c", "Which?", "B", meta={"choices": ["one", "two", "three"]})
    record = problem_record(CHOICE, problem, 0, "Q", Attempt((Completion("Answer: B", 3, "eos"), Completion("(C)", 2, "eos")), 0.0))
    assert [s["extracted"] for s in record["samples"]] == ["B", "C"] and record["correct"] == 1 and record["groups"] == [0, 1]
