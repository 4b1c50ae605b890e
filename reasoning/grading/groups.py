"""Answers grouped by equivalence, for majority votes: self-consistency's vote and an
evaluation's maj@k group "1/2", "0.5" and "\\frac{1}{2}" as one answer through the grader."""

from __future__ import annotations

from collections.abc import Callable

from reasoning.grading.grade import grade

Equivalent = Callable[[str, str], bool]


def grader_equivalent(timeout: float = 2.0) -> Equivalent:
    """Two answers are equivalent when the grader accepts one against the other (bounded time)."""
    return lambda answer, reference: bool(grade(answer, reference, timeout=timeout))


class AnswerGroups:
    """Answers grouped by equivalence as they arrive (each new answer is compared with one
    representative per group), so a vote can be re-counted after every finished sample."""

    def __init__(self, equivalent: Equivalent | None = None) -> None:
        self.equivalent = equivalent or grader_equivalent()
        self.answers: list[str] = []  # one representative per group
        self.members: list[list[int]] = []

    def add(self, sample: int, answer: str) -> None:
        for representative, members in zip(self.answers, self.members):
            if answer == representative or self.equivalent(answer, representative):
                members.append(sample)
                return
        self.answers.append(answer)
        self.members.append([sample])
