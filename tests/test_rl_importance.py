"""Importance sampling against the sampling engine (`reasoning.rl.importance`): the pure pieces by
hand, then one GRPO step whose rollouts come from a deliberately mismatched sampler."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch

from reasoning.logprobs import teacher_forced_logprobs
from reasoning.rl import groups
from reasoning.rl.config import GRPOConfig
from reasoning.rl.importance import (
    correction_metrics,
    engine_logprobs,
    off_policy_keep,
    sampler_correction,
    sampler_log_ratio,
    tis_weights,
)
from reasoning.rl.losses import group_advantages
from reasoning.rl.metrics import COLUMNS
from reasoning.rl.rewards import default_rewards
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl.step import grpo_step
from reasoning.rl.trainer import prepare
from reasoning.training.toy import toy_setting

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest

LOG = math.log
MASK = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])


def test_engine_logprobs_compare_like_with_like():
    """Without top-p the sampled distribution is the trainer's (full vocabulary at T); at T = 1 the raw ones are."""
    sampling, raw = torch.full((1, 2), -1.0), torch.full((1, 2), -2.0)
    assert engine_logprobs(sampling, raw, temperature=0.7, top_p=1.0) is sampling
    assert engine_logprobs(sampling, raw, temperature=1.0, top_p=0.9) is raw
    with pytest.raises(ValueError, match="top_p 0.9"):
        engine_logprobs(sampling, raw, temperature=0.7, top_p=0.9)


def test_log_ratio_per_token_and_per_sequence():
    old = torch.tensor([[-1.0, -2.0, -9.0], [-0.5, -0.5, -0.5]])
    engine = torch.tensor([[-1.5, -1.0, -3.0], [-0.5, -1.0, -0.25]])
    token = sampler_log_ratio(old, engine, MASK, "token")
    assert token.tolist() == [[0.5, -1.0, 0.0], [0.0, 0.5, -0.25]]  # padding contributes nothing
    assert sampler_log_ratio(old, engine, MASK, "sequence").tolist() == [[-0.5] * 3, [0.25] * 3]  # log of the product
    with pytest.raises(ValueError, match="level"):
        sampler_log_ratio(old, engine, MASK, "batch")


def test_truncate_caps_rho_at_c_and_mask_zeroes_it_outside_the_band():
    log_ratio = torch.tensor([LOG(0.25), LOG(0.6), 0.0, LOG(1.9), LOG(3.0)])
    weight, limited = tis_weights(log_ratio, "truncate", c=2.0, c_min=0.5)
    torch.testing.assert_close(weight, torch.tensor([0.25, 0.6, 1.0, 1.9, 2.0]))  # one-sided, as Yao et al.'s TIS
    assert limited.tolist() == [False, False, False, False, True]
    weight, limited = tis_weights(log_ratio, "mask", c=2.0, c_min=0.5)
    torch.testing.assert_close(weight, torch.tensor([0.0, 0.6, 1.0, 1.9, 0.0]))
    assert limited.tolist() == [True, False, False, False, True]
    with pytest.raises(ValueError, match="mode"):
        tis_weights(log_ratio, "clip", c=2.0, c_min=0.5)


def test_off_policy_mask_drops_only_negative_advantage_sequences_far_from_the_sampler():
    # mean_t(engine - current) over each row's tokens: 0.5, 0.5, 0.1, 0.5
    current = torch.tensor([[-2.0, -1.0, 0.0], [-2.0, -1.0, 0.0], [-1.0, -1.0, -1.0], [-1.0, -1.0, -1.0]])
    engine = torch.tensor([[-1.5, -0.5, -7.0], [-1.5, -0.5, 0.0], [-0.9, -0.9, -0.9], [-0.5, -0.5, -0.5]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    advantages = torch.tensor([-1.0, 1.0, -1.0, 0.0])
    assert off_policy_keep(advantages, current, engine, mask, delta=0.3).tolist() == [0.0, 1.0, 1.0, 1.0]
    assert off_policy_keep(advantages, current, engine, mask, delta=0.5).tolist() == [1.0] * 4  # > delta, not >=


def correction_inputs():
    """Two sequences (2 and 3 loss tokens) whose old-vs-engine token log-ratios are log 3, log 0.5 | 0, log 1.5, log 0.25."""
    engine = torch.tensor([[-2.0, -1.0, 0.0], [-1.0, -1.0, -1.0]])
    old = engine + torch.log(torch.tensor([[3.0, 0.5, 1.0], [1.0, 1.5, 0.25]]))
    current = old - torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])  # row 1 drifted: mean(engine - current) = 1 - 0.2877...
    batch = SimpleNamespace(sampling_logprobs=engine, model_logprobs=torch.zeros_like(engine))
    return batch, old, current, torch.tensor([1.0, -1.0])


def test_token_truncation_factor_and_its_metrics_by_hand():
    batch, old, current, advantages = correction_inputs()
    config = GRPOConfig(tis="truncate", tis_c=2.0)
    factor, sums = sampler_correction(config, batch, old, current, advantages, MASK)
    torch.testing.assert_close(factor, torch.tensor([[2.0, 0.5, 1.0], [1.0, 1.5, 0.25]]))
    metrics = correction_metrics(sums, config)
    assert metrics["tis_ratio"] == pytest.approx((3 + 0.5 + 1 + 1.5 + 0.25) / 5)
    assert metrics["tis_limited"] == pytest.approx(1 / 5)
    gap = (LOG(3) + LOG(2) + 0 + LOG(1.5) + LOG(4)) / 5  # mean |old - engine| over loss tokens
    assert metrics["sampler_logprob_gap"] == pytest.approx(gap)
    assert metrics["off_policy_masked"] is None


def test_sequence_mask_with_off_policy_mask_by_hand():
    """Sequence rho: 3 x 0.5 = 1.5 (kept) and 1 x 1.5 x 0.25 = 0.375 (outside [0.5, 2]: masked);
    row 1 has A < 0 and mean(engine - current) = 1 + mean(log old - log engine) = 0.7123 > 0.5: dropped."""
    batch, old, current, advantages = correction_inputs()
    config = GRPOConfig(tis="mask", tis_level="sequence", tis_c=2.0, tis_c_min=0.5, off_policy_mask=0.5)
    factor, sums = sampler_correction(config, batch, old, current, advantages, MASK)
    torch.testing.assert_close(factor, torch.tensor([[1.5, 1.5, 1.5], [0.0, 0.0, 0.0]]))
    metrics = correction_metrics(sums, config)
    assert metrics["tis_ratio"] == pytest.approx((1.5 + 0.375) / 2) and metrics["tis_limited"] == pytest.approx(1 / 2)
    assert metrics["off_policy_masked"] == pytest.approx(1 / 2)


def test_both_switches_off_leave_the_weights_alone_and_log_nothing():
    batch, old, current, advantages = correction_inputs()
    factor, sums = sampler_correction(GRPOConfig(), batch, old, current, advantages, MASK)
    assert torch.equal(factor, torch.ones_like(MASK)) and sums == {}
    assert set(correction_metrics(sums, GRPOConfig()).values()) == {None}
    assert {"tis_ratio", "tis_limited", "sampler_logprob_gap", "off_policy_masked"} <= set(COLUMNS)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"tis": "clip"}, "tis in off, truncate, mask"),
        ({"tis_level": "batch"}, "tis_level"),
        ({"tis_c": 1.0, "tis_c_min": 1.0}, "tis_c_min < tis_c"),
        ({"off_policy_mask": -0.1}, "off_policy_mask >= 0"),
        ({"tis": "truncate", "temperature": 0.7, "top_p": 0.9}, "set temperature or top_p to 1"),
        ({"off_policy_mask": 0.5, "temperature": 0.7, "top_p": 0.9}, "set temperature or top_p to 1"),
    ],
)
def test_config_refuses_settings_it_cannot_honour(fields, words):
    with pytest.raises(ValueError, match=words):
        GRPOConfig(**fields)


def alternating_scores(completions, problems, rewards):
    """Rewards 0, 1, 0, 1, ... by position: every group of 4 has two negative advantages."""
    totals = [float(i % 2) for i in range(len(problems))]
    return totals, {"correct": totals}


@pytest.mark.parametrize(
    ("mode", "level", "c", "c_min", "top_p"),
    [
        ("truncate", "token", 1.0, 0.5, 1.0), ("mask", "token", 1.5, 0.7, 1.0), ("mask", "sequence", 1.5, 0.5, 1.0),
        ("truncate", "sequence", 1.0, 0.5, 0.8),
    ],
)  # fmt: skip
def test_step_against_a_mismatched_sampler_logs_the_exact_ratio(monkeypatch, mode, level, c, c_min, top_p):
    """Rollouts drawn from a copy of the policy whose logits are scaled by 1.5 (its final norm's
    weight): the logged ratio, truncation or mask count, log-prob gap, off-policy mask share and
    the loss equal those computed from both models by teacher forcing, under the full
    distribution at the sampling temperature (0.8 without top-p; 1 with it, TRL #6789's trap)."""
    toy = toy_setting(warmup_steps=5)
    config = GRPOConfig.from_name(
        "toy-addition", steps=1, prompts_per_step=4, group_size=4, micro_batch_size=5, tis=mode, tis_level=level, tis_c=c,
        tis_c_min=c_min, off_policy_mask=0.05, temperature=0.8 if top_p == 1 else 1.0, top_p=top_p,
    )  # fmt: skip
    learner = prepare(toy.model, toy.tokenizer, config)
    sampler = copy.deepcopy(learner.plain)
    with torch.no_grad():
        sampler.norm.weight.mul_(1.5)
    generated = []

    def from_sampler(model, *args, **kwargs):
        generated.extend(generate_rollouts(sampler, *args, **kwargs))
        return generated

    monkeypatch.setattr(groups, "generate_rollouts", from_sampler)
    monkeypatch.setattr(groups, "score", alternating_scores)
    before = copy.deepcopy(learner.model)
    row, _ = grpo_step(learner, toy.train, 1, default_rewards(toy.train))

    batch = pack(generated, learner.pad_id)
    mask = batch.completion_mask
    with torch.no_grad():
        old = teacher_forced_logprobs(before, batch, config.temperature)[0]
        sampled = teacher_forced_logprobs(sampler, batch, config.temperature)[0]
    log_ratio = (old - sampled) * mask
    rho = torch.exp(log_ratio)[mask.bool()] if level == "token" else torch.exp(log_ratio.sum(dim=1))
    outside = (rho > c) if mode == "truncate" else (rho > c) | (rho < c_min)
    assert 0 < int(outside.sum()) < rho.numel()  # the mismatch is large enough to truncate some, not all
    assert float((rho - c).abs().min()) > 1e-3 and (mode == "truncate" or float((rho - c_min).abs().min()) > 1e-3)
    assert row["tis_ratio"] == pytest.approx(float(rho.mean()), rel=1e-4)
    assert round(row["tis_limited"] * rho.numel()) == int(outside.sum())
    assert row["sampler_logprob_gap"] == pytest.approx(float(log_ratio.abs().sum() / mask.sum()), rel=1e-4)

    advantages = group_advantages(torch.tensor([0.0, 1.0] * 8), 4)
    drift = ((sampled - old) * mask).sum(dim=1) / mask.sum(dim=1)  # mu = 1: the current policy is the old one
    dropped = (advantages < 0) & (drift > 0.05)
    assert float((drift - 0.05).abs().min()) > 1e-4
    assert row["off_policy_masked"] == pytest.approx(float(dropped.float().mean()))
    weight = rho.clamp(max=c) if mode == "truncate" else rho.masked_fill(outside, 0.0)
    factor = torch.zeros_like(mask)
    if level == "token":
        factor[mask.bool()] = weight
    else:
        factor = weight[:, None] * mask
    factor = factor * (~dropped)[:, None]
    # The ratio to the old policy is 1 (mu = 1), so each token's loss is -A times its factor; token mean over the batch.
    expected = float(-(advantages[:, None] * factor).sum() / mask.sum())
    assert row["loss"] == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_the_correction_scales_the_policy_term_and_leaves_the_kl_alone():
    from reasoning.rl.losses import grpo_loss, kl_k3

    torch.manual_seed(0)
    logprobs = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    old, ref = logprobs.detach() + 0.1, logprobs.detach() - 0.2
    advantages, weights = torch.tensor([1.0, -1.0], dtype=torch.float64), torch.full((2, 3), 1 / 6, dtype=torch.float64)
    factor = torch.tensor([[0.5, 1.0, 2.0], [0.0, 0.0, 0.0]], dtype=torch.float64)  # truncated tokens; a masked sequence
    plain = grpo_loss(logprobs, old, advantages, weights, eps_low=0.2, eps_high=0.2, beta=0.1, ref_logprobs=ref)
    scaled = grpo_loss(logprobs, old, advantages, weights, eps_low=0.2, eps_high=0.2, beta=0.1, ref_logprobs=ref, policy_factor=factor)
    ratio = torch.exp(logprobs.detach() - old)
    per_token = -torch.minimum(ratio * advantages[:, None], ratio.clamp(0.8, 1.2) * advantages[:, None])
    assert torch.allclose(scaled.policy, (weights * factor * per_token).sum())
    assert torch.allclose(scaled.kl, plain.kl) and torch.allclose(scaled.kl, (weights * kl_k3(logprobs.detach(), ref)).sum())


def test_the_unbiased_kl_is_k3_reweighted_by_the_ratio_to_the_old_policy():
    from reasoning.rl.config import PRESETS
    from reasoning.rl.losses import grpo_loss

    logprobs = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=torch.float64, requires_grad=True)
    old = torch.tensor([[-1.2, -2.0], [-0.4, -2.5]], dtype=torch.float64)
    ref = torch.tensor([[-0.9, -2.2], [-0.7, -2.0]], dtype=torch.float64)
    weights = torch.full((2, 2), 0.25, dtype=torch.float64)
    advantages = torch.tensor([1.0, -1.0], dtype=torch.float64)
    parts = grpo_loss(logprobs, old, advantages, weights, eps_low=0.2, eps_high=0.2, beta=0.5, ref_logprobs=ref, kl_estimator="unbiased-k3")
    by_hand = 0.0
    for p, q, r in zip(logprobs.detach().flatten().tolist(), old.flatten().tolist(), ref.flatten().tolist()):
        by_hand += 0.25 * math.exp(p - q) * (math.exp(r - p) - (r - p) - 1)
    assert abs(float(parts.kl) - by_hand) < 1e-12
    plain = grpo_loss(logprobs, old, advantages, weights, eps_low=0.2, eps_high=0.2, beta=0.5, ref_logprobs=ref)
    assert abs(float(plain.kl) - by_hand) > 1e-3  # the ratio is not 1: the two estimators differ
    assert PRESETS["deepseek-v3.2"].kl_estimator == "unbiased-k3" and PRESETS["grpo"].kl_estimator == "k3"
