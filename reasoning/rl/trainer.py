"""The GRPO loop: rollouts, rewards, advantages, mu clipped-objective passes, metrics, checkpoints.

One step: take the step's prompts (a seeded permutation, so step k always sees the same
ones), keep this rank's share, sample G completions of each with the engine, score them,
drop or refill groups of equal rewards (dynamic sampling), then run mu optimisation passes
over the batch in micro-batches (gradient accumulation). The "old" log-probs of the ratio
are those of the policy before the step's first update, under the same temperature the
loss uses: with mu = 1 they are the current log-probs detached (ratio 1, as in TRL), with
mu > 1 a no-grad forward pass computes them once before the first update. That temperature
is the one rollouts were sampled at, so the policy gradient is that of the distribution
actually sampled (top-p aside).

With LoRA (lora_rank > 0) only the adapters train and hold AdamW state, rollouts decode through
them, and the KL reference is the policy with its adapters off (no second copy in memory).
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.utils.checkpoint
from torch import nn

from reasoning.data import Problem
from reasoning.generation.api import GenerationConfig, GenerationResult, Tokenizer, generate
from reasoning.generation.sampling import request_key
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.lora import LoraSettings, add_lora, lora_disabled
from reasoning.rl import distributed
from reasoning.rl.config import GRPOConfig
from reasoning.rl.distributed import World
from reasoning.rl.losses import group_advantages, grpo_loss, token_weights, zero_variance_groups
from reasoning.rl.metrics import MetricsLog
from reasoning.rl.rewards import Reward, correctness_reward, default_rewards, score
from reasoning.rl.rollout import RolloutBatch, generate_rollouts, pack
from reasoning.rl.state import resume_checkpoint, save_checkpoint, start_fresh

PromptFn = Callable[[Problem], str]
# Fields a resumed run may change; any other difference is refused.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "eval_every", "eval_limit", "log_samples", "max_batch_size")


@dataclass
class Run:
    """What a training run holds: the policy (maybe sharded), its rollout copy, the optimizer; the KL
    reference is a frozen copy, or under LoRA (reference None) the policy with its adapters off."""

    model: nn.Module
    rollout: nn.Module
    tokenizer: Tokenizer
    optimizer: torch.optim.Optimizer
    config: GRPOConfig
    world: World
    reference: nn.Module | None = None
    pad_id: int = 0
    rewards: list[Reward] = field(default_factory=list)
    base_model: str | None = None  # what LoRA adapters are saved against (a hub id or path)


def prepare(
    model: nn.Module, tokenizer: Tokenizer, config: GRPOConfig, rewards: Sequence[Reward] | None = None, *,
    base_model: str | None = None,
) -> Run:  # fmt: skip
    """Cast the policy, add LoRA adapters (lora_rank > 0), copy the reference (not under LoRA),
    (maybe) shard and checkpoint it, build AdamW over what trains."""
    world = distributed.current_world()
    model.to(getattr(torch, config.dtype)).train()
    # Adapters added here start at zero, so the base they leave is the starting policy: the KL
    # reference is the model with its adapters off. A model that came with adapters is copied.
    reference = distributed.frozen_copy(model) if config.beta > 0 and not config.lora_rank else None
    model, rollout, optimizer = trainable(model, config, world)
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    rewards = list(rewards) if rewards else default_rewards(config.correctness_weight, config.format_weight)
    return Run(model, rollout, tokenizer, optimizer, config, world, reference, pad_id, rewards, base_model)


class TrainingSettings(Protocol):
    """What `trainable` reads: fields that GRPOConfig and SFTConfig share."""

    lora_rank: int
    lora_alpha: int
    gradient_checkpointing: bool
    lr: float
    adam_betas: tuple[float, float]
    weight_decay: float


def trainable(
    model: nn.Module, config: TrainingSettings, world: World, *, lora_dropout: float = 0.0
) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """The model to train: LoRA adapters added (config.lora_rank > 0), blocks checkpointed, and
    sharded under torchrun; its plain copy for generation and saving (the model itself on one
    process); AdamW over what trains."""
    if config.lora_rank:
        add_lora(model, LoraSettings(config.lora_rank, config.lora_alpha, lora_dropout))
    plain = distributed.rollout_model(model, world)  # copies come before wrapping and sharding
    if config.gradient_checkpointing:
        checkpoint_blocks(model)
    model = distributed.shard_model(model, world)
    return model, plain, distributed.adamw(model, world, lr=config.lr, betas=config.adam_betas, weight_decay=config.weight_decay)


def train(
    run: Run,
    problems: Sequence[Problem],
    out_dir: str | Path,
    *,
    prompt_fn: PromptFn,
    eval_problems: Sequence[Problem] = (),
    resume: bool = False,
    overwrite: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run GRPO steps up to config.steps, writing metrics and checkpoints under out_dir; the new rows.

    A fresh run (no `resume`) refuses a directory holding another run's metrics or checkpoints,
    unless `overwrite`, which clears them."""
    config, world, out_dir = run.config, run.world, Path(out_dir)
    if not problems:
        raise ValueError("no training problems")
    if config.prompts_per_step % world.world_size:
        raise ValueError(f"prompts_per_step={config.prompts_per_step} must divide evenly over {world.world_size} ranks")
    if resume and overwrite:
        raise ValueError("--resume continues the run in the output directory and --overwrite replaces it: pass one")
    if not resume:
        start_fresh(out_dir, world, overwrite=overwrite)
    start = _resume(run, out_dir) if resume else 0
    log = MetricsLog(out_dir, resume_step=start if resume else None) if world.is_main else None
    rows = []
    for step in range(start + 1, config.steps + 1):
        row, samples = grpo_step(run, problems, step, prompt_fn)
        if config.eval_every and eval_problems and (step % config.eval_every == 0 or step == config.steps) and world.is_main:
            row["eval_accuracy"] = evaluate(run.rollout, run.tokenizer, eval_problems[: config.eval_limit], prompt_fn, config.max_new_tokens)
        if log is not None:
            log.append(row, samples)
        rows.append(row)
        if on_step is not None:
            on_step(row)
        if step == config.steps or (config.checkpoint_every and step % config.checkpoint_every == 0):
            distributed.sync_rollout_model(run.model, run.rollout, world)
            save_checkpoint(
                out_dir, step, run.model, run.rollout, run.tokenizer, run.optimizer, config.to_dict(), world, base_model=run.base_model
            )  # fmt: skip
    return rows


def _resume(run: Run, out_dir: Path) -> int:
    """Load the latest checkpoint under out_dir into the run; its step."""
    step = resume_checkpoint(out_dir, run.model, run.optimizer, run.config.to_dict(), RESUMABLE_CHANGES)
    distributed.sync_rollout_model(run.model, run.rollout, run.world)
    return step


def step_problems(problems: Sequence[Problem], step: int, count: int, seed: int) -> list[Problem]:
    """The `count` problems of step `step` (from 1): consecutive slices of seeded per-epoch shuffles."""
    chosen, position = [], (step - 1) * count
    while len(chosen) < count:
        epoch, offset = divmod(position, len(problems))
        order = list(range(len(problems)))
        random.Random(request_key(seed, epoch)).shuffle(order)
        take = min(count - len(chosen), len(problems) - offset)
        chosen += [problems[i] for i in order[offset : offset + take]]
        position += take
    return chosen


def grpo_step(run: Run, problems: Sequence[Problem], step: int, prompt_fn: PromptFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One GRPO step on this rank's share of the step's prompts: sample and score, advantages,
    update, log. The step's metrics (all ranks) and its samples."""
    config, world = run.config, run.world
    began = time.perf_counter()
    distributed.sync_rollout_model(run.model, run.rollout, world)
    mine = distributed.shard_items(step_problems(problems, step, config.prompts_per_step, config.seed), world)
    groups = sample_and_score(run, problems, mine, step, prompt_fn)
    rollout_seconds = time.perf_counter() - began
    batch, rewards, active = groups.training_batch(run.pad_id, next(run.model.parameters()).device)
    advantages = group_advantages(rewards, config.group_size, scale_by_std=config.scale_rewards)
    stats = update(run, batch, advantages.to(batch.input_ids.device), active.to(batch.input_ids.device))
    return step_metrics(run, step, groups, stats, began, rollout_seconds), groups.samples(step, config.log_samples)


@dataclass
class ScoredGroups:
    """A step's scored groups on one rank: those kept for training and totals over all generated."""

    group_size: int
    kept: list[GenerationResult] = field(default_factory=list)
    kept_rewards: list[float] = field(default_factory=list)
    count: int = 0
    reward_sum: float = 0.0
    reward_squares: float = 0.0
    correct: float = 0.0
    format: float = 0.0
    tokens: int = 0
    truncated: int = 0
    skipped: int = 0  # groups of equal rewards left out
    parts: set[str] = field(default_factory=set)
    examples: list[tuple[Problem, float, str]] = field(default_factory=list)  # one per group
    placeholder: list[GenerationResult] = field(default_factory=list)
    placeholder_rewards: list[float] = field(default_factory=list)

    def add(self, results: list[GenerationResult], problems: list[Problem], totals: list[float], parts: dict[str, list[float]]) -> None:
        """Count one round of scored completions (kept or not)."""
        G = self.group_size
        self.count += len(results)
        self.reward_sum += sum(totals)
        self.reward_squares += sum(t * t for t in totals)
        self.correct += sum(parts.get("correct", ()))
        self.format += sum(parts.get("format", ()))
        self.tokens += sum(r.num_tokens for r in results)
        self.truncated += sum(r.finish_reason == "length" for r in results)
        self.parts |= set(parts)
        self.examples += [(problems[i], totals[i], results[i].text or "") for i in range(0, len(results), G)]
        if not self.placeholder:
            self.placeholder, self.placeholder_rewards = results[:G], totals[:G]

    def keep(self, results: list[GenerationResult], totals: list[float], group: int) -> None:
        """Keep group `group` of this round for training."""
        G = self.group_size
        self.kept += results[group * G : (group + 1) * G]
        self.kept_rewards += totals[group * G : (group + 1) * G]

    def training_batch(self, pad_id: int, device: torch.device) -> tuple[RolloutBatch, torch.Tensor, torch.Tensor]:
        """The kept groups packed, their rewards, and each row's weight (1; 0 for a placeholder)."""
        results, rewards, active = self.kept, self.kept_rewards, torch.ones(len(self.kept))
        if not results:  # every group was skipped here: a placeholder group of weight 0 keeps ranks in step
            results, rewards, active = self.placeholder, self.placeholder_rewards, torch.zeros(self.group_size)
        return pack(results, pad_id, device), torch.tensor(rewards), active

    def sums(self) -> dict[str, float]:
        """The totals to add up over ranks, by name."""
        return {
            "completions": self.count, "reward": self.reward_sum, "reward_squares": self.reward_squares,
            "correct": self.correct, "format": self.format, "tokens": self.tokens, "truncated": self.truncated,
            "groups_skipped": self.skipped, "groups_used": len(self.kept) // self.group_size,
        }  # fmt: skip

    def samples(self, step: int, limit: int) -> list[dict[str, Any]]:
        """The first `limit` groups' first completions, for the samples log."""
        return [{"step": step, "problem": p.id, "reward": r, "completion": text} for p, r, text in self.examples[:limit]]


def sample_and_score(run: Run, problems: Sequence[Problem], mine: list[Problem], step: int, prompt_fn: PromptFn) -> ScoredGroups:
    """Sample G completions of each prompt and score them, with dynamic sampling: groups of
    equal rewards teach nothing and are skipped, or (refill) replaced by groups of new prompts."""
    config, G = run.config, run.config.group_size
    groups = ScoredGroups(G)
    batch = mine
    rounds = 1 + (config.max_refills if config.dynamic_sampling == "refill" else 0)
    for round_ in range(rounds):
        seed = request_key(config.seed, step, round_, run.world.rank)
        results = sample(run, [prompt_fn(p) for p in batch], seed)
        expanded = [p for p in batch for _ in range(G)]
        totals, parts = score([r.text or "" for r in results], expanded, run.rewards)
        groups.add(results, expanded, totals, parts)
        keep = torch.ones(len(batch), dtype=torch.bool)
        if config.dynamic_sampling != "off":
            keep = ~zero_variance_groups(torch.tensor(totals), G)
            groups.skipped += int((~keep).sum())
        for group in keep.nonzero().flatten().tolist()[: len(mine) - len(groups.kept) // G]:
            groups.keep(results, totals, group)
        need = len(mine) - len(groups.kept) // G
        if config.dynamic_sampling != "refill" or need == 0:
            break
        batch = random.Random(seed).sample(list(problems), min(need, len(problems)))  # DAPO: sample more prompts
    return groups


def sample(run: Run, prompts: list[str], seed: int) -> list[GenerationResult]:
    """G completions of each prompt from the rollout model, grouped by prompt."""
    config = run.config
    decoding = GenerationConfig(
        n=config.group_size, max_new_tokens=config.max_new_tokens, temperature=config.temperature, top_p=config.top_p,
        seed=seed, max_batch_size=config.max_batch_size, thinking_budget=config.thinking_budget or None,
    )  # fmt: skip
    return generate_rollouts(run.rollout, run.tokenizer, prompts, decoding)


def step_metrics(
    run: Run, step: int, groups: ScoredGroups, stats: dict[str, float], began: float, rollout_seconds: float
) -> dict[str, Any]:
    """The step's metrics row: rewards, lengths and group counts summed over ranks, loss statistics, timing."""
    sums = distributed.all_reduce_sums(groups.sums(), run.world)
    seconds = time.perf_counter() - began
    count, tokens = sums["completions"], sums["tokens"]
    mean = sums["reward"] / count
    return {
        "step": step, "reward_mean": mean, "reward_std": math.sqrt(max(sums["reward_squares"] / count - mean**2, 0.0)),
        "accuracy": sums["correct"] / count if "correct" in groups.parts else None,
        "format": sums["format"] / count if "format" in groups.parts else None, "response_length": tokens / count,
        "truncated": sums["truncated"] / count, **stats, "groups_used": int(sums["groups_used"]),
        "groups_skipped": int(sums["groups_skipped"]), "rollout_tokens": int(tokens), "tokens_per_s": tokens / seconds,
        "seconds": seconds, "rollout_seconds": rollout_seconds,
    }  # fmt: skip


def update(run: Run, batch: RolloutBatch, advantages: torch.Tensor, active: torch.Tensor) -> dict[str, float]:
    """mu optimisation passes of the clipped objective over `batch` (micro-batched); loss statistics
    (all ranks): loss and kl as aggregated, clip_fraction of loss tokens, mean entropy, grad_norm."""
    config, world = run.config, run.world
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
    reference = [_reference_logprobs(run, batch.select(s), share) for s in slices] if config.beta > 0 else None
    old = [_no_grad_logprobs(run.model, batch.select(s), config.temperature, share) for s in slices] if config.mu > 1 else None
    sums = {"loss": 0.0, "kl": 0.0, "clipped_tokens": 0.0, "entropy": 0.0}
    grad_norm = 0.0
    for epoch in range(config.mu):
        run.optimizer.zero_grad(set_to_none=True)
        for index, (part, is_idle) in enumerate(zip(slices, idle)):
            sub = batch.select(part)
            logprobs, entropy = teacher_forced_logprobs(run.model, sub, config.temperature, with_entropy=epoch == 0, share_prompts=share)
            weights = token_weights(mask[part] * (0.0 if is_idle else 1.0), config.aggregation, num_sequences=sequences, num_tokens=tokens, max_tokens=config.max_new_tokens)
            loss = grpo_loss(
                logprobs, old[index] if old else logprobs.detach(), advantages[part], weights, eps_low=config.eps_low,
                eps_high=config.eps_high, beta=config.beta, ref_logprobs=reference[index] if reference else None,
            )  # fmt: skip
            (loss.loss * distributed.gradient_scale(world)).backward()
            sums["loss"] += float(loss.policy) / config.mu
            sums["kl"] += float(loss.kl) / config.mu
            sums["clipped_tokens"] += float(loss.clipped_tokens)
            if entropy is not None and not is_idle:
                sums["entropy"] += float((entropy * mask[part]).sum())
        grad_norm += distributed.clip_grad_norm(run.model, config.max_grad_norm) / config.mu  # already global
        run.optimizer.step()
    sums = distributed.all_reduce_sums(sums, world)
    return {
        "loss": sums["loss"], "kl": sums["kl"] if config.beta > 0 else None,
        "clip_fraction": sums["clipped_tokens"] / max(tokens * config.mu, 1.0), "entropy": sums["entropy"] / max(tokens, 1.0),
        "grad_norm": grad_norm,
    }  # fmt: skip


@torch.no_grad()
def _no_grad_logprobs(model: nn.Module, batch: RolloutBatch, temperature: float, share_prompts: bool) -> torch.Tensor:
    return teacher_forced_logprobs(model, batch, temperature, share_prompts=share_prompts)[0]


def _reference_logprobs(run: Run, batch: RolloutBatch, share_prompts: bool) -> torch.Tensor:
    """The KL reference's log-probs: the frozen copy's, or under LoRA the policy's own with its adapters off."""
    if run.reference is not None:
        return _no_grad_logprobs(run.reference, batch, run.config.temperature, share_prompts)
    with lora_disabled(run.model):
        return _no_grad_logprobs(run.model, batch, run.config.temperature, share_prompts)


def evaluate(model: nn.Module, tokenizer: Tokenizer, problems: Sequence[Problem], prompt_fn: PromptFn, max_new_tokens: int) -> float:
    """Greedy accuracy on held-out problems (boxed answer, graded), for the periodic evaluation."""
    results = generate(model, tokenizer, [prompt_fn(p) for p in problems], max_new_tokens=max_new_tokens)
    return sum(correctness_reward(r.text or "", p) for r, p in zip(results, problems)) / max(len(problems), 1)


def checkpoint_blocks(model: nn.Module) -> None:
    """Gradient checkpointing: each block recomputes its activations in the backward pass.

    Done from outside by wrapping each block's forward (state-dict names are unchanged);
    generation, which runs without gradients, calls the plain forward.
    """
    for block in model.layers:
        forward = block.forward

        @functools.wraps(forward)
        def wrapped(*args, _forward=forward, **kwargs):
            if torch.is_grad_enabled():
                return torch.utils.checkpoint.checkpoint(_forward, *args, use_reentrant=False, **kwargs)
            return _forward(*args, **kwargs)

        block.forward = wrapped
