"""What `reasoning train sft` and chapter 8 assemble: the examples from files, the periodic
evaluation through the evaluation suite, and the offline toy setting."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reasoning.data import Problem
from reasoning.generation.api import Tokenizer
from reasoning.sft.config import SFTConfig
from reasoning.sft.data import Conversation, Example, read_conversations, split_held_out, tokenize
from reasoning.sft.trainer import Evaluate

TOY_OPERANDS = 9  # sums of 0..9: 100 problems, enough for what is learnt to carry to unseen ones
TOY_HELD_OUT = 12


@dataclass(frozen=True)
class Examples:
    """Training and held-out examples, and what the length rule did (counts by name)."""

    train: list[Example]
    held_out: list[Example]
    counts: dict[str, int]


def load_examples(
    data: str | Path, tokenizer: Tokenizer, config: SFTConfig, *, prompt: str = "math", thinking: bool = True,
    eval_data: str | Path | None = None, held_out: int = 0,
) -> Examples:  # fmt: skip
    """Examples from `data` for the student's template; held out: those of `eval_data`, or the
    examples of `held_out` problems set aside from `data`."""
    if eval_data is not None and held_out:
        raise ValueError("pass held-out examples as a file (--eval-data) or a number of problems to set aside (--held-out), not both")
    rule = {"max_length": config.max_length, "too_long": config.too_long, "thinking": thinking}
    examples, counts = tokenize(read_conversations(data, prompt=prompt), tokenizer, **rule)
    if eval_data is not None:
        evaluation, _ = tokenize(read_conversations(eval_data, prompt=prompt), tokenizer, **rule)
        return Examples(examples, evaluation, counts)
    train, evaluation = split_held_out(examples, held_out, config.seed)
    return Examples(train, evaluation, counts)


def suite_evaluator(
    tokenizer: Tokenizer, bench: str, problems: list[Problem], out_dir: str | Path, *, model_name: str,
    thinking: bool = True, max_new_tokens: int = 2048, batch_size: int = 16,
) -> Evaluate:  # fmt: skip
    """Greedy pass@1 on `problems` of benchmark `bench` through the evaluation suite; each
    evaluation's records and summary go to out_dir/eval/step-NNNNNN (readable by `eval score`
    and `eval compare`)."""
    from reasoning.evaluation.protocols import get_protocol
    from reasoning.evaluation.suite_model import evaluate_suite

    protocol = get_protocol("greedy").with_overrides(max_new_tokens=max_new_tokens)
    kind = "base" if getattr(tokenizer, "base", False) else "reasoning"

    def evaluate(model: nn.Module, step: int) -> dict[str, float]:
        summaries = evaluate_suite(
            model, tokenizer, {bench: problems}, protocol, Path(out_dir) / "eval" / f"step-{step:06d}",
            model_name=model_name, kind=kind, enable_thinking=thinking, batch_size=batch_size, resume=True, progress=False,
        )  # fmt: skip
        return {"eval_accuracy": summaries[bench]["pass@1"]}

    return evaluate


@dataclass(frozen=True)
class ToySetting:
    """The offline demonstration: a student that knows the answer format but not the sums, its
    training problems with a correct trace of each, and held-out problems to measure it on."""

    model: nn.Module
    tokenizer: Any
    train: list[Problem]
    traces: list[Conversation]
    held_out: list[Problem]
    evaluate: Evaluate


def toy_setting(*, seed: int = 0) -> ToySetting:
    """The toy addition student (`reasoning.rl.tasks`, format warm-up only: about 8% of unseen
    sums right) with a correct trace of each training problem. Evaluation is greedy accuracy
    on the held-out problems, which it never trains on."""
    from reasoning.rl.tasks import BOX, toy_addition_task
    from reasoning.rl.trainer import evaluate as greedy_accuracy

    torch.set_num_threads(1)  # a model this small is fastest on one thread
    task = toy_addition_task(seed=seed, max_operand=TOY_OPERANDS, held_out=TOY_HELD_OUT)
    traces = [Conversation(p.question, f"{BOX}{p.answer}}}", "", p.id) for p in task.train]

    def evaluate(model: nn.Module, step: int) -> dict[str, float]:
        return {"eval_accuracy": greedy_accuracy(model, task.tokenizer, task.held_out, task.prompt_fn, max_new_tokens=8)}

    return ToySetting(task.model, task.tokenizer, task.train, traces, task.held_out, evaluate)
