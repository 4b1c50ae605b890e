"""Grading only what follows the thinking, as lighteval and the reasoning-model papers do.

A reasoning model's sample is `<think> ... </think> answer`. Graded leniently (the default for
base models), the whole text is searched for the final answer, so a sample cut off mid-thought
is credited with the last number it happened to think. Graded after the thinking (the default
for reasoning models), only the text after the last `</think>` counts: a sample whose thinking
never closed has no answer ("unfinished"), and one cut by the token budget is wrong
("truncated"), whatever its text holds. Records keep the full text and finish reason, so
`eval score` can grade a run either way.
"""

from __future__ import annotations

from typing import Literal

from reasoning.data import Problem
from reasoning.evaluation.attempts import Completion
from reasoning.evaluation.tasks import GRADE_TIMEOUT, Grade, Task

THINK_START, THINK_END = "<think>", "</think>"
Thinking = Literal["none", "closed", "unfinished"]
UNFINISHED = ("length", "cancelled")  # cut by the token budget; stopped once a vote was decided


def thinking_state(prompt: str, text: str) -> Thinking:
    """Whether a sample thought and closed its thinking: "closed" (a `</think>` in the text),
    "unfinished" (thinking opened, by the sample or by a prompt ending in `<think>`, and never
    closed), or "none" (no thinking: a base model, or thinking off, whose template closes an
    empty thinking block inside the prompt)."""
    if THINK_END in text:
        return "closed"
    opened = THINK_START in text or prompt.rstrip().endswith(THINK_START)
    return "unfinished" if opened else "none"


def grade_sample(
    task: Task, problem: Problem, prompt: str, completion: Completion, *, after_thinking: bool, timeout: float = GRADE_TIMEOUT
) -> Grade:
    """The task's grade of one sample; `after_thinking`: only its text after `</think>`, and none
    for a sample whose thinking never closed or that the token budget cut."""
    if not after_thinking:
        return task.grade(problem, completion.text, timeout=timeout)
    state = thinking_state(prompt, completion.text)
    if state == "unfinished":
        return Grade(None, False, "unfinished", "the thinking never closed (no </think>), so there is no answer to grade")
    if completion.finish_reason in UNFINISHED:
        return Grade(None, False, "truncated", f"stopped before it finished ({completion.finish_reason}): not graded")
    answer = completion.text.rsplit(THINK_END, 1)[1] if state == "closed" else completion.text
    return task.grade(problem, answer, timeout=timeout)
