"""One GRPO step: sample and score groups, group-relative advantages, mu clipped-objective passes.

The "old" log-probs of the ratio are those of the policy before the step's first update, under
the same temperature the loss uses: with mu = 1 they are the current log-probs detached (ratio
1, as in TRL), with mu > 1 a no-grad forward pass computes them once before the first update.
That temperature is the one rollouts were sampled at, so the policy gradient is that of the
distribution actually sampled (top-p aside). The passes run over the batch in micro-batches
(gradient accumulation), the same number on every rank (FSDP gathers weights in each).

With LoRA (lora_rank > 0) only the adapters train and hold AdamW state, rollouts decode through
them, and the KL reference is the policy with its adapters off (no second copy in memory).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from reasoning import distributed
from reasoning.evaluation.tasks import Task
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.lora import has_lora, lora_disabled
from reasoning.rl.config import GRPOConfig
from reasoning.rl.groups import ScoredGroups, sample_and_score, step_problems
from reasoning.rl.importance import correction_metrics, sampler_correction
from reasoning.rl.losses import group_advantages, grpo_loss, per_reward_advantages, token_weights
from reasoning.rl.metrics import reward_part_metrics
from reasoning.rl.objectives import objective_for
from reasoning.rl.ratio_stats import SequenceRatios
from reasoning.rl.rewards import Reward, length_weights
from reasoning.rl.rollout import RolloutBatch
from reasoning.training import fsdp
from reasoning.training.learner import Learner, device_of


def grpo_step(
    learner: Learner[GRPOConfig], task: Task, step: int, rewards: Sequence[Reward]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One GRPO step on this rank's share of the step's prompts: sample and score, advantages,
    update, log. The step's metrics (all ranks) and its samples."""
    config, world = learner.config, learner.world
    began = time.perf_counter()
    fsdp.sync_plain_copy(learner.model, learner.plain, world)
    mine = distributed.shard_items(step_problems(task.problems, step, config.prompts_per_step, config.seed), world)
    groups = sample_and_score(learner, task, mine, step, rewards)
    rollout_seconds = time.perf_counter() - began
    batch, totals, active = groups.training_batch(learner.pad_id, device_of(learner.model))
    advantages = step_advantages(config, groups, totals, rewards)
    stats = update(learner, batch, advantages.to(batch.input_ids.device), active.to(batch.input_ids.device))
    return step_metrics(learner, step, groups, stats, began, rollout_seconds), groups.samples(step, config.log_samples)


def step_advantages(config: GRPOConfig, groups: ScoredGroups, totals: torch.Tensor, rewards: Sequence[Reward]) -> torch.Tensor:
    """The kept rows' advantages: of the weighted total (joint), or of each reward normalised on its own (GDPO)."""
    if config.reward_normalisation == "joint":
        return group_advantages(totals, config.group_size, scale_by_std=config.scale_rewards)
    weights = {reward.name: reward.weight for reward in rewards} | length_weights(config)
    parts = groups.training_parts(list(weights))
    return per_reward_advantages(parts, torch.tensor(list(weights.values())), config.group_size, scale_by_std=config.scale_rewards)


def step_metrics(
    learner: Learner[GRPOConfig], step: int, groups: ScoredGroups, stats: dict[str, float], began: float, rollout_seconds: float
) -> dict[str, Any]:
    """The step's metrics row: rewards, lengths and group counts summed over ranks, loss statistics, timing."""
    sums = distributed.all_reduce_sums(groups.sums(), learner.world)
    seconds = time.perf_counter() - began
    count, tokens = sums["completions"], sums["tokens"]
    mean = sums["reward"] / count
    return {
        "step": step, "reward_mean": mean, "reward_std": math.sqrt(max(sums["reward_squares"] / count - mean**2, 0.0)),
        "accuracy": sums["correct"] / count if "correct" in groups.parts else None,
        "format": sums["format"] / count if "format" in groups.parts else None, "response_length": tokens / count,
        "truncated": sums["truncated"] / count, **stats, "groups_used": int(sums["groups_used"]),
        "groups_skipped": int(sums["groups_skipped"]), "rollout_tokens": int(tokens), "tokens_per_s": tokens / seconds,
        "seconds": seconds, "rollout_seconds": rollout_seconds, **reward_part_metrics(sums, count),
    }  # fmt: skip


def update(learner: Learner[GRPOConfig], batch: RolloutBatch, advantages: torch.Tensor, active: torch.Tensor) -> dict[str, float]:
    """mu optimisation passes of the chosen objective (config.loss) over `batch` (micro-batched); loss statistics
    (all ranks): loss and kl as aggregated, clip_fraction of loss tokens, mean entropy, grad_norm."""
    config, world = learner.config, learner.world
    mask = batch.loss_mask(config.mask_truncated) * active[:, None]
    # The whole batch's normalisers (all ranks): every active sequence counts, even one whose
    # tokens are all masked (a truncated completion under mask_truncated); see token_weights.
    size_of = distributed.all_reduce_sums({"sequences": float(active.sum()), "tokens": float(mask.sum())}, world)
    sequences, tokens = int(size_of["sequences"]), size_of["tokens"]
    size = config.micro_batch_size
    local = math.ceil(batch.size / size)
    micro = distributed.all_reduce_max(local, world)  # FSDP: every rank runs as many forward passes
    slices = [slice(i * size, (i + 1) * size) if i < local else slice(0, 1) for i in range(micro)]
    idle = [i >= local for i in range(micro)]
    share = not world.distributed  # see teacher_forced_logprobs
    reference = [_reference_logprobs(learner, batch.select(s), share) for s in slices] if config.beta > 0 else None
    old = [_no_grad_logprobs(learner.model, batch.select(s), config.temperature, share) for s in slices] if config.mu > 1 else None
    sums = {"loss": 0.0, "kl": 0.0, "clipped_tokens": 0.0, "entropy": 0.0}
    grad_norm = 0.0
    objective, sequence_ratios = objective_for(config), SequenceRatios()  # the loss variant, chosen once
    for epoch in range(config.mu):
        learner.optimizer.zero_grad(set_to_none=True)
        for index, (part, is_idle) in enumerate(zip(slices, idle)):
            sub = batch.select(part)
            logprobs, entropy = teacher_forced_logprobs(learner.model, sub, config.temperature, with_entropy=epoch == 0, share_prompts=share)
            loss_mask = mask[part] * (0.0 if is_idle else 1.0)
            weights = token_weights(loss_mask, config.aggregation, num_sequences=sequences, num_tokens=tokens, max_tokens=config.max_new_tokens)
            # Importance sampling against the engine and off-policy masking (1 when off): see reasoning.rl.importance.
            factor, seen = sampler_correction(config, sub, old[index] if old else logprobs, logprobs, advantages[part], loss_mask)
            sums.update({name: sums.get(name, 0.0) + value for name, value in seen.items()})
            loss = grpo_loss(
                logprobs, old[index] if old else logprobs.detach(), advantages[part], weights, eps_low=config.eps_low,
                eps_high=config.eps_high, beta=config.beta, ref_logprobs=reference[index] if reference else None,
                objective=objective, mask=loss_mask, policy_factor=factor, kl_estimator=config.kl_estimator,
            )  # fmt: skip
            sequence_ratios.add(loss)
            (loss.loss * fsdp.gradient_scale(world)).backward()
            sums["loss"] += float(loss.policy) / config.mu
            sums["kl"] += float(loss.kl) / config.mu
            sums["clipped_tokens"] += float(loss.clipped_tokens)
            if entropy is not None and not is_idle:
                sums["entropy"] += float((entropy * mask[part]).sum())
        grad_norm += fsdp.clip_grad_norm(learner.model, config.max_grad_norm) / config.mu  # already global
        learner.optimizer.step()
    sums = distributed.all_reduce_sums(sums, world)
    return {
        "loss": sums["loss"], "kl": sums["kl"] if config.beta > 0 else None,
        "clip_fraction": sums["clipped_tokens"] / max(tokens * config.mu, 1.0), "entropy": sums["entropy"] / max(tokens, 1.0),
        "grad_norm": grad_norm, **correction_metrics(sums, config), **sequence_ratios.columns(objective.level, world),
    }  # fmt: skip


@torch.no_grad()
def _no_grad_logprobs(model: nn.Module, batch: RolloutBatch, temperature: float, share_prompts: bool) -> torch.Tensor:
    return teacher_forced_logprobs(model, batch, temperature, share_prompts=share_prompts)[0]


def _reference_logprobs(learner: Learner[GRPOConfig], batch: RolloutBatch, share_prompts: bool) -> torch.Tensor:
    """The KL reference's log-probs: the frozen copy's, or under LoRA the policy's own with its adapters off."""
    temperature = learner.config.temperature
    if learner.reference is not None:
        return _no_grad_logprobs(learner.reference, batch, temperature, share_prompts)
    if not has_lora(learner.model):
        raise ValueError("a KL term (beta > 0) needs the reference: set the policy up with reasoning.rl.trainer.prepare")
    with lora_disabled(learner.model):
        return _no_grad_logprobs(learner.model, batch, temperature, share_prompts)
