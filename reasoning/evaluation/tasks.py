"""Tasks: problems with their gold answers, how each is prompted, and how a completion is graded.

Evaluation, GRPO's correctness reward and distillation's rejection sampling all ask a task
whether a completion is right, so the number `eval run` reports, the reward GRPO trains on and
the traces distillation keeps are decided by one function (nanochat's `Task`, which carries
`evaluate` and `reward` on one object, is the model). A benchmark loads as a task
(`reasoning.evaluation.benchmarks`), and so does any file of problems with reference answers.

Kinds: "math" reads the final answer (the last \\boxed{...}, else a stated answer, else the last
number; after </think> first) and grades it against the gold by equivalence; "choice" reads the
chosen option letter and compares it with the gold letter. Templates: "math" wraps the question
in the boxed-answer prompt (or the multiple-choice prompt), "plain" gives the question as
written (a task whose text already says how to answer, such as the toy sums "3+4=").
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from typing import Literal

from reasoning.data import Problem
from reasoning.grading import extract_answer, extract_choice, grade
from reasoning.prompts import ChatFormat, PromptKind, build_prompt, choice_prompt, task_prompt
from reasoning.tokenizer import format_chat

Kind = Literal["math", "choice"]
Template = Literal["math", "plain"]
KINDS: tuple[Kind, ...] = ("math", "choice")
TEMPLATES: tuple[Template, ...] = ("math", "plain")
GRADE_TIMEOUT = 2.0  # seconds one grade may take


@dataclass(frozen=True)
class Grade:
    """One completion's grade: the answer read from it, whether it is right, how and why not."""

    extracted: str | None
    correct: bool
    method: str
    reason: str


@dataclass(frozen=True)
class Task:
    """Named problems (each with its gold answer), their prompt and their grade."""

    name: str
    problems: tuple[Problem, ...]
    kind: Kind = "math"
    template: Template = "math"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown task kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown task template {self.template!r}; expected one of {', '.join(TEMPLATES)}")
        object.__setattr__(self, "problems", tuple(self.problems))
        if self.kind == "choice":
            unlisted = next((p.id for p in self.problems if not p.meta.get("choices")), None)
            if unlisted is not None:
                raise ValueError(f"{self.name}: multiple-choice problem {unlisted!r} lists no choices (meta['choices'])")

    def prompt(
        self, problem: Problem, *, kind: PromptKind, enable_thinking: bool = True, cot: bool = False,
        chat: ChatFormat = format_chat,
    ) -> str:  # fmt: skip
        """The prompt for one problem, for a model of `kind` (base: text; reasoning: a chat turn)."""
        if self.kind == "choice":
            if cot:
                raise ValueError(f"the chain-of-thought suffix is for math problems; {self.name} is multiple choice")
            return choice_prompt(problem.question, problem.meta["choices"], kind=kind, enable_thinking=enable_thinking, chat=chat)
        if self.template == "plain":
            return task_prompt(problem.question, kind=kind, enable_thinking=enable_thinking, chat=chat)
        return build_prompt(problem.question, kind=kind, cot=cot, enable_thinking=enable_thinking, chat=chat)

    def grade(self, problem: Problem, completion: str, *, timeout: float = GRADE_TIMEOUT) -> Grade:
        """Grade one completion: its final answer against the gold (math), or its chosen letter (choice)."""
        if self.kind == "choice":
            chosen = extract_choice(completion, string.ascii_uppercase[: len(problem.meta["choices"])])
            if chosen is None:
                return Grade(None, False, "none", "no option letter was found")
            right = chosen == problem.answer
            return Grade(chosen, right, "choice", "" if right else f"chose {chosen}, not {problem.answer}")
        extracted = extract_answer(completion)
        result = grade(extracted, problem.answer, timeout=timeout)
        return Grade(extracted, result.correct, result.method, result.reason)

    def reward(self, completion: str, problem: Problem) -> float:
        """1.0 when the completion is right, else 0.0: GRPO's correctness reward (a `RewardFn`)."""
        return float(self.grade(problem, completion).correct)

    def head(self, limit: int | None) -> Task:
        """The task with its first `limit` problems (all of them for None)."""
        return self if limit is None else replace(self, problems=self.problems[:limit])

