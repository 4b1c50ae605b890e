"""One GRPO step (`reasoning.rl.step`): every column of its row by hand, the normalisers, the clip fraction."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from reasoning.generation.api import GenerationResult
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.rl import groups, step
from reasoning.rl.config import GRPOConfig
from reasoning.rl.groups import step_problems
from reasoning.rl.losses import group_advantages, grpo_loss
from reasoning.rl.rewards import default_rewards
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.step import grpo_step, update
from reasoning.rl.trainer import prepare
from reasoning.training.toy import toy_setting, toy_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


def alternating_scores(equal_ids: set[str]):
    """A stand-in for rewards.score: 0 for every sample of a problem in equal_ids (a group of
    equal rewards), else 0, 1, 0, 1, ... by position (so every other group of 4 varies)."""

    def score(completions, problems, rewards):
        totals = [0.0 if p.id in equal_ids else float(i % 2) for i, p in enumerate(problems)]
        return totals, {"correct": totals}

    return score


def test_step_metrics_by_hand_with_dynamic_sampling(monkeypatch):
    """Every column of a step's row from its rollouts: 3 of 8 groups have equal rewards and are skipped."""
    toy = toy_setting(warmup_steps=5)
    config = GRPOConfig.from_name("toy-addition", steps=1, prompts_per_step=8, group_size=4, dynamic_sampling="skip", micro_batch_size=5)
    learner = prepare(toy.model, toy.tokenizer, config)
    chosen = step_problems(toy.train.problems, 1, 8, config.seed)
    equal = {chosen[i].id for i in (1, 4, 6)}
    monkeypatch.setattr(groups, "score", alternating_scores(equal))
    generated = []

    def recorded(*args, **kwargs):
        generated.extend(generate_rollouts(*args, **kwargs))
        return generated

    monkeypatch.setattr(groups, "generate_rollouts", recorded)  # "skip": one round of 32 rollouts
    before = copy.deepcopy(learner.model)
    row, _ = grpo_step(learner, toy.train, 1, default_rewards(toy.train))

    assert (row["groups_used"], row["groups_skipped"]) == (5, 3)
    assert row["reward_mean"] == row["accuracy"] == 10 / 32  # 5 groups of 0, 1, 0, 1
    assert row["reward_std"] == pytest.approx(math.sqrt(10 / 32 - (10 / 32) ** 2))
    assert row["format"] is None and row["kl"] is None and row["clip_fraction"] == 0.0  # mu = 1: ratio 1
    lengths = [r.num_tokens for r in generated]
    assert row["rollout_tokens"] == sum(lengths) and row["response_length"] == pytest.approx(sum(lengths) / 32)
    assert row["truncated"] == pytest.approx(sum(r.finish_reason == "length" for r in generated) / 32)
    # The kept groups' token-mean loss at ratio 1, its gradient and the entropy, in one pass.
    kept = pack([r for g in range(8) if chosen[g].id not in equal for r in generated[4 * g : 4 * g + 4]], learner.pad_id)
    advantages, mask = group_advantages(torch.tensor([0.0, 1.0] * 10), 4), kept.completion_mask
    logprobs, entropy = teacher_forced_logprobs(before, kept, config.temperature, with_entropy=True)
    (-(advantages[:, None] * logprobs * mask).sum() / mask.sum()).backward()
    grad_norm = torch.stack([p.grad.norm() for p in before.parameters()]).norm()
    assert row["loss"] == pytest.approx(float(-(advantages * mask.sum(dim=1)).sum() / mask.sum()), rel=1e-5, abs=1e-7)
    assert row["entropy"] == pytest.approx(float((entropy * mask).sum() / mask.sum()), rel=1e-5)
    assert row["grad_norm"] == pytest.approx(float(grad_norm), rel=1e-4)


def truncated_rollouts() -> list[GenerationResult]:
    """Two groups of 4 toy rollouts of lengths 3 2 4 4 | 1 4 2 3, rows 2 and 5 cut by a budget of 4."""
    lengths, ends = [3, 2, 4, 4, 1, 4, 2, 3], ["eos", "eos", "length", "eos", "eos", "length", "eos", "eos"]
    prompts = [toy_tokenizer().encode(text) for text in ("1+2=", "3+4=")]
    return [
        GenerationResult(i // 4, i % 4, tuple(prompts[i // 4]), tuple(range(10, 10 + n)), "", end, (0.0,) * n, (0.0,) * n)
        for i, (n, end) in enumerate(zip(lengths, ends))
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("aggregation", "expected"), [("sequence", 0.25 / 8), ("constant", 1.25 / (8 * 4)), ("token", 1.25 / 15)]
)  # fmt: skip
def test_update_normalises_by_every_sequence_even_fully_masked_ones(aggregation, expected):
    """Rows 2 and 5 are truncated and masked (mask_truncated); GRPO and Dr. GRPO still divide by
    all 8 rows (TRL's grpo and dr_grpo too), and micro-batches add up to the whole batch."""
    toy, results = toy_setting(warmup_steps=0), truncated_rollouts()
    # Advantages .75 -.25 -.25 -.25 | .5 .5 -.5 -.5; at ratio 1 a row's token loss is -A. Unmasked rows:
    # sum of -A = 0.25 ("sequence": / 8 rows), sum of -A x length = 1.25 ("constant": / (8 x 4); "token": / 15 tokens).
    advantages = group_advantages(torch.tensor([1.0, 0, 0, 0, 1, 1, 0, 0]), 4, scale_by_std=False)
    config = GRPOConfig.from_name("toy-addition", group_size=4, max_new_tokens=4, aggregation=aggregation, mask_truncated=True)
    outcomes = []
    for micro_batch_size in (8, 3):
        learner = prepare(copy.deepcopy(toy.model), toy.tokenizer, dataclasses.replace(config, micro_batch_size=micro_batch_size))
        stats = update(learner, pack(results, learner.pad_id), advantages, torch.ones(8))
        assert stats["loss"] == pytest.approx(expected, rel=1e-6)
        outcomes.append((stats, {name: p.grad for name, p in learner.model.named_parameters()}))  # the (clipped) gradient
    (whole, whole_grads), (micro, micro_grads) = outcomes
    assert micro["grad_norm"] == pytest.approx(whole["grad_norm"], rel=1e-5)
    assert micro["entropy"] == pytest.approx(whole["entropy"], rel=1e-6)
    for name, grad in whole_grads.items():  # equal up to float32 summation order
        assert (micro_grads[name] - grad).abs().max() <= 1e-5 * grad.abs().max(), name


@pytest.mark.parametrize("aggregation", ["sequence", "constant", "token"])
def test_clip_fraction_is_the_share_of_loss_tokens_clipped(monkeypatch, aggregation):
    """Were every loss token clipped in both passes, the fraction is 1 whatever the aggregation
    (the clipped tokens' loss weights would sum to 15/32 under "constant")."""

    def all_clipped(*args, **kwargs):
        parts = grpo_loss(*args, **kwargs)
        return dataclasses.replace(parts, clipped_tokens=(args[3] != 0).sum())  # args[3]: the weights

    monkeypatch.setattr(step, "grpo_loss", all_clipped)
    toy = toy_setting(warmup_steps=0)
    config = GRPOConfig.from_name("toy-addition", group_size=4, max_new_tokens=4, aggregation=aggregation, mask_truncated=True, mu=2, micro_batch_size=3)
    learner = prepare(toy.model, toy.tokenizer, config)
    stats = update(learner, pack(truncated_rollouts(), learner.pad_id), torch.tensor([1.0, -1.0] * 4), torch.ones(8))
    assert stats["clip_fraction"] == 1.0
