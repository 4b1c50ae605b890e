"""Training problems as evaluation tasks, and the prompts a model reads for them.

GRPO's training data and held-out evaluation, and the problems a distillation teacher solves,
are `reasoning.evaluation.tasks.Task`s: a benchmark by name, or a file or hub dataset of
problems with reference answers. So each problem is prompted and graded as `eval` prompts and
grades it, and a reward is the evaluation's correctness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from reasoning.data import Problem, load_problems
from reasoning.evaluation.benchmarks import load_benchmark
from reasoning.evaluation.tasks import Task
from reasoning.prompts import PromptKind
from reasoning.tokenizer import Qwen3Tokenizer


def load_task(
    *, dataset: str | Path | None = None, bench: str | None = None, data_dir: str | Path | None = None,
    data: str | Path | None = None, question_field: str = "question", answer_field: str = "answer", limit: int | None = None,
) -> Task:  # fmt: skip
    """A benchmark by name (`bench`, read from its file in `data_dir`, the file `data`, or the
    hub), or a `dataset`: a .json/.jsonl file or hub dataset of problems with reference answers,
    or "math500" (the benchmark). `limit` keeps the first problems."""
    if (dataset is None) == (bench is None):
        raise ValueError("name the training problems: a --dataset or a --bench, one of them")
    if dataset is not None and (data_dir is not None or data is not None):
        raise ValueError("--data-dir and --data go with --bench; --dataset names its own file")
    if dataset == "math500":
        bench = "math500"
    if bench is not None:
        return load_benchmark(bench, data_dir=data_dir, data=data, limit=limit)
    problems = load_problems(dataset, question_field=question_field, answer_field=answer_field, limit=limit)
    return Task(str(dataset), tuple(problems))


def held_out(task: Task, training: Task, limit: int | None = None) -> Task:
    """`task` without the problems whose question `training` also asks, its first `limit` kept."""
    seen = {problem.question for problem in training.problems}
    return replace(task, problems=tuple(p for p in task.problems if p.question not in seen)).head(limit)


def prompt_kind(tokenizer: Qwen3Tokenizer) -> PromptKind:
    """How a model reads its prompts: plain text for a base model, else its chat template."""
    return "base" if tokenizer.base else "reasoning"


def task_prompts(task: Task, problems: Sequence[Problem], tokenizer: Qwen3Tokenizer) -> list[str]:
    """The task's prompts of `problems` for the tokenizer's model (thinking on for a reasoning model)."""
    kind, chat = prompt_kind(tokenizer), tokenizer.apply_chat_template
    return [task.prompt(problem, kind=kind, chat=chat) for problem in problems]
