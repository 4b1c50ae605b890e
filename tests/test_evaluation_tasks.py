"""Tasks: one object says how a problem is prompted and whether a completion is right, for
evaluation, GRPO's reward and distillation alike."""

from __future__ import annotations

import pytest

from reasoning.data import Problem
from reasoning.evaluation.fewshot import load_fewshot
from reasoning.evaluation.tasks import Grade, Task, check_prompts
from reasoning.prompts import build_prompt, choice_prompt
from reasoning.tokenizer import format_chat

SUM = Problem("s", "What is 3 + 4?", "7")
CHOICE = Problem("c", "Which is a colour?", "B", meta={"choices": ["dog", "red", "seven"]})


def test_a_math_task_prompts_with_the_boxed_answer_prompt_and_grades_by_equivalence():
    task = Task("sums", (SUM,))
    assert task.prompt(SUM, kind="base") == build_prompt(SUM.question, kind="base")
    assert task.prompt(SUM, kind="base", cot=True) == build_prompt(SUM.question, kind="base", cot=True)
    assert task.prompt(SUM, kind="reasoning", enable_thinking=False) == build_prompt(SUM.question, kind="reasoning", enable_thinking=False)
    assert task.grade(SUM, "<think>maybe 8</think>so \\boxed{\\frac{14}{2}}") == Grade("\\frac{14}{2}", True, "numeric", "")
    wrong = task.grade(SUM, "it is 8")
    assert (wrong.extracted, wrong.correct) == ("8", False) and wrong.reason
    assert task.grade(SUM, "no idea").method == "none"
    assert (task.reward("\\boxed{7}", SUM), task.reward("\\boxed{8}", SUM)) == (1.0, 0.0)


def test_a_plain_task_asks_the_question_as_written():
    task = Task("toy", (SUM,), template="plain")
    assert task.prompt(SUM, kind="base") == "What is 3 + 4?"
    assert task.prompt(SUM, kind="reasoning") == format_chat(
        [{"role": "user", "content": SUM.question}], add_generation_prompt=True, enable_thinking=True
    )


def test_a_choice_task_reads_the_letter():
    task = Task("quiz", (CHOICE,), "choice")
    assert task.prompt(CHOICE, kind="base") == choice_prompt(CHOICE.question, CHOICE.meta["choices"], kind="base")
    assert task.grade(CHOICE, "Red is.\n\nAnswer: B") == Grade("B", True, "choice", "")
    assert task.grade(CHOICE, "Answer: A").reason == "chose A, not B"
    assert task.grade(CHOICE, "Answer: D").method == "none"  # only A to C are options
    assert task.reward("\\boxed{B}", CHOICE) == 1.0
    with pytest.raises(ValueError, match="chain-of-thought suffix is for math problems; quiz is multiple choice"):
        task.prompt(CHOICE, kind="base", cot=True)


def test_head_keeps_the_first_problems():
    task = Task("sums", (SUM, CHOICE))
    assert task.head(1).problems == (SUM,) and task.head(None) is task and task.head(1).name == "sums"


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: Task("x", (), "essay"), "unknown task kind 'essay'"), (lambda: Task("x", (), template="fancy"), "unknown task template"),
     (lambda: Task("quiz", (SUM,), "choice"), "multiple-choice problem 's' lists no choices")],
)  # fmt: skip
def test_bad_tasks_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_prompt_settings_name_the_preset_or_the_few_shot_format_and_nothing_for_the_books():
    task = Task("olympiadbench", (SUM,), official_prompt="olympiad-official")
    assert task.prompt_settings(None, None) == {}  # runs made before presets keep resuming
    assert task.prompt_settings("r1", None) == {"prompt": "r1"}
    assert task.prompt_settings("official", None) == {"prompt": "olympiad-official"}  # what was sent, by name
    shots = load_fewshot("math500", "math", 4)
    assert task.prompt_settings(None, shots) == {"shots": 4, "fewshot_format": "minerva", "stop": ["Problem:"]}


def test_a_few_shot_prompt_is_a_base_models_whole_prompt():
    task, shots = Task("math500", (SUM,)), load_fewshot("math500", "math", 1)
    assert task.prompt(SUM, kind="base", shots=shots).endswith("Problem:\nWhat is 3 + 4?\n\nSolution:")
    for extra in ({"kind": "reasoning"}, {"kind": "base", "prompt": "r1"}, {"kind": "base", "cot": True}):
        with pytest.raises(ValueError, match="a few-shot prompt \\(--shots\\) is a base model's whole prompt"):
            task.prompt(SUM, shots=shots, **extra)


def test_check_prompts_renders_every_problem_before_anything_loads():
    check_prompts([Task("sums", (SUM,))], "r1", 0)
    with pytest.raises(ValueError, match="the r1 prompt is its source's whole prompt: not with --cot, nor for sums's own text"):
        check_prompts([Task("sums", (SUM,), template="plain")], "r1", 0)
    with pytest.raises(ValueError, match="has 8 exemplars; --shots 9"):
        check_prompts([Task("gsm8k", (SUM,))], None, 9)
