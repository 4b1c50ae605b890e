"""Periodic evaluation during training: the hook both trainers call, and the evaluators.

An `Evaluate` takes the plain (unsharded) model and the step and returns figures for the
step's metrics row ({"eval_accuracy": ...}). `task_evaluator` runs the evaluation pipeline
(`reasoning.evaluation.run`): the task's prompts, its grade, its records, so a held-out
accuracy means what `reasoning eval` reports and can be read back with `eval score`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from reasoning import distributed
from reasoning.distributed import World
from reasoning.evaluation.tasks import Task
from reasoning.tokenizer import Qwen3Tokenizer
from reasoning.training import fsdp
from reasoning.training.checkpoints import EVAL_DIR
from reasoning.training.learner import Learner

Evaluate = Callable[[nn.Module, int], dict[str, float]]


def evaluate_learner(learner: Learner, evaluate: Evaluate, step: int) -> dict[str, float]:
    """`evaluate` on the learner's plain copy (synced first: every rank takes part) on rank 0,
    with the model in eval mode (no LoRA dropout); {} on the other ranks."""
    learner.model.eval()
    fsdp.sync_plain_copy(learner.model, learner.plain, learner.world)
    row = evaluate(learner.plain, step) if learner.world.is_main else {}
    distributed.barrier(learner.world)
    learner.model.train()
    return row


def task_evaluator(
    tokenizer: Qwen3Tokenizer, task: Task, out_dir: str | Path, *, model_name: str, thinking: bool = True,
    max_new_tokens: int = 2048, batch_size: int = 16,
) -> Evaluate:  # fmt: skip
    """Greedy pass@1 on `task` through the evaluation pipeline, as eval_accuracy; each
    evaluation's records and summary go to out_dir/eval/step-NNNNNN (read by `eval score` and
    `eval compare`); a step's evaluation cut short resumes there. It runs on rank 0 alone, as
    the training hook calls it."""
    from reasoning.evaluation.protocols import PROTOCOLS
    from reasoning.evaluation.run import evaluate

    protocol = PROTOCOLS["greedy"].with_overrides(max_new_tokens=max_new_tokens)

    def run(model: nn.Module, step: int) -> dict[str, float]:
        summaries = evaluate(
            model, tokenizer, [task], Path(out_dir) / EVAL_DIR / f"step-{step:06d}", model_name=model_name, protocol=protocol,
            enable_thinking=thinking, batch_size=batch_size, resume=True, world=World(), progress=False,
        )  # fmt: skip
        return {"eval_accuracy": summaries[task.name]["pass@1"]}

    return run
