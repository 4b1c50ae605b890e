"""A GRPO step's problems (`reasoning.rl.groups`): consecutive slices of seeded per-epoch shuffles."""

from __future__ import annotations

from reasoning.rl.groups import step_problems
from reasoning.training.toy import addition_problems


def test_step_problems_cycle_through_seeded_epochs():
    problems = addition_problems(10)
    steps = [step_problems(problems, step, 4, seed=0) for step in (1, 2, 3)]
    first_epoch = steps[0] + steps[1] + steps[2][:2]
    assert sorted(p.id for p in first_epoch) == sorted(p.id for p in problems)
    assert step_problems(problems, 2, 4, seed=0) == steps[1]
    assert step_problems(problems, 1, 4, seed=1) != steps[0]
