"""The supervised fine-tuning loop: next-token loss on response tokens, checkpoints, exact resume.

One step: the step's batch (length-bucketed, fixed by seed and epoch), this rank's share of
it in micro-batches of similar length (gradient accumulation), the summed negative
log-likelihood of every response token divided by the batch's response tokens over all ranks
(a token-level mean, as TRL and the book's chapter 8 take it), clipping, AdamW at the
schedule's learning rate. Prompt and padding positions carry no loss. Log-probs come from the
chunked LM head (`reasoning.logprobs`), so no [tokens, vocabulary] tensor is kept, on one
process or under torchrun.

It stands on the training floor it shares with GRPO (`reasoning.training`): the set-up,
metrics files, checkpoints with optimizer and RNG (adapters only under LoRA), FSDP2 under
torchrun, the periodic-evaluation hook.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reasoning import distributed
from reasoning.distributed import World
from reasoning.generation.api import Tokenizer
from reasoning.logprobs import teacher_forced_logprobs
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import Example, collate, epoch_batches, fingerprint, steps_per_epoch
from reasoning.training import fsdp
from reasoning.training import learner as setup
from reasoning.training.checkpoints import save_checkpoint, start_run
from reasoning.training.evaluate import Evaluate, evaluate_learner
from reasoning.training.learner import Learner, device_of
from reasoning.training.metrics import MetricsLog

# tokens: the step's response tokens (what the loss averages over), and tokens_per_s of those.
COLUMNS = ("step", "epoch", "loss", "lr", "grad_norm", "tokens", "sequences", "eval_loss", "eval_accuracy", "tokens_per_s", "seconds")
# Fields a resumed run may change; any other difference is refused (the schedule depends on the rest).
RESUMABLE_CHANGES = ("checkpoint_every", "keep_last", "eval_every")


def prepare(model: nn.Module, tokenizer: Tokenizer, config: SFTConfig, *, base_model: str | None = None) -> Learner[SFTConfig]:
    """The model set up to train (`reasoning.training.learner.prepare`), with config.lora_dropout on its adapters."""
    return setup.prepare(model, tokenizer, config, base_model=base_model, lora_dropout=config.lora_dropout)


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
    learner: Learner[SFTConfig],
    examples: Sequence[Example],
    out_dir: str | Path,
    *,
    eval_examples: Sequence[Example] = (),
    evaluate: Evaluate | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    on_resume: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Train up to the configured steps, writing metrics and checkpoints under out_dir; the new rows.

    Every eval_every steps and at the end: the mean loss on `eval_examples`, and whatever
    `evaluate(plain model, step)` returns (on rank 0). A fresh run refuses a directory holding
    another run, unless `overwrite`. A resumed one calls `on_resume(step found, last step)` on
    rank 0 once its checkpoint is loaded.
    """
    config, world, out_dir = learner.config, learner.world, Path(out_dir)
    if not examples:
        raise ValueError("no training examples (all dropped by the length rule?)")
    settings = {**config.to_dict(), "data": fingerprint(examples)}  # what a resume must share
    start = start_run(learner, out_dir, settings, RESUMABLE_CHANGES, resume=resume, overwrite=overwrite)
    log = MetricsLog(out_dir, COLUMNS, resume_step=start if resume else None) if world.is_main else None
    per_epoch, last = steps_per_epoch(len(examples), config.batch_size), total_steps(config, len(examples))
    if resume and on_resume is not None and world.is_main:
        on_resume(start, last)
    lengths, plan, rows = [len(e) for e in examples], {}, []
    for step in range(start + 1, last + 1):
        epoch, index = divmod(step - 1, per_epoch)
        if epoch not in plan:
            plan = {epoch: epoch_batches(lengths, config.batch_size, config.seed, epoch)}
        lr = learning_rate(step, last, config)
        row = {"step": step, "epoch": epoch + (index + 1) / per_epoch, "lr": lr}
        row.update(sft_step(learner, [examples[i] for i in plan[epoch][index]], lr))
        if step == last or (config.eval_every and step % config.eval_every == 0):
            row.update(_evaluate(learner, eval_examples, evaluate, step))
        if log is not None:
            log.append(row)
        rows.append(row)
        if on_step is not None and world.is_main:
            on_step(row)
        if step == last or (config.checkpoint_every and step % config.checkpoint_every == 0):
            save_checkpoint(learner, out_dir, step, settings, keep_last=config.keep_last)
    return rows


def sft_step(learner: Learner[SFTConfig], batch: Sequence[Example], lr: float) -> dict[str, float]:
    """One optimizer step on `batch` (this rank's share, micro-batched); loss (mean NLL per
    response token over all ranks), grad_norm (before clipping), tokens, sequences, speed."""
    config, world = learner.config, learner.world
    began = time.perf_counter()
    mine = distributed.shard_items(sorted(batch, key=len), world)
    micro = _micro_batches(mine, config.micro_batch_size, world)
    tokens = distributed.all_reduce_sums({"tokens": float(sum(len(e.response_ids) for e in mine))}, world)["tokens"]
    for group in learner.optimizer.param_groups:
        group["lr"] = lr
    learner.optimizer.zero_grad(set_to_none=True)
    loss_sum = 0.0
    for part, idle in micro:
        rows = collate(part, learner.pad_id, device_of(learner.model))
        logprobs, _ = teacher_forced_logprobs(learner.model, rows, share_prompts=not world.distributed)
        nll = -(logprobs * rows.completion_mask).sum() * (0.0 if idle else 1.0)
        (nll / tokens * fsdp.gradient_scale(world)).backward()
        loss_sum += float(nll.detach())
    grad_norm = fsdp.clip_grad_norm(learner.model, config.max_grad_norm)
    learner.optimizer.step()
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
def evaluation_loss(learner: Learner[SFTConfig], examples: Sequence[Example]) -> float:
    """The mean NLL per response token on `examples` (all ranks), in no-grad micro-batches."""
    world = learner.world
    mine = distributed.shard_items(sorted(examples, key=len), world)
    total = 0.0
    for part, idle in _micro_batches(mine, learner.config.micro_batch_size, world):
        rows = collate(part, learner.pad_id, device_of(learner.model))
        logprobs, _ = teacher_forced_logprobs(learner.model, rows, share_prompts=not world.distributed)
        total += 0.0 if idle else -float((logprobs * rows.completion_mask).sum())
    sums = distributed.all_reduce_sums({"nll": total, "tokens": float(sum(len(e.response_ids) for e in mine))}, world)
    return sums["nll"] / sums["tokens"]


def _evaluate(learner: Learner[SFTConfig], eval_examples: Sequence[Example], evaluate: Evaluate | None, step: int) -> dict[str, float]:
    """The step's held-out figures: the loss on `eval_examples` and what `evaluate` returns,
    with the model in eval mode (no LoRA dropout)."""
    row: dict[str, float] = {}
    if eval_examples:
        learner.model.eval()
        row["eval_loss"] = evaluation_loss(learner, eval_examples)
        learner.model.train()
    if evaluate is not None:
        row.update(evaluate_learner(learner, evaluate, step))
    return row
