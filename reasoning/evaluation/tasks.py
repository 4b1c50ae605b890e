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
Prompts: the book's by default, or a named preset (`reasoning.prompts.PRESETS`: r1,
qwen25-math, olympiad-official, gpqa-official; "official" is the task's own official prompt),
or, for base models, a few-shot prompt (`reasoning.evaluation.fewshot`).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from reasoning.data import Problem
from reasoning.evaluation.fewshot import FewShot, check_shots, load_fewshot
from reasoning.grading import extract_answer, extract_choice, grade
from reasoning.prompts import (
    BOOK, OFFICIAL, ChatFormat, PromptKind, build_prompt, check_prompt_name, choice_prompt, preset_prompt, task_prompt,
)  # fmt: skip
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
    official_prompt: str | None = None  # the preset its benchmark's authors prompt with, if any

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
        chat: ChatFormat = format_chat, prompt: str | None = None, shots: FewShot | None = None,
    ) -> str:  # fmt: skip
        """The prompt for one problem, for a model of `kind` (base: text; reasoning: a chat turn):
        preset `prompt` (None: the book's), or the few-shot prompt `shots` (base models only)."""
        if shots is not None:
            if kind != "base" or prompt is not None or cot:
                raise ValueError("a few-shot prompt (--shots) is a base model's whole prompt: not with a chat template, --prompt or --cot")
            return shots.prompt(problem)
        name = self.prompt_name(prompt)
        if name != BOOK:
            if cot or self.template == "plain":
                raise ValueError(f"the {name} prompt is its source's whole prompt: not with --cot, nor for {self.name}'s own text")
            options = problem.meta["choices"] if self.kind == "choice" else None
            return preset_prompt(
                name, problem.question, kind=kind, meta=problem.meta, options=options, enable_thinking=enable_thinking, chat=chat
            )
        if self.kind == "choice":
            if cot:
                raise ValueError(f"the chain-of-thought suffix is for math problems; {self.name} is multiple choice")
            return choice_prompt(problem.question, problem.meta["choices"], kind=kind, enable_thinking=enable_thinking, chat=chat)
        if self.template == "plain":
            return task_prompt(problem.question, kind=kind, enable_thinking=enable_thinking, chat=chat)
        return build_prompt(problem.question, kind=kind, cot=cot, enable_thinking=enable_thinking, chat=chat)

    def prompt_name(self, prompt: str | None) -> str:
        """The preset `prompt` stands for here: the book's for None, the task's own for "official"."""
        if prompt is None:
            return BOOK
        if check_prompt_name(prompt) != OFFICIAL:
            return prompt
        if self.official_prompt is None:
            raise ValueError(f"{self.name} has no official prompt of its own; choose one of the named prompts")
        return self.official_prompt

    def prompt_settings(self, prompt: str | None, shots: FewShot | None) -> dict[str, Any]:
        """What the prompts were, for a run's saved settings; recorded only when not the book's
        zero-shot prompt, so runs made before presets existed keep resuming."""
        if shots is not None:
            return shots.settings()
        return {} if prompt is None else {"prompt": self.prompt_name(prompt)}

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


def check_prompts(tasks: Sequence[Task], prompt: str | None, shots: int | None, *, data_dir: str | Path | None = None) -> None:
    """Refuse, before any model loads, a prompt that cannot be made for some problem (a preset
    without a form for the task, metadata it needs missing, exemplars missing or out of reach)."""
    check_shots([(task.name, task.kind) for task in tasks], shots)
    if shots != 0 and prompt is not None:
        raise ValueError("a few-shot prompt (--shots) is a base model's whole prompt: not with --prompt")
    for task in tasks if prompt is not None or shots != 0 else ():
        fewshot = load_fewshot(task.name, task.kind, shots, data_dir=data_dir) if shots != 0 else None
        for problem in task.problems:
            task.prompt(problem, kind="base", prompt=prompt, shots=fewshot)
