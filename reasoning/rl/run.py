"""A whole training run from names: build the task, then join the ranks, prepare, train, leave.

What `reasoning train grpo` and the chapter scripts call, so they stay argument parsing only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from reasoning.lora import MERGED_DIR, check_merge, save_merged
from reasoning.rl import distributed, tasks, trainer
from reasoning.rl.config import GRPOConfig
from reasoning.rl.rewards import Reward



def build_task(
    name: str, *, model: str | None = None, dataset: str | None = None, question_field: str = "question",
    answer_field: str = "answer", limit: int | None = None, eval_data: str | Path | None = None, eval_limit: int = 50,
    device: str = "auto", seed: int = 0,
) -> tasks.Task:  # fmt: skip
    """The toy task, or a model and dataset by name with a held-out MATH-500 slice for evaluation."""
    from reasoning.device import get_device

    here = distributed.local_device(get_device(device))
    if name == "toy-addition":
        if here.type == "cpu":
            torch.set_num_threads(1)  # a model this small is fastest on one thread
        task = tasks.toy_addition_task(seed=seed)
        task.model.to(here)
        return task
    if name != "math":
        raise ValueError(f"unknown task {name!r}; expected 'math' or 'toy-addition'")
    if not model or not dataset:
        raise ValueError("task 'math' needs --model and --dataset")
    from reasoning.checkpoint import load_pretrained
    from reasoning.data import load_math500, load_problems

    if dataset == "math500":
        problems = load_math500(limit=limit)
    else:
        problems = load_problems(dataset, question_field=question_field, answer_field=answer_field, limit=limit)
    held_out = []
    if eval_data is not None:
        seen = {problem.question for problem in problems}
        held_out = [p for p in load_math500(eval_data) if p.question not in seen][:eval_limit]
    policy, tokenizer = load_pretrained(model, device=here, dtype=torch.float32)
    return tasks.math_task(policy, tokenizer, problems, held_out)


def train_task(
    task: tasks.Task, config: GRPOConfig, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
    rewards: list[Reward] | None = None, on_step: Callable[[dict[str, Any]], None] | None = None, merge: bool = False,
    base_model: str | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Prepare the task's model and train it, in the process group torchrun describes (if any);
    on_step sees each step's metrics on rank 0 only. With LoRA, `merge` also writes the final
    policy with its adapters folded in to out_dir/merged (a full checkpoint); `base_model` is
    the name the adapters' checkpoints record."""
    check_merge(config.lora_rank, merge)
    with distributed.process_group(next(task.model.parameters()).device) as world:
        run = trainer.prepare(task.model, task.tokenizer, config, rewards, base_model=base_model)
        rows = trainer.train(
            run, task.train, out_dir, prompt_fn=task.prompt_fn, eval_problems=task.held_out, resume=resume, overwrite=overwrite,
            on_step=on_step if world.is_main else None,
        )  # fmt: skip
        if merge and world.is_main:  # the rollout copy holds the final weights (synced for the last checkpoint)
            save_merged(run.rollout, run.tokenizer, Path(out_dir) / MERGED_DIR)
        return rows
