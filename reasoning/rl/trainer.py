"""The GRPO loop: steps up to config.steps on a task, metrics, periodic evaluation, checkpoints.

Each step (`reasoning.rl.step.grpo_step`) samples and scores this rank's share of the step's
prompts and updates the policy; the loop writes its row, evaluates the policy every
eval_every steps (and at the last), and checkpoints it every checkpoint_every steps (and at
the last). The set-up, checkpoints, metrics files and evaluation hook are the training floor's
(`reasoning.training`), shared with supervised fine-tuning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from reasoning.evaluation.tasks import Task
from reasoning.generation.api import Tokenizer
from reasoning.rl.config import GRPOConfig
from reasoning.rl.metrics import COLUMNS
from reasoning.rl.rewards import Reward, default_rewards
from reasoning.rl.step import grpo_step
from reasoning.training import learner as setup
from reasoning.training.checkpoints import save_checkpoint, start_run
from reasoning.training.evaluate import Evaluate, evaluate_learner
from reasoning.training.learner import Learner
from reasoning.training.metrics import MetricsLog

# Fields a resumed run may change; any other difference is refused.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "keep_last", "eval_every", "eval_limit", "log_samples", "max_batch_size")


def prepare(model: nn.Module, tokenizer: Tokenizer, config: GRPOConfig, *, base_model: str | None = None) -> Learner[GRPOConfig]:
    """The policy set up to train (`reasoning.training.learner.prepare`), with a frozen copy as
    the KL reference when there is a KL term and no LoRA (under LoRA: the adapters switched off).
    No LoRA dropout: the ratio and the KL compare log-probs of one deterministic policy."""
    return setup.prepare(model, tokenizer, config, base_model=base_model, reference=config.beta > 0 and not config.lora_rank)


def train(
    learner: Learner[GRPOConfig],
    task: Task,
    out_dir: str | Path,
    *,
    rewards: Sequence[Reward] | None = None,
    evaluate: Evaluate | None = None,
    resume: bool = False,
    overwrite: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    on_resume: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run GRPO steps on the task's problems up to config.steps, writing metrics and checkpoints
    under out_dir; the new rows. `rewards` default to the task's correctness (plus the boxed
    format at config.format_weight); `evaluate(plain model, step)` adds to a row every
    eval_every steps and at the last (rank 0); `on_step` sees each row on rank 0, and a resumed
    run calls `on_resume(step found, config.steps)` there once its checkpoint is loaded.

    A fresh run (no `resume`) refuses a directory holding another run's metrics or checkpoints,
    unless `overwrite`, which clears them."""
    config, world, out_dir = learner.config, learner.world, Path(out_dir)
    if not task.problems:
        raise ValueError("no training problems")
    if config.prompts_per_step % world.world_size:
        raise ValueError(f"prompts_per_step={config.prompts_per_step} must divide evenly over {world.world_size} ranks")
    rewards = list(rewards) if rewards else default_rewards(task, config.correctness_weight, config.format_weight)
    start = start_run(learner, out_dir, config.to_dict(), RESUMABLE_CHANGES, resume=resume, overwrite=overwrite)
    log = MetricsLog(out_dir, COLUMNS, resume_step=start if resume else None) if world.is_main else None
    if resume and on_resume is not None and world.is_main:
        on_resume(start, config.steps)
    rows = []
    for step in range(start + 1, config.steps + 1):
        row, samples = grpo_step(learner, task, step, rewards)
        if evaluate is not None and config.eval_every and (step % config.eval_every == 0 or step == config.steps):
            row.update(evaluate_learner(learner, evaluate, step))
        if log is not None:
            log.append(row, samples)
        rows.append(row)
        if on_step is not None and world.is_main:
            on_step(row)
        if step == config.steps or (config.checkpoint_every and step % config.checkpoint_every == 0):
            save_checkpoint(learner, out_dir, step, config.to_dict(), keep_last=config.keep_last)
    return rows
