"""A problem's record: what was asked, every sample graded by the task, the samples' answers
grouped for majority votes, and the strategy's answer where it chose one.

One record per problem, one format for every strategy and protocol:
`{"id", "index", "question", "gold", "subject", "level", "meta", "prompt", "samples": [{"text",
"extracted", "correct", "grade": {"method", "reason"}, "tokens", "finish_reason", ...}],
"groups", "correct", "answer"?, "tokens", "seconds", "details"?}`. `correct` counts the correct
samples; `groups[i]` is sample i's answer group (None: no answer); `answer` is the strategy's
answer, graded (`{"sample": i, ...}` when it is one of the samples); `tokens` counts every token
generated for the problem; `details` holds what the strategy saw (votes, scores, rounds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reasoning.data import Problem
from reasoning.evaluation.after_thinking import grade_sample
from reasoning.evaluation.attempts import Attempt, Completion
from reasoning.evaluation.tasks import GRADE_TIMEOUT, Grade, Task
from reasoning.grading.groups import AnswerGroups, grader_equivalent


def problem_record(
    task: Task, problem: Problem, index: int, prompt: str, attempt: Attempt, grade_timeout: float = GRADE_TIMEOUT,
    *, after_thinking: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The record of one problem, graded by `task` (runs off the decode path, in a thread pool);
    `after_thinking`: each sample graded on its text after </think> only (see `after_thinking`)."""

    def grade(completion: Completion) -> Grade:
        return grade_sample(task, problem, prompt, completion, after_thinking=after_thinking, timeout=grade_timeout)

    samples = [_graded(completion, grade(completion)) for completion in attempt.samples]
    record = {
        "id": problem.id, "index": index, "question": problem.question, "gold": problem.answer,
        "subject": problem.subject, "level": problem.level, "meta": problem.meta, "prompt": prompt,
        "samples": samples, "groups": answer_groups(task, [s["extracted"] for s in samples], grade_timeout),
        "correct": sum(s["correct"] for s in samples),
    }  # fmt: skip
    if isinstance(attempt.answer, int):
        chosen = samples[attempt.answer]
        record["answer"] = {"sample": attempt.answer, **{key: chosen[key] for key in ("extracted", "correct", "grade")}}
    elif attempt.answer is not None:
        record["answer"] = _graded(attempt.answer, grade(attempt.answer))
    record.update(tokens=attempt.total_tokens, seconds=round(attempt.seconds, 3))
    if attempt.details:
        record["details"] = attempt.details
    return record


def _graded(completion: Completion, grade: Grade) -> dict[str, Any]:
    return {
        "text": completion.text, "extracted": grade.extracted, "correct": grade.correct,
        "grade": {"method": grade.method, "reason": grade.reason}, "tokens": completion.tokens,
        "finish_reason": completion.finish_reason, **completion.extra,
    }  # fmt: skip


def answer_groups(task: Task, answers: Sequence[str | None], grade_timeout: float = GRADE_TIMEOUT) -> list[int | None]:
    """Each answer's group id, groups numbered as first seen: equal letters for multiple choice;
    for maths, answers the grader accepts against the group's first (as self-consistency
    votes). None: no answer, no vote."""
    same = (lambda a, b: a == b) if task.kind == "choice" else grader_equivalent(grade_timeout)
    groups = AnswerGroups(same)
    for sample, answer in enumerate(answers):
        if answer is not None:
            groups.add(sample, answer)
    ids: list[int | None] = [None] * len(answers)
    for group, members in enumerate(groups.members):
        for sample in members:
            ids[sample] = group
    return ids


_GRADED = ("text", "extracted", "correct", "grade", "tokens", "finish_reason")


def regrade(
    task: Task, records: Sequence[dict[str, Any]], *, grade_timeout: float = GRADE_TIMEOUT, after_thinking: bool = False
) -> list[dict[str, Any]]:
    """Grade saved records again (after a grader change, or after the thinking or not): the same
    completions, new verdicts and groups; every other field is kept."""
    return [
        {**record, **problem_record(task, _problem(record), record["index"], record["prompt"], attempt_of(record), grade_timeout,
                                    after_thinking=after_thinking)}
        for record in records
    ]  # fmt: skip


def attempt_of(record: dict[str, Any]) -> Attempt:
    """The attempt a record was graded from (its completions, answer, tokens and details)."""
    answer = record.get("answer")
    if answer is not None:
        answer = answer["sample"] if "sample" in answer else _completion(answer)
    samples = tuple(_completion(sample) for sample in record["samples"])
    return Attempt(samples, record.get("seconds", 0.0), answer, record.get("tokens"), record.get("details") or {})


def _completion(saved: dict[str, Any]) -> Completion:
    return Completion(saved["text"], saved["tokens"], saved["finish_reason"], {k: v for k, v in saved.items() if k not in _GRADED})


def _problem(record: dict[str, Any]) -> Problem:
    return Problem(
        id=record["id"], question=record["question"], answer=record["gold"], subject=record.get("subject"),
        level=record.get("level"), meta=record.get("meta") or {},
    )  # fmt: skip
