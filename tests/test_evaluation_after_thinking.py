"""Grading after the thinking: only the text after </think> counts; unclosed thinking and cut
samples are wrong and counted; records regrade either way."""

from __future__ import annotations

import json

import pytest

from reasoning.data import Problem
from reasoning.evaluation.after_thinking import grade_sample, thinking_state
from reasoning.evaluation.attempts import Attempt, Completion
from reasoning.evaluation.problem_record import problem_record
from reasoning.evaluation.summary import summarize
from reasoning.evaluation.tasks import Task

PROBLEM = Problem(id="p", question="What is 2 + 2?", answer="4")
TASK = Task("sums", (PROBLEM,))
PROMPT = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"


def sample(text: str, finish: str = "eos") -> Completion:
    return Completion(text, 10, finish)


@pytest.mark.parametrize(
    "prompt, text, state",
    [
        (PROMPT, "<think>\nadd them: 4</think>\n\n\\boxed{4}", "closed"),
        (PROMPT, "<think>\nadd them, maybe \\boxed{4}", "unfinished"),
        (PROMPT + "<think>\n", "so \\boxed{4}", "unfinished"),  # a template that opens the thinking itself
        (PROMPT + "<think>\n\n</think>\n\n", "\\boxed{4}", "none"),  # thinking off: closed inside the prompt
        ("Question: 2 + 2?\nAnswer:", " \\boxed{4}", "none"),  # a base model
    ],
)
def test_the_thinking_state_of_a_sample(prompt, text, state):
    assert thinking_state(prompt, text) == state


def test_an_answer_only_inside_unclosed_thinking_is_wrong_and_the_same_after_the_thinking_right():
    inside = sample("<think>\nthe sum is \\boxed{4}")
    after = sample("<think>\nthe sum is 5?</think>\n\nThe answer is \\boxed{4}")
    wrong_after = sample("<think>\nthe sum is \\boxed{4}</think>\n\n\\boxed{5}")
    grade = lambda c, strict: grade_sample(TASK, PROBLEM, PROMPT, c, after_thinking=strict)  # noqa: E731
    assert grade(inside, False).correct and not grade(inside, True).correct  # lenient reads the thought
    assert grade(inside, True).method == "unfinished" and grade(inside, True).extracted is None
    assert grade(after, True).correct and grade(after, True).extracted == "4"
    assert not grade(wrong_after, True).correct and grade(wrong_after, False).extracted == "5"
    cut = sample("<think>\nshort</think>\n\n\\boxed{4} and then more", finish="length")
    assert grade(cut, False).correct and not grade(cut, True).correct and grade(cut, True).method == "truncated"


def test_records_and_summary_count_unfinished_and_truncated_samples_and_regrade_either_way():
    samples = (sample("<think>\n\\boxed{4}"), sample("<think>ok</think>\\boxed{4}"), sample("<think>ok</think>\\boxed{4}", "length"),
               sample("<think>ok</think>\\boxed{3}"))  # fmt: skip
    strict = problem_record(TASK, PROBLEM, 0, PROMPT, Attempt(samples, 1.0), after_thinking=True)
    lenient = problem_record(TASK, PROBLEM, 0, PROMPT, Attempt(samples, 1.0))
    assert [s["correct"] for s in strict["samples"]] == [False, True, False, False]
    assert [s["correct"] for s in lenient["samples"]] == [True, True, True, False]
    assert [s["text"] for s in strict["samples"]] == [c.text for c in samples]  # the full text kept, to regrade
    summary = summarize([strict])
    assert summary["unfinished"] == 0.25 and summary["truncated"] == 0.25 and summary["pass@1"] == 0.25
    assert summarize([lenient])["pass@1"] == 0.75


def test_eval_score_regrades_a_run_either_way(tmp_path, capsys):
    from reasoning.cli import main
    from reasoning.evaluation.records import read_run

    samples = (sample("<think>\n\\boxed{4}"), sample("<think>ok</think>\\boxed{4}"))
    record = problem_record(TASK, PROBLEM, 0, PROMPT, Attempt(samples, 1.0), after_thinking=True)
    path = tmp_path / "sums.jsonl"
    header = {"task": "sums", "task_kind": "math", "grade_after_thinking": True}
    path.write_text(json.dumps({"settings": header}) + "\n" + json.dumps(record) + "\n")

    def pass_at_1(*flags: str) -> str:
        assert main(["eval", "score", str(path), *flags]) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("sums"))
        return row.split()[3]

    assert pass_at_1() == "50.0%"  # as the run was graded
    assert pass_at_1("--no-grade-after-thinking") == "100.0%"
    assert pass_at_1("--no-grade-after-thinking", "--write") == "100.0%"
    assert read_run(path)[0]["grade_after_thinking"] is False and read_run(path)[1][0]["correct"] == 2
