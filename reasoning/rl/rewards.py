"""Verifiable rewards: the task's correctness, format checks, and any weighted function.

A reward is a function (completion text, problem) -> float. Correctness is the task's own
grade (`reasoning.evaluation.tasks.Task.reward`), so a GRPO reward is the evaluation's verdict
on the same completion: multiple-choice letters, GSM8K golds and OlympiadBench answer lists
included. Model text is hostile input: it is only ever parsed by `reasoning.grading`
(linear-time extraction, sympy in a killable worker with a time bound), never evaluated. `score` runs every reward on every completion
in a thread pool, since grading mostly waits on its worker processes.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reasoning.data import Problem
from reasoning.evaluation.tasks import Task
from reasoning.grading import extract_answer

RewardFn = Callable[[str, Problem], float]
_THINK_FORMAT = re.compile(r"^\s*<think>(?:(?!</think>).)+</think>(?:(?!<think>|</think>).)*\\boxed\{", re.DOTALL)


def boxed_answer(completion: str) -> str | None:
    """The argument of the last \\boxed{...} (after </think> if any), or None: stated answers do not count."""
    start = completion.rfind("\\boxed")
    return None if start < 0 else extract_answer(completion[start:], last_number=False)


def boxed_format_reward(completion: str, problem: Problem) -> float:
    """1.0 when the completion has a complete \\boxed{...} answer, right or wrong."""
    return float(boxed_answer(completion) is not None)


def think_format_reward(completion: str, problem: Problem) -> float:
    """1.0 for a non-empty <think>...</think> block followed by a boxed answer (R1-style format)."""
    return float(bool(_THINK_FORMAT.match(completion)) and boxed_answer(completion) is not None)


@dataclass(frozen=True)
class Reward:
    """One named reward function and its weight in the total."""

    name: str
    fn: RewardFn
    weight: float = 1.0


def default_rewards(task: Task, correctness_weight: float = 1.0, format_weight: float = 0.0) -> list[Reward]:
    """The task's correctness, plus the boxed-format reward when its weight is not zero."""
    rewards = [Reward("correct", task.reward, correctness_weight)]
    if format_weight:
        rewards.append(Reward("format", boxed_format_reward, format_weight))
    return rewards


def score(
    completions: Sequence[str], problems: Sequence[Problem], rewards: Sequence[Reward], *, workers: int | None = None
) -> tuple[list[float], dict[str, list[float]]]:
    """Total weighted reward of each completion, and each reward's own values by name."""
    if len(completions) != len(problems):
        raise ValueError(f"{len(completions)} completions but {len(problems)} problems")
    if not rewards:
        raise ValueError("score needs at least one reward")
    parts: dict[str, list[float]] = {}
    with ThreadPoolExecutor(max(1, workers or os.cpu_count() or 1)) as pool:
        for reward in rewards:
            parts[reward.name] = list(pool.map(lambda pair, r=reward: _call(r, *pair), zip(completions, problems)))
    totals = [sum(reward.weight * parts[reward.name][i] for reward in rewards) for i in range(len(completions))]
    return totals, parts


def _call(reward: Reward, completion: str, problem: Problem) -> float:
    """One reward value, checked: an exception or a non-finite value names the reward and problem."""
    try:
        value = float(reward.fn(completion, problem))
    except Exception as error:
        raise ValueError(f"reward {reward.name!r} failed on problem {problem.id!r}: {type(error).__name__}: {error}") from error
    if not math.isfinite(value):
        raise ValueError(f"reward {reward.name!r} returned {value} for problem {problem.id!r}; rewards must be finite")
    return value
