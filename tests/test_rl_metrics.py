"""GRPO's metrics (`reasoning.rl.metrics`): the summary of a run's rewards."""

from __future__ import annotations

from reasoning.rl.metrics import reward_trend


def test_reward_trend_averages_the_first_and_last_steps_by_step_number():
    rows = [{"step": step, "reward_mean": value} for step, value in [(3, 0.5), (1, 0.1), (2, 0.3), (4, 0.9)]]
    assert reward_trend(rows, first=2, last=3) == (
        "mean reward 0.200 over the first 2 steps, 0.567 over the last 3 (of 4)"
    )
