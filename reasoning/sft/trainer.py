"""The supervised fine-tuning loop: next-token loss on response tokens, checkpoints, exact resume.

One step: the step's batch (length-bucketed, fixed by seed and epoch), this rank's share of
it in micro-batches of similar length (gradient accumulation), the summed negative
log-likelihood of every response token divided by the batch's response tokens over all ranks
(a token-level mean, as TRL and the book's chapter 8 take it), clipping, AdamW at the
schedule's learning rate. Prompt and padding positions carry no loss. Log-probs come from the
chunked LM head (`reasoning.logprobs`), so no [tokens, vocabulary] tensor is kept, on one
process or under torchrun.

It shares GRPO's machinery (`reasoning.rl`): metrics files, checkpoints with optimizer and
RNG (adapters only under LoRA), FSDP2 under torchrun.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reasoning.generation.api import Tokenizer
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.rl import distributed
from reasoning.rl.distributed import World
from reasoning.rl.metrics import MetricsLog
from reasoning.rl.state import resume_checkpoint, save_checkpoint, start_fresh
from reasoning.rl.trainer import trainable
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import Example, collate, epoch_batches, fingerprint, steps_per_epoch

# tokens: the step's response tokens (what the loss averages over), and tokens_per_s of those.
COLUMNS = ("step", "epoch", "loss", "lr", "grad_norm", "tokens", "sequences", "eval_loss", "eval_accuracy", "tokens_per_s", "seconds")
# Fields a resumed run may change; any other difference is refused (the schedule depends on the rest).
RESUMABLE_CHANGES = ("checkpoint_every", "eval_every")
# What the periodic evaluation may add to a step's row (e.g. held-out accuracy from the evaluation suite).
Evaluate = Callable[[nn.Module, int], dict[str, float]]


@dataclass
class Run:
    """What a run holds: the model being trained (maybe sharded), its plain copy for saving and
    generation (the model itself on one process), the optimizer."""

    model: nn.Module
    plain: nn.Module
    tokenizer: Tokenizer
    optimizer: torch.optim.Optimizer
    config: SFTConfig
    world: World
    pad_id: int = 0
    base_model: str | None = None  # what LoRA adapters are saved against


def prepare(model: nn.Module, tokenizer: Tokenizer, config: SFTConfig, *, base_model: str | None = None) -> Run:
    """Cast, add LoRA adapters (rank > 0), checkpoint, (maybe) shard the model; AdamW over what trains."""
    world = distributed.current_world()
    model.to(getattr(torch, config.dtype)).train()
    model, plain, optimizer = trainable(model, config, world, lora_dropout=config.lora_dropout)
    pad_id = getattr(tokenizer, "pad_token_id", None) or 0
    return Run(model, plain, tokenizer, optimizer, config, world, pad_id, base_model)


def total_steps(config: SFTConfig, examples: int) -> int:
    return config.steps or config.epochs * steps_per_epoch(examples, config.batch_size)


def learning_rate(step: int, total: int, config: SFTConfig) -> float:
    """The learning rate of optimizer step `step` (from 1): a linear warm-up to lr over
    warmup_steps, then a cosine or linear decay that reaches min_lr_ratio * lr just after the
    last step (so no step is wasted at the floor), or a constant."""
    if step <= config.warmup_steps:
        return config.lr * step / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    progress = (step - config.warmup_steps - 1) / max(total - config.warmup_steps, 1)
    shape = 0.5 * (1 + math.cos(math.pi * progress)) if config.schedule == "cosine" else 1 - progress
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * shape)


def train(
    run: Run,
    examples: Sequence[Example],
    out_dir: str | Path,
    *,
    eval_examples: Sequence[Example] = (),
    evaluate: Evaluate | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train up to the configured steps, writing metrics and checkpoints under out_dir; the new rows.

    Every eval_every steps and at the end: the mean loss on `eval_examples`, and whatever
    `evaluate(plain model, step)` returns (on rank 0). A fresh run refuses a directory holding
    another run, unless `overwrite`.
    """
    config, world, out_dir = run.config, run.world, Path(out_dir)
    if not examples:
        raise ValueError("no training examples (all dropped by the length rule?)")
    if resume and overwrite:
        raise ValueError("--resume continues the run in the output directory and --overwrite replaces it: pass one")
    if not resume:
        start_fresh(out_dir, world, overwrite=overwrite)
    settings = {**config.to_dict(), "data": fingerprint(examples)}  # what a resume must share
    start = _resume(run, out_dir, settings) if resume else 0
    log = MetricsLog(out_dir, resume_step=start if resume else None, columns=COLUMNS) if world.is_main else None
    per_epoch, last = steps_per_epoch(len(examples), config.batch_size), total_steps(config, len(examples))
    lengths, plan, rows = [len(e) for e in examples], {}, []
    for step in range(start + 1, last + 1):
        epoch, index = divmod(step - 1, per_epoch)
        if epoch not in plan:
            plan = {epoch: epoch_batches(lengths, config.batch_size, config.seed, epoch)}
        lr = learning_rate(step, last, config)
        row = {"step": step, "epoch": epoch + (index + 1) / per_epoch, "lr": lr}
        row.update(sft_step(run, [examples[i] for i in plan[epoch][index]], lr))
        if step == last or (config.eval_every and step % config.eval_every == 0):
            row.update(_evaluate(run, eval_examples, evaluate, step))
        if log is not None:
            log.append(row)
        rows.append(row)
        if on_step is not None and world.is_main:
            on_step(row)
        if step == last or (config.checkpoint_every and step % config.checkpoint_every == 0):
            distributed.sync_rollout_model(run.model, run.plain, world)
            save_checkpoint(
                out_dir, step, run.model, run.plain, run.tokenizer, run.optimizer, settings, world, base_model=run.base_model
            )
    return rows


def _resume(run: Run, out_dir: Path, settings: dict[str, Any]) -> int:
    """Load the latest checkpoint under out_dir into the run; its step."""
    step = resume_checkpoint(out_dir, run.model, run.optimizer, settings, RESUMABLE_CHANGES)
    distributed.sync_rollout_model(run.model, run.plain, run.world)
    return step


def sft_step(run: Run, batch: Sequence[Example], lr: float) -> dict[str, float]:
    """One optimizer step on `batch` (this rank's share, micro-batched); loss (mean NLL per
    response token over all ranks), grad_norm (before clipping), tokens, sequences, speed."""
    config, world = run.config, run.world
    began = time.perf_counter()
    mine = distributed.shard_items(sorted(batch, key=len), world)
    micro = _micro_batches(mine, config.micro_batch_size, world)
    tokens = distributed.all_reduce_sums({"tokens": float(sum(len(e.response_ids) for e in mine))}, world)["tokens"]
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    run.optimizer.zero_grad(set_to_none=True)
    loss_sum = 0.0
    for part, idle in micro:
        rows = collate(part, run.pad_id, _device(run.model))
        logprobs, _ = teacher_forced_logprobs(run.model, rows, share_prompts=not world.distributed)
        nll = -(logprobs * rows.completion_mask).sum() * (0.0 if idle else 1.0)
        (nll / tokens * distributed.gradient_scale(world)).backward()
        loss_sum += float(nll.detach())
    grad_norm = distributed.clip_grad_norm(run.model, config.max_grad_norm)
    run.optimizer.step()
    sums = distributed.all_reduce_sums({"nll": loss_sum, "sequences": float(len(mine))}, world)
    seconds = time.perf_counter() - began
    return {
        "loss": sums["nll"] / tokens, "grad_norm": grad_norm, "tokens": int(tokens), "sequences": int(sums["sequences"]),
        "tokens_per_s": tokens / seconds, "seconds": seconds,
    }  # fmt: skip


def _micro_batches(examples: list[Example], size: int, world: World) -> list[tuple[list[Example], bool]]:
    """Consecutive slices of `size` examples, each flagged idle or not. Every rank runs as many
    passes (FSDP gathers weights in each): a rank with fewer reruns its first example at weight 0."""
    local = [examples[i : i + size] for i in range(0, len(examples), size)]
    count = distributed.all_reduce_max(len(local), world)
    filler = examples[:1] or [Example((0,), (0,))]  # a rank without examples still takes part
    return [(part, False) for part in local] + [(filler, True)] * (count - len(local))


@torch.no_grad()
def evaluation_loss(run: Run, examples: Sequence[Example]) -> float:
    """The mean NLL per response token on `examples` (all ranks), in no-grad micro-batches."""
    mine = distributed.shard_items(sorted(examples, key=len), run.world)
    total = 0.0
    for part, idle in _micro_batches(mine, run.config.micro_batch_size, run.world):
        rows = collate(part, run.pad_id, _device(run.model))
        logprobs, _ = teacher_forced_logprobs(run.model, rows, share_prompts=not run.world.distributed)
        total += 0.0 if idle else -float((logprobs * rows.completion_mask).sum())
    sums = distributed.all_reduce_sums({"nll": total, "tokens": float(sum(len(e.response_ids) for e in mine))}, run.world)
    return sums["nll"] / sums["tokens"]


def _evaluate(run: Run, eval_examples: Sequence[Example], evaluate: Evaluate | None, step: int) -> dict[str, float]:
    """The step's held-out figures, with the model in eval mode (no LoRA dropout)."""
    row: dict[str, float] = {}
    run.model.eval()
    if eval_examples:
        row["eval_loss"] = evaluation_loss(run, eval_examples)
    if evaluate is not None:
        distributed.sync_rollout_model(run.model, run.plain, run.world)  # every rank takes part
        if run.world.is_main:
            row.update(evaluate(run.plain, step))
        distributed.barrier(run.world)
    run.model.train()
    return row


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
