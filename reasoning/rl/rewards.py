"""Verifiable rewards: the task's correctness, format checks, and any weighted function.

A reward is a function (completion text, problem) -> float. Correctness is the task's own
grade (`reasoning.evaluation.tasks.Task.reward`), so a GRPO reward is the evaluation's verdict
on the same completion: multiple-choice letters, GSM8K golds and OlympiadBench answer lists
included. Model text is hostile input: it is only ever parsed by `reasoning.grading`
(linear-time extraction, sympy in a killable worker with a time bound), never evaluated. `score` runs every reward on every completion
in a thread pool, since grading mostly waits on its worker processes. The length rewards
(DAPO's overlong punishment, Kimi 1.5's length reward on correct answers) need token counts, not
text: `add_length_rewards` adds them as named parts after scoring.
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
from reasoning.rl.config import GRPOConfig

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


def overlong_penalty(lengths: Sequence[int], max_tokens: int, cache: int) -> list[float]:
    """DAPO's soft overlong punishment (Yu et al. 2025, eq. 13), in [-1, 0]: 0 up to max_tokens - cache
    tokens, falling linearly to -1 over the last `cache` tokens of the budget, -1 at or past it."""
    if not 0 < cache <= max_tokens:
        raise ValueError(f"need 0 < cache <= max_tokens, got cache={cache} and max_tokens={max_tokens}")
    free = max_tokens - cache
    return [max(-(length - free) / cache, -1.0) if length > free else 0.0 for length in lengths]


def correct_length_reward(lengths: Sequence[int], correct: Sequence[float], group_size: int) -> list[float]:
    """Kimi 1.5's length reward (Kimi Team 2025, sec. 2.3.3) on correct answers only, in [-0.5, 0.5]:
    0.5 - (length - shortest) / (longest - shortest) over the group, 0 for a wrong answer (Kimi
    gives those min(0, value); here only right answers are judged on length) and for a group of equal lengths."""
    if len(lengths) != len(correct) or len(lengths) % group_size:
        raise ValueError(f"need as many lengths as correctness values, a multiple of group_size={group_size}")
    values = []
    for start in range(0, len(lengths), group_size):
        group = lengths[start : start + group_size]
        shortest, spread = min(group), max(group) - min(group)
        for length, right in zip(group, correct[start : start + group_size], strict=True):
            values.append(0.5 - (length - shortest) / spread if spread and right > 0 else 0.0)
    return values


def length_weights(config: GRPOConfig) -> dict[str, float]:
    """The weight of each length reward the config switches on, by name."""
    weights = {"overlong": config.overlong_factor} if config.overlong_cache else {}
    return weights | ({"length": config.length_penalty} if config.length_penalty else {})


def add_length_rewards(
    totals: Sequence[float], parts: dict[str, list[float]], lengths: Sequence[int], config: GRPOConfig
) -> tuple[list[float], dict[str, list[float]]]:
    """Totals and parts with the config's length rewards added: "overlong" (DAPO, when
    overlong_cache > 0, weighted by overlong_factor) and "length" (correct answers only, when
    length_penalty > 0, its weight; it needs the reward named "correct"). lengths are in tokens."""
    weights = length_weights(config)
    if clash := set(weights) & set(parts):
        raise ValueError(f"reward names {sorted(clash)} are taken by the length rewards; rename yours")
    shaped = {}
    if "overlong" in weights:
        shaped["overlong"] = overlong_penalty(lengths, config.max_new_tokens, config.overlong_cache)
    if "length" in weights:
        if "correct" not in parts:
            raise ValueError("length_penalty judges correct answers only: it needs the reward named 'correct'")
        shaped["length"] = correct_length_reward(lengths, parts["correct"], config.group_size)
    totals = [total + sum(weights[name] * values[i] for name, values in shaped.items()) for i, total in enumerate(totals)]
    return totals, parts | shaped


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
