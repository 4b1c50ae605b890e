"""GRPO's policy objectives (`reasoning.rl.objectives`): GSPO, CISPO and SAPO by hand, against
TRL's formula as written in its GRPOTrainer._compute_loss, over micro-batches, and in a run."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from reasoning.distributed import World
from reasoning.generation import GenerationConfig
from reasoning.rl.config import GRPOConfig, LOSSES
from reasoning.rl.losses import LossParts, grpo_loss, token_weights
from reasoning.rl.objectives import Objective, cispo, clipped, importance_ratio, objective_for, sapo
from reasoning.rl.ratio_stats import SequenceRatios
from reasoning.rl.rollout import generate_rollouts, pack
from reasoning.rl import step
from reasoning.rl.step import update
from reasoning.rl.trainer import prepare, train
from reasoning.training.toy import toy_setting

GSPO = Objective(lambda r, lp, a: clipped(r, lp, a, eps_low=3e-4, eps_high=4e-4), "sequence")


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def test_sequence_ratio_is_the_mean_log_ratio_over_masked_tokens_and_an_empty_row_is_one():
    logprobs = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -2.3, 2.0], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    log_ratio = importance_ratio(logprobs, old, mask, "sequence")
    # Row 0: mean of 0.1 and 0.3 (the masked -5 left out) on every token; row 1 has no tokens: log 1.
    assert log_ratio.flatten().tolist() == pytest.approx([0.2] * 3 + [0.0] * 3)
    log_ratio.sum().backward()  # GSPO-token: d log s_t / d log pi_t = 1, nothing to the other tokens
    assert logprobs.grad.tolist() == [[1.0] * 3, [1.0] * 3]
    assert torch.equal(importance_ratio(logprobs, old, mask, "token"), logprobs - old)
    with pytest.raises(ValueError, match="importance sampling level"):
        importance_ratio(logprobs, old, mask, "batch")


def test_gspo_clips_each_sequence_inside_and_outside_its_tiny_range():
    # Sequence log-ratios 0.0002 (inside [1 - 3e-4, 1 + 4e-4]), 0.002 with A = +1 and -0.002 with A = -1 (both outside).
    logprobs = torch.zeros(3, 2, dtype=torch.float64, requires_grad=True)
    old = -torch.tensor([[0.0001, 0.0003], [0.001, 0.003], [-0.001, -0.003]], dtype=torch.float64)
    advantages = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    weights = torch.full((3, 2), 1 / 6, dtype=torch.float64)  # "sequence": 1 / (3 rows x 2 tokens)
    parts = grpo_loss(logprobs, old, advantages, weights, eps_low=0.2, eps_high=0.2, objective=GSPO)
    inside = math.exp(0.0002)
    # Row 0: -s A; row 1: -min(s, 1.0004) = -1.0004; row 2: -min(-s, -0.9997) = 0.9997; each over 3 rows.
    assert parts.policy.item() == pytest.approx((-inside - 1.0004 + 0.9997) / 3, rel=1e-12)
    assert parts.clipped_tokens.item() == 4 and parts.clipped_sequences.item() == 2
    assert parts.sequence_ratios.tolist() == pytest.approx([inside, math.exp(0.002), math.exp(-0.002)], rel=1e-12)
    parts.loss.backward()  # only the unclipped sequence has a gradient: -s A w on each of its tokens
    assert logprobs.grad.flatten().tolist() == pytest.approx([-inside / 6] * 2 + [0.0] * 4, rel=1e-12)


def test_cispo_weighs_the_log_prob_by_the_capped_detached_ratio():
    logprobs = torch.tensor([[math.log(0.5)], [math.log(0.3)], [math.log(0.6)]], requires_grad=True)
    ratios = torch.tensor([[0.5], [3.0], [6.0]])
    advantages = torch.tensor([1.0, -2.0, 1.0])
    loss, capped = cispo(ratios.log(), logprobs, advantages, eps_max=5.0)
    assert loss.flatten().tolist() == pytest.approx([-0.5 * math.log(0.5), 6.0 * math.log(0.3), -5.0 * math.log(0.6)])
    assert capped.flatten().tolist() == [False, False, True]
    loss.sum().backward()  # every token keeps its gradient, the capped one too
    assert logprobs.grad.flatten().tolist() == pytest.approx([-0.5, 6.0, -5.0])


def test_sapo_soft_gate_by_hand_with_a_temperature_per_sign():
    ratios = torch.tensor([[1.0], [1.5], [0.5]], dtype=torch.float64)
    logprobs = torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)
    log_ratio = ratios.log() + logprobs  # d ratio / d logprob = ratio
    advantages = torch.tensor([2.0, 1.0, -1.0], dtype=torch.float64)
    loss, cut = sapo(log_ratio, logprobs, advantages, tau_pos=1.0, tau_neg=1.05)
    expected = [-0.5 * 4 * 2.0, -sigmoid(0.5) * 4, sigmoid(1.05 * -0.5) * 4 / 1.05]
    assert loss.flatten().tolist() == pytest.approx(expected, rel=1e-12)
    assert not cut.any()
    loss.sum().backward()  # d/d logp = -4 sig (1 - sig) r A: at r = 1 GRPO's -A
    gates = [(sigmoid(0.0), 1.0, 2.0), (sigmoid(0.5), 1.5, 1.0), (sigmoid(-0.525), 0.5, -1.0)]
    assert logprobs.grad.flatten().tolist() == pytest.approx([-4 * g * (1 - g) * r * a for g, r, a in gates], rel=1e-12)


def trl_loss(logps, old, advantages, mask, ref, *, loss_type, level, eps_low, eps_high, tau_pos, tau_neg, beta, max_len):
    """TRL's GRPOTrainer._compute_loss (huggingface/trl, 2026), its tensors as written there."""
    advantages = advantages.unsqueeze(1)
    log_ratio = logps - old
    if level == "token":
        log_importance_weights = log_ratio
    else:
        log_importance_weights = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    coef_1 = torch.exp(log_importance_weights)
    per_token_kl = torch.exp(ref - logps) - (ref - logps) - 1
    if loss_type == "cispo":
        per_token_loss = -torch.clamp(coef_1, max=eps_high).detach() * advantages * logps
    elif loss_type == "sapo":
        temperatures = torch.where(advantages > 0, tau_pos, tau_neg)
        per_token_loss = -torch.sigmoid(temperatures * (coef_1 - 1)) * 4 / temperatures * advantages
    else:
        coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
        per_token_loss = -torch.min(coef_1 * advantages, coef_2 * advantages)
    per_token_loss = per_token_loss + beta * per_token_kl
    if loss_type in ("grpo", "sapo"):
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "dr_grpo":
        return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_len)
    return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)  # dapo, cispo


# TRL's loss_type is our loss and aggregation together.
TRL_TYPES = {
    "grpo": ("grpo", "sequence"), "dapo": ("grpo", "token"), "dr_grpo": ("grpo", "constant"), "cispo": ("cispo", "token"),
    "sapo": ("sapo", "sequence"),
}  # fmt: skip


@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("loss_type", sorted(TRL_TYPES))
def test_each_loss_equals_trls_formula_and_gradient(loss_type, level, beta):
    generator = torch.Generator().manual_seed(0)
    n, t = 8, 6
    # GSPO's tiny epsilons at the sequence level, DAPO's at the token level: either way some ratios fall outside.
    (eps_low, eps_high), noise = ((3e-4, 4e-4), 1e-3) if level == "sequence" else ((0.2, 0.28), 0.3)
    eps_max = 1.1 if level == "token" else 0.9995  # caps some of these ratios, not all
    lengths = torch.tensor([6, 1, 0, 3, 5, 2, 6, 4])  # row 2 empty
    mask = (torch.arange(t)[None, :] < lengths[:, None]).double()
    logps = (-torch.rand(n, t, generator=generator, dtype=torch.float64) * 3).requires_grad_()
    old = logps.detach() + noise * torch.randn(n, t, generator=generator, dtype=torch.float64)
    ref = logps.detach() + 0.5 * torch.randn(n, t, generator=generator, dtype=torch.float64)
    advantages = torch.randn(n, generator=generator, dtype=torch.float64)
    loss, aggregation = TRL_TYPES[loss_type]
    config = GRPOConfig(loss=loss, importance_sampling=level, eps_low=eps_low, eps_high=eps_high, eps_max=eps_max)
    weights = token_weights(mask, aggregation, max_tokens=t).double()
    ours = grpo_loss(
        logps, old, advantages, weights, eps_low=eps_low, eps_high=eps_high, beta=beta, ref_logprobs=ref, objective=objective_for(config)
    )
    (our_grad,) = torch.autograd.grad(ours.loss, logps)
    trl_eps_high = eps_max if loss == "cispo" else eps_high  # TRL's epsilon_high is CISPO's cap
    theirs = trl_loss(logps, old, advantages, mask, ref, loss_type=loss_type, level=level, eps_low=eps_low, eps_high=trl_eps_high,
                      tau_pos=1.0, tau_neg=1.05, beta=beta, max_len=t)  # fmt: skip
    (their_grad,) = torch.autograd.grad(theirs, logps)
    assert ours.loss.item() == pytest.approx(theirs.item(), abs=1e-6)
    assert (our_grad - their_grad).abs().max().item() < 1e-6
    if loss != "sapo":  # the case is not trivial: some ratios were clipped (capped), some not
        assert 0 < ours.clipped_tokens.item() < mask.sum().item()


@pytest.mark.parametrize("aggregation", ["sequence", "token", "constant"])
@pytest.mark.parametrize("loss", LOSSES)
def test_one_and_two_micro_batches_give_the_same_gradient(loss, aggregation):
    generator = torch.Generator().manual_seed(7)
    mask = (torch.arange(5)[None, :] < torch.tensor([5, 2, 0, 4, 3, 1])[:, None]).double()
    logps = (-torch.rand(6, 5, generator=generator, dtype=torch.float64) * 2).requires_grad_()
    old = logps.detach() + 0.2 * torch.randn(6, 5, generator=generator, dtype=torch.float64)
    advantages = torch.randn(6, generator=generator, dtype=torch.float64)
    objective = objective_for(GRPOConfig(loss=loss, eps_low=0.1, eps_high=0.1, eps_max=1.1))

    def gradient(parts: list[slice]) -> torch.Tensor:
        logps.grad = None
        for part in parts:
            weights = token_weights(mask[part], aggregation, num_sequences=6, num_tokens=float(mask.sum()), max_tokens=5)
            grpo_loss(
                logps[part], old[part], advantages[part], weights, eps_low=0.1, eps_high=0.1, objective=objective, mask=mask[part]
            ).loss.backward()
        return logps.grad.clone()

    whole, halves = gradient([slice(0, 6)]), gradient([slice(0, 3), slice(3, 6)])
    assert whole.abs().sum() > 0
    assert torch.allclose(whole, halves, rtol=0, atol=1e-12)


def test_objective_is_chosen_once_by_name():
    assert objective_for(GRPOConfig()).level == "token"
    assert objective_for(GRPOConfig(loss="gspo")).level == "sequence"  # gspo is always per sequence
    assert objective_for(GRPOConfig(loss="cispo", importance_sampling="sequence")).level == "sequence"
    assert objective_for(GRPOConfig.from_name("gspo")).per_token.keywords == {"eps_low": 3e-4, "eps_high": 4e-4}
    assert objective_for(GRPOConfig.from_name("sapo", sapo_tau_neg=2.0)).per_token.keywords == {"tau_pos": 1.0, "tau_neg": 2.0}
    for bad in ({"loss": "ppo"}, {"importance_sampling": "batch"}, {"eps_max": 0.0}, {"sapo_tau_neg": -1.0}):
        with pytest.raises(ValueError):
            GRPOConfig(**bad)


def parts_with(ratios: list[float], clipped_sequences: int) -> LossParts:
    zero = torch.zeros(())
    return LossParts(zero, zero, zero, zero, torch.tensor(ratios), torch.tensor(clipped_sequences))


def test_sequence_ratio_columns_by_value_over_micro_batches():
    ratios = SequenceRatios()
    ratios.add(parts_with([1.0, 0.5], 1))
    ratios.add(parts_with([], 0))  # an idle micro-batch
    ratios.add(parts_with([2.0, 1.5], 2))
    ratios.add(LossParts(*[torch.zeros(())] * 4))  # token-level parts add nothing
    assert ratios.columns("sequence", World()) == {
        "seq_ratio_mean": 1.25,
        "seq_ratio_min": 0.5,
        "seq_ratio_max": 2.0,
        "seq_clip_fraction": 0.75,
    }
    assert set(ratios.columns("token", World()).values()) == {None}


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("loss", LOSSES)
def test_a_short_toy_run_with_each_loss_completes_and_logs_its_ratios(tmp_path, loss):
    toy = toy_setting(warmup_steps=5)
    settings = {"gspo": {"eps_low": 3e-4, "eps_high": 4e-4}, "cispo": {"aggregation": "token"}}.get(loss, {})
    config = GRPOConfig.from_name("toy-addition", steps=2, prompts_per_step=4, group_size=4, mu=2, lr=3e-3, loss=loss,
                                  checkpoint_every=0, eval_every=0, **settings)  # fmt: skip
    rows = train(prepare(toy.model, toy.tokenizer, config), toy.train, tmp_path)
    assert [row["step"] for row in rows] == [1, 2]
    for row in rows:
        assert math.isfinite(row["loss"]) and 0 <= row["clip_fraction"] <= 1
        if loss == "gspo":  # the first pass has ratio 1 on every sequence, the second has moved
            assert row["seq_ratio_min"] <= 1.0 <= row["seq_ratio_max"] and 0 <= row["seq_clip_fraction"] <= 1
            assert row["seq_ratio_min"] <= row["seq_ratio_mean"] <= row["seq_ratio_max"]
        else:
            assert row["seq_ratio_mean"] is None and row["seq_clip_fraction"] is None
        if loss == "sapo":
            assert row["clip_fraction"] == 0.0


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("loss", LOSSES)
def test_update_with_each_loss_over_one_or_three_micro_batches_agrees(loss, monkeypatch):
    """The old policy is a perturbed copy (ratios away from 1) and the learning rate 0 (both passes
    alike, AdamW moves nothing): loss, gradient norm, clip and sequence ratio columns do not depend
    on how the batch is split."""
    toy = toy_setting(warmup_steps=5)
    problems = toy.train.problems[:2]
    results = generate_rollouts(toy.model, toy.tokenizer, [p.question for p in problems], GenerationConfig(n=4, max_new_tokens=6, seed=3))
    old_policy = copy.deepcopy(toy.model)
    with torch.no_grad():
        for parameter in old_policy.parameters():
            parameter.add_(0.02 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(parameter.numel())))
    old_logprobs = step._no_grad_logprobs
    monkeypatch.setattr(step, "_no_grad_logprobs", lambda model, *args: old_logprobs(old_policy, *args))
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5, -1.0, 1.0, 0.0, 0.0])
    settings = {"gspo": {"eps_low": 0.01, "eps_high": 0.01}, "cispo": {"eps_max": 1.0}}.get(loss, {"eps_low": 0.05, "eps_high": 0.05})
    config = GRPOConfig.from_name("toy-addition", group_size=4, max_new_tokens=6, mu=2, loss=loss, **settings)
    stats = []
    for micro_batch_size in (8, 3):
        learner = prepare(copy.deepcopy(toy.model), toy.tokenizer, dataclasses.replace(config, micro_batch_size=micro_batch_size))
        for group in learner.optimizer.param_groups:
            group["lr"] = 0.0
        stats.append(update(learner, pack(results, learner.pad_id), advantages, torch.ones(8)))
    whole, micro = stats
    for key in ("loss", "grad_norm", "clip_fraction", "seq_ratio_mean", "seq_ratio_min", "seq_ratio_max", "seq_clip_fraction"):
        if whole[key] is not None or micro[key] is not None:
            assert micro[key] == pytest.approx(whole[key], rel=1e-5, abs=1e-7), key
    assert (whole["seq_ratio_max"] is not None) == (loss == "gspo")
    if loss == "gspo":
        assert whole["seq_ratio_min"] < whole["seq_ratio_max"] and whole["seq_ratio_max"] > 1.01  # beyond eps_high
        assert 0 < whole["seq_clip_fraction"] < 1  # the positive-advantage sequences above 1.01
    if loss in ("grpo", "cispo"):
        assert 0 < whole["clip_fraction"] < 1
