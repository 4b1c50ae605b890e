"""GRPO's pure functions against numbers computed by hand, one variant at a time."""

from __future__ import annotations

import math

import pytest
import torch

from reasoning.generation.api import GenerationResult
from reasoning.logprobs import token_entropy
from reasoning.rl.losses import (
    clipped_objective,
    group_advantages,
    grpo_loss,
    kl_k3,
    token_weights,
    zero_variance_groups,
)
from reasoning.rl.rollout import pack


def test_advantages_scaled_by_group_std():
    # mean 0.25; deviations 0.75, -0.25 x3; Bessel std sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    advantages = group_advantages(rewards, 4, eps=0.0 + 1e-12)
    assert advantages[:4].tolist() == pytest.approx([1.5, -0.5, -0.5, -0.5])
    assert advantages[4:].tolist() == [0.0] * 4  # equal rewards: zero, not NaN


def test_advantages_without_std_dr_grpo():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 1.0])
    assert group_advantages(rewards[:4], 4, scale_by_std=False).tolist() == [0.75, -0.25, -0.25, -0.25]
    assert group_advantages(rewards[4:], 2, scale_by_std=False).tolist() == [1.0, -1.0]


def test_advantages_reject_a_partial_group():
    with pytest.raises(ValueError, match="multiple of group_size"):
        group_advantages(torch.zeros(5), 4)


def test_zero_variance_groups_found():
    rewards = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    assert zero_variance_groups(rewards, 2).tolist() == [True, False, True]


MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])


def test_token_weights_token_level_mean():
    assert token_weights(MASK, "token").tolist() == [[0.25] * 3 + [0.0], [0.25, 0, 0, 0]]


def test_token_weights_sequence_level_mean():
    weights = token_weights(MASK, "sequence")
    assert weights[0].tolist() == pytest.approx([1 / 6] * 3 + [0.0])
    assert weights[1].tolist() == [0.5, 0.0, 0.0, 0.0]


def test_token_weights_constant_normaliser_dr_grpo():
    assert token_weights(MASK, "constant", max_tokens=4).tolist() == [[0.125] * 3 + [0.0], [0.125, 0, 0, 0]]
    with pytest.raises(ValueError, match="max_tokens"):
        token_weights(MASK, "constant")


def test_token_weights_of_micro_batches_sum_to_the_whole_batch():
    for aggregation in ("token", "sequence"):
        whole = token_weights(MASK, aggregation)
        parts = [token_weights(MASK[i : i + 1], aggregation, num_sequences=2, num_tokens=4.0) for i in range(2)]
        assert torch.equal(torch.cat(parts), whole)


def test_token_weights_count_a_fully_masked_sequence_in_every_normaliser_but_token():
    # Row 2 was truncated and masked (mask_truncated): it adds nothing, but GRPO's and Dr. GRPO's N is 3.
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    expected = {
        "sequence": [[1 / 9] * 3 + [0.0], [1 / 3, 0, 0, 0], [0.0] * 4],  # (1/3) x each row's token mean
        "constant": [[1 / 12] * 3 + [0.0], [1 / 12, 0, 0, 0], [0.0] * 4],  # 1 / (3 rows x budget 4)
        "token": [[0.25] * 3 + [0.0], [0.25, 0, 0, 0], [0.0] * 4],  # 1 / 4 tokens
    }
    for aggregation, weights in expected.items():
        whole = token_weights(mask, aggregation, max_tokens=4)
        assert torch.allclose(whole, torch.tensor(weights)), aggregation
        rows = [token_weights(mask[i : i + 1], aggregation, num_sequences=3, num_tokens=4.0, max_tokens=4) for i in range(3)]
        assert torch.equal(torch.cat(rows), whole), aggregation  # micro-batches (or ranks) of one row each


def test_token_weights_unknown_aggregation():
    with pytest.raises(ValueError, match="unknown loss aggregation"):
        token_weights(MASK, "mean")


def ratios_to_logprobs(ratios: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    old = torch.full((len(ratios), 1), math.log(0.5))
    return old + torch.tensor(ratios).log()[:, None], old


def test_clipped_objective_each_case():
    logprobs, old = ratios_to_logprobs([1.5, 1.5, 0.5, 0.5])
    advantages = torch.tensor([1.0, -1.0, -1.0, 1.0])
    loss, clipped = clipped_objective(logprobs, old, advantages, 0.2, 0.2)
    # r=1.5,A=+1: min(1.5, 1.2) -> 1.2 (clipped); r=1.5,A=-1: min(-1.5, -1.2) -> -1.5;
    # r=0.5,A=-1: min(-0.5, -0.8) -> -0.8 (clipped); r=0.5,A=+1: min(0.5, 0.8) -> 0.5.
    assert loss.flatten().tolist() == pytest.approx([-1.2, 1.5, 0.8, -0.5])
    assert clipped.flatten().tolist() == [True, False, True, False]


def test_clip_higher_lets_a_positive_ratio_grow_further():
    logprobs, old = ratios_to_logprobs([1.25])
    symmetric, clipped = clipped_objective(logprobs, old, torch.tensor([1.0]), 0.2, 0.2)
    higher, not_clipped = clipped_objective(logprobs, old, torch.tensor([1.0]), 0.2, 0.28)
    assert symmetric.item() == pytest.approx(-1.2) and clipped.item()
    assert higher.item() == pytest.approx(-1.25) and not not_clipped.item()


def test_kl_k3_by_hand():
    logprobs = torch.tensor([[math.log(0.5), math.log(0.3)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.3)]])
    # d = log(0.25 / 0.5) = -log 2: exp(d) - d - 1 = 0.5 + log 2 - 1
    assert kl_k3(logprobs, ref).flatten().tolist() == pytest.approx([0.5 + math.log(2) - 1, 0.0])


def test_grpo_loss_adds_weighted_policy_and_kl_and_counts_clipped_tokens():
    logprobs, old = ratios_to_logprobs([1.5, 1.0, 1.5])
    ref = old - math.log(2)  # reference half as likely: d = -log 3, -log 2, -log 3
    weights = torch.tensor([[0.25], [0.75], [0.0]])  # the third token is masked out
    parts = grpo_loss(logprobs, old, torch.tensor([1.0, 2.0, 1.0]), weights, eps_low=0.2, eps_high=0.2, beta=0.1, ref_logprobs=ref)
    policy = 0.25 * -1.2 + 0.75 * -2.0
    kl = 0.25 * (1 / 3 + math.log(3) - 1) + 0.75 * (0.5 + math.log(2) - 1)
    assert parts.policy.item() == pytest.approx(policy)
    assert parts.kl.item() == pytest.approx(kl)
    assert parts.loss.item() == pytest.approx(policy + 0.1 * kl)
    assert parts.clipped_tokens.item() == 1  # the first token; the third is clipped too but has weight 0
    with pytest.raises(ValueError, match="ref_logprobs"):
        grpo_loss(logprobs, old, torch.ones(3), weights, eps_low=0.2, eps_high=0.2, beta=0.1)


def test_on_policy_gradient_is_minus_advantage_times_weight():
    """mu = 1: old = current log-probs detached, ratio 1, d loss / d logprob = -A w (REINFORCE)."""
    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    weights = torch.tensor([[0.25, 0.25], [0.5, 0.0]])
    advantages = torch.tensor([2.0, -1.0])
    grpo_loss(logprobs, logprobs.detach(), advantages, weights, eps_low=0.2, eps_high=0.2).loss.backward()
    assert logprobs.grad.tolist() == [[-0.5, -0.5], [0.5, 0.0]]


def test_token_entropy_uniform_and_point_mass():
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, -1e9, -1e9, -1e9], [0.0, 0.0, -math.inf, -math.inf]])
    assert token_entropy(logits).tolist() == pytest.approx([math.log(4), 0.0, math.log(2)])


def result(prompt: list[int], tokens: list[int], finish: str) -> GenerationResult:
    return GenerationResult(0, 0, tuple(prompt), tuple(tokens), "", finish, tuple([-1.0] * len(tokens)), tuple([-0.5] * len(tokens)))


def test_pack_masks_padding_and_marks_truncated_completions():
    batch = pack([result([5, 6, 7], [8, 9], "eos"), result([5], [3, 4, 2], "length")], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9], [5, 3, 4, 2, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    # position t predicts token t + 1: completion tokens 8, 9 are predicted from positions 2, 3
    assert batch.completion_mask.tolist() == [[0, 0, 1, 1], [1, 1, 1, 0]]
    assert batch.sampling_logprobs.tolist() == [[0, 0, -0.5, -0.5], [-0.5, -0.5, -0.5, 0]]
    assert batch.truncated.tolist() == [False, True]
