"""A GRPO run from names: the offline toy task, or a model trained on a task, then the shared run path.

What `reasoning train grpo` and the chapter scripts call, so they stay argument parsing only.
Data is read before any weights, so a bad file fails in a second.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from reasoning.distributed import World
from reasoning.evaluation.tasks import Task
from reasoning.generation.api import Tokenizer
from reasoning.hub import base_model_name
from reasoning.rl import trainer
from reasoning.rl.config import GRPOConfig
from reasoning.training.data import held_out
from reasoning.training.evaluate import task_evaluator
from reasoning.training.learner import Learner
from reasoning.training.run import Rows, load_model, load_toy, run_training


@dataclass(frozen=True)
class GRPOSetting:
    """What a GRPO run trains: the policy, its tokenizer, the task, and the held-out task of the
    periodic evaluation (None: none)."""

    model: nn.Module
    tokenizer: Tokenizer
    task: Task
    held_out: Task | None = None
    model_name: str | None = None  # the checkpoint's name (None: the toy model), what LoRA adapters are saved against


def load_setting(
    config: GRPOConfig, *, model: str | None = None, task: Task | None = None, eval_task: Task | None = None,
    device: str = "auto",
) -> GRPOSetting:  # fmt: skip
    """Without `model`, the toy addition task (its held-out sums evaluated); else the model by name
    to train on `task`, evaluated on the first config.eval_limit of `eval_task`'s problems that
    `task` does not ask."""
    if model is None:
        toy = load_toy(device, seed=config.seed)
        policy, tokenizer, task, eval_task = toy.model, toy.tokenizer, toy.train, toy.held_out
    elif task is None:
        raise ValueError("task 'math' needs --model and --dataset (or --bench)")
    else:
        eval_task = held_out(eval_task, task) if eval_task is not None else None
        policy, tokenizer = load_model(model, dtype=config.dtype, device=device)
    held = eval_task.head(config.eval_limit) if eval_task is not None and eval_task.problems else None
    return GRPOSetting(policy, tokenizer, task, held, model)


def train_setting(
    setting: GRPOSetting, config: GRPOConfig, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None, on_resume: Callable[[int, int], None] | None = None,
    merge: bool = False,
) -> tuple[World, Rows]:  # fmt: skip
    """Train the setting's policy with GRPO in the process group torchrun describes (if any);
    on_step sees each step's metrics on rank 0, on_resume the step a resumed run found and the
    last step. The periodic evaluation is greedy pass@1 on the
    held-out task through the evaluation pipeline (records in out_dir/eval). With LoRA, `merge`
    also writes the final policy with its adapters folded in to out_dir/merged. This process's
    world and the rows."""
    evaluate = None
    if setting.held_out is not None:
        evaluate = task_evaluator(
            setting.tokenizer, setting.held_out, out_dir, model_name=setting.model_name or "toy-addition",
            max_new_tokens=config.max_new_tokens,
        )  # fmt: skip

    def prepare(model: nn.Module, tokenizer: Tokenizer) -> Learner[GRPOConfig]:
        return trainer.prepare(model, tokenizer, config, base_model=base_model_name(setting.model_name))

    def train(learner: Learner[GRPOConfig]) -> Rows:
        return trainer.train(
            learner, setting.task, out_dir, evaluate=evaluate, resume=resume, overwrite=overwrite, on_step=on_step,
            on_resume=on_resume,
        )  # fmt: skip

    return run_training(setting.model, setting.tokenizer, prepare, train, out_dir, merge=merge)
