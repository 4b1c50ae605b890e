"""Reward shaping (`reasoning.rl.rewards`, `losses.per_reward_advantages`): DAPO's overlong punishment,
the correct-only length reward, GDPO's per-reward normalisation, and their metrics, by hand."""

from __future__ import annotations

import math

import pytest
import torch

from reasoning.generation.api import GenerationResult
from reasoning.rl import groups
from reasoning.rl.config import GRPOConfig
from reasoning.rl.groups import ScoredGroups
from reasoning.rl.losses import group_advantages, per_reward_advantages
from reasoning.rl.metrics import COLUMNS, reward_part_metrics
from reasoning.rl.rewards import Reward, add_length_rewards, correct_length_reward, default_rewards, overlong_penalty
from reasoning.rl.step import grpo_step, step_advantages
from reasoning.rl.trainer import prepare
from reasoning.training.toy import toy_setting

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def test_overlong_penalty_is_zero_then_linear_over_the_cache_then_minus_one():
    # budget 10, cache 4: free up to 6 tokens, then -1/4 per token, -1 at 10 and beyond
    assert overlong_penalty([0, 6, 7, 8, 9, 10, 12], max_tokens=10, cache=4) == [0.0, 0.0, -0.25, -0.5, -0.75, -1.0, -1.0]
    assert overlong_penalty([3, 4], max_tokens=4, cache=4) == [-0.75, -1.0]  # cache = budget: linear from 0 tokens
    with pytest.raises(ValueError, match="cache"):
        overlong_penalty([1], max_tokens=4, cache=5)


def test_length_reward_ranks_correct_answers_of_a_group_and_leaves_wrong_ones_at_zero():
    lengths = [2, 4, 6, 10, 5, 5, 5, 5]
    correct = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0]
    # group 1: shortest 2, spread 8 -> 0.5 - (len - 2) / 8; the wrong one 0. Group 2: equal lengths -> 0.
    assert correct_length_reward(lengths, correct, 4) == [0.5, 0.25, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="multiple of group_size"):
        correct_length_reward([1, 2, 3], [1.0, 1.0, 1.0], 2)


def test_length_rewards_are_added_to_the_totals_with_their_weights_and_kept_by_name():
    config = GRPOConfig(group_size=2, max_new_tokens=8, overlong_cache=4, overlong_factor=0.5, length_penalty=0.2)
    parts = {"correct": [1.0, 1.0, 0.0, 1.0]}
    totals, shaped = add_length_rewards([1.0, 1.0, 0.0, 1.0], parts, [3, 6, 8, 2], config)
    assert shaped["overlong"] == [0.0, -0.5, -1.0, 0.0]
    assert shaped["length"] == [0.5, -0.5, 0.0, 0.5]  # group 2: the right answer is the shortest, the wrong one 0
    assert totals == pytest.approx([1 + 0.2 * 0.5, 1 - 0.5 * 0.5 - 0.2 * 0.5, -0.5, 1 + 0.2 * 0.5])
    assert add_length_rewards([1.0], {"correct": [1.0]}, [8], GRPOConfig(group_size=2)) == ([1.0], {"correct": [1.0]})


def test_length_rewards_refuse_a_missing_correct_reward_or_a_taken_name():
    with pytest.raises(ValueError, match="needs the reward named 'correct'"):
        add_length_rewards([1.0, 0.0], {"mine": [1.0, 0.0]}, [1, 2], GRPOConfig(group_size=2, length_penalty=0.1))
    with pytest.raises(ValueError, match="taken by the length rewards"):
        add_length_rewards([1.0, 0.0], {"overlong": [1.0, 0.0]}, [1, 2], GRPOConfig(group_size=2, overlong_cache=1))


BAD_SHAPING = [{"overlong_cache": 600}, {"overlong_factor": -1.0}, {"length_penalty": -0.1}, {"reward_normalisation": "sum"}]


@pytest.mark.parametrize("field", BAD_SHAPING)
def test_config_refuses_bad_shaping_settings(field):
    with pytest.raises(ValueError):
        GRPOConfig(**field)


def test_per_reward_advantages_normalise_each_reward_before_summing_by_hand():
    correct, fmt = [1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]
    # correct: mean 1/2, std sqrt(1/3) -> +-0.8660; format: mean 1/4, std 1/2 -> 1.5, -0.5, -0.5, -0.5
    # sum 2.3660, 0.3660, -1.3660, -1.3660: mean 0, std sqrt(9.4641 / 3) = 1.7762
    got = per_reward_advantages(torch.tensor([correct, fmt]), torch.tensor([1.0, 1.0]), 4)
    assert got.tolist() == pytest.approx([1.3320, 0.2061, -0.7690, -0.7690], abs=2e-4)
    # joint normalisation of the sum 2, 1, 0, 0 differs (mean 3/4, std 0.9574)
    joint = group_advantages(torch.tensor(correct) + torch.tensor(fmt), 4)
    assert joint.tolist() == pytest.approx([1.3056, 0.2611, -0.7833, -0.7833], abs=2e-4)
    # a reward equal across its group adds nothing; without the std only the sum is centred
    flat = per_reward_advantages(torch.tensor([correct, [1.0] * 4]), torch.tensor([1.0, 5.0]), 4, scale_by_std=False)
    assert flat.tolist() == pytest.approx([0.8660, 0.8660, -0.8660, -0.8660], abs=2e-4)
    with pytest.raises(ValueError, match="weights"):
        per_reward_advantages(torch.zeros(2, 4), torch.ones(3), 4)


def rollouts(count: int) -> list[GenerationResult]:
    return [GenerationResult(i // 2, i % 2, (1, 2), (3,), "", "eos", (0.0,), (0.0,)) for i in range(count)]


def test_step_advantages_choose_joint_or_per_reward_once_with_each_rewards_weight():
    scored = ScoredGroups(2)
    parts = {"correct": [1.0, 0.0, 1.0, 1.0], "format": [0.0, 1.0, 1.0, 0.0], "length": [0.5, 0.0, -0.5, 0.5]}
    totals = [c + 2.0 * f + 0.3 * n for c, f, n in zip(parts["correct"], parts["format"], parts["length"], strict=True)]
    scored.add(rollouts(4), [None] * 4, totals, parts)
    scored.keep(rollouts(4), totals, parts, 1)  # only the second group
    _, kept_totals, _ = scored.training_batch(0, torch.device("cpu"))
    rewards = [Reward("correct", lambda c, p: 0.0, 1.0), Reward("format", lambda c, p: 0.0, 2.0)]
    config = GRPOConfig(group_size=2, length_penalty=0.3, reward_normalisation="per-reward")
    expected = per_reward_advantages(torch.tensor([[1.0, 1.0], [1.0, 0.0], [-0.5, 0.5]]), torch.tensor([1.0, 2.0, 0.3]), 2)
    assert torch.equal(step_advantages(config, scored, kept_totals, rewards), expected)
    joint = GRPOConfig(group_size=2, length_penalty=0.3)
    assert torch.equal(step_advantages(joint, scored, kept_totals, rewards), group_advantages(torch.tensor(totals[2:]), 2))


def test_reward_part_metrics_are_each_parts_mean_and_population_std():
    sums = {"part:correct": 3.0, "part_squares:correct": 3.0, "part:overlong": -1.5, "part_squares:overlong": 1.25, "part:mine": 1.0}
    metrics = reward_part_metrics(sums, 4)
    assert metrics == pytest.approx({
        "reward_correct_mean": 0.75, "reward_correct_std": math.sqrt(0.75 - 0.75**2),
        "reward_overlong_mean": -0.375, "reward_overlong_std": math.sqrt(1.25 / 4 - 0.375**2),
    })  # fmt: skip
    assert set(metrics) <= set(COLUMNS)


def test_a_toy_step_logs_the_overlong_penalty_of_its_rollouts_by_value(monkeypatch):
    toy = toy_setting(warmup_steps=5)
    config = GRPOConfig.from_name("toy-addition", steps=1, prompts_per_step=2, group_size=4, overlong_cache=6, overlong_factor=0.5)
    learner = prepare(toy.model, toy.tokenizer, config)
    generated, original = [], groups.generate_rollouts

    def recorded(*args, **kwargs):
        results = original(*args, **kwargs)
        generated.extend(results)
        return results

    monkeypatch.setattr(groups, "generate_rollouts", recorded)
    row, _ = grpo_step(learner, toy.train, 1, default_rewards(toy.train))
    penalties = overlong_penalty([r.num_tokens for r in generated], 8, 6)
    mean = sum(penalties) / 8
    assert row["reward_overlong_mean"] == pytest.approx(mean)
    assert row["reward_overlong_std"] == pytest.approx(math.sqrt(max(sum(p * p for p in penalties) / 8 - mean**2, 0.0)), abs=1e-7)
    assert row["reward_mean"] == pytest.approx(row["reward_correct_mean"] + 0.5 * mean)
    assert "reward_length_mean" not in row  # off


def test_the_book_chapter_7_recipes_are_presets_with_their_documented_switches():
    olmo3, deepseek, gdpo = (GRPOConfig.from_name(name) for name in ("olmo3", "deepseek-v3.2", "gdpo"))
    assert (olmo3.scale_rewards, olmo3.aggregation, olmo3.dynamic_sampling, olmo3.beta) == (False, "token", "refill", 0.0)
    assert (olmo3.eps_high, olmo3.tis, olmo3.tis_c) == (0.28, "truncate", 2.0)
    assert (deepseek.scale_rewards, deepseek.off_policy_mask, deepseek.beta, deepseek.mu) == (True, 0.1, 0.02, 2)
    assert (gdpo.reward_normalisation, gdpo.format_weight) == ("per-reward", 0.1)
