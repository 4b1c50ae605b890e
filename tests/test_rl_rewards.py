"""Rewards: boxed correctness through the grader, format checks, weighted custom functions."""

from __future__ import annotations

import pytest

from reasoning.data import Problem
from reasoning.rl.rewards import (
    Reward,
    boxed_answer,
    boxed_format_reward,
    correctness_reward,
    default_rewards,
    score,
    think_format_reward,
)

HALF = Problem(id="p", question="What is 1/2?", answer="\\frac{1}{2}")


def test_correctness_needs_a_boxed_equivalent_answer():
    assert correctness_reward("so it is \\boxed{0.5}", HALF) == 1.0  # equivalence, not string equality
    assert correctness_reward("\\boxed{1/3}", HALF) == 0.0
    assert correctness_reward("The answer is 1/2.", HALF) == 0.0  # stated, not boxed
    assert correctness_reward("\\boxed{1/2", HALF) == 0.0  # unclosed box


def test_boxed_answer_takes_the_last_box_after_think():
    assert boxed_answer("<think>maybe \\boxed{3}</think> \\boxed{4}") == "4"
    assert boxed_answer("no box here: 5") is None


def test_format_rewards():
    assert boxed_format_reward("x \\boxed{7}", HALF) == 1.0 and boxed_format_reward("7", HALF) == 0.0
    assert think_format_reward("<think>add them</think> so \\boxed{7}", HALF) == 1.0
    assert think_format_reward("<think></think> \\boxed{7}", HALF) == 0.0  # empty thought
    assert think_format_reward("\\boxed{7}", HALF) == 0.0


def test_hostile_completion_is_graded_not_run():
    assert correctness_reward("\\boxed{__import__('os').system('echo hacked')}", HALF) == 0.0
    assert correctness_reward("\\boxed{" + "9" * 5000 + "}", HALF) == 0.0


def test_score_adds_weighted_rewards_including_custom_ones():
    def brevity(completion: str, problem: Problem) -> float:
        return -len(completion) / 100

    rewards = [*default_rewards(correctness_weight=1.0, format_weight=0.5), Reward("brevity", brevity, 2.0)]
    totals, parts = score(["\\boxed{1/2}", "no answer"], [HALF, HALF], rewards)
    assert parts == {"correct": [1.0, 0.0], "format": [1.0, 0.0], "brevity": [-0.11, -0.09]}
    assert totals == pytest.approx([1.0 + 0.5 - 0.22, -0.18])


def test_score_names_a_failing_or_non_finite_reward():
    def broken(completion: str, problem: Problem) -> float:
        raise KeyError("field")

    with pytest.raises(ValueError, match="reward 'broken' failed on problem 'p'"):
        score(["x"], [HALF], [Reward("broken", broken)])
    with pytest.raises(ValueError, match="must be finite"):
        score(["x"], [HALF], [Reward("nan", lambda c, p: float("nan"))])
    with pytest.raises(ValueError, match="1 completions but 2 problems"):
        score(["x"], [HALF, HALF], default_rewards())
