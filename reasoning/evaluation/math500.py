"""MATH-500 on a model: the published prompt protocol, a strategy over the engine, the runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from reasoning.data import Problem
from reasoning.evaluation.runner import evaluate
from reasoning.evaluation.strategies import Greedy, Setup, Strategy
from reasoning.generation import GenerationConfig
from reasoning.generation.options import THINKING_FIELDS
from reasoning.prompts import PromptKind, build_prompt
from reasoning.tokenizer import Qwen3Tokenizer


def evaluate_math500(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    problems: Sequence[Problem],
    config: GenerationConfig,
    out: str | Path,
    *,
    model_name: str,
    kind: PromptKind,
    strategy: Strategy = Greedy(),
    cot: bool = False,
    enable_thinking: bool = True,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate `problems` with `strategy` (greedy by default); records go to `out` as they finish.

    `config` sets decoding for every generation the strategy makes; the number of samples
    comes from the strategy (config.n must be 1). ChainOfThought turns on `cot`.
    """
    if config.n != 1:
        raise ValueError("set the number of samples with the strategy (SelfConsistency(n=...)), not GenerationConfig.n")
    if strategy.samples and config.temperature == 0:
        raise ValueError(f"{strategy.name} samples: give it a temperature above 0")
    cot = cot or strategy.cot
    chat = tokenizer.apply_chat_template  # the checkpoint's own template, if it ships one
    prompts = [build_prompt(p.question, kind=kind, cot=cot, enable_thinking=enable_thinking, chat=chat) for p in problems]
    questions = {prompt: problem.question for prompt, problem in zip(prompts, problems)}
    complete = strategy.completer(Setup(model, tokenizer, config, questions, kind, enable_thinking))
    settings: dict[str, Any] = {
        "model": model_name, "kind": kind, "cot": cot, "enable_thinking": enable_thinking, **strategy.settings(),
        **{key: value for key, value in asdict(config).items() if key not in _NOT_SETTINGS},
    }  # fmt: skip
    if not config.controls_thinking:  # files written before thinking control keep resuming
        settings = {key: value for key, value in settings.items() if key not in THINKING_FIELDS}
    return evaluate(problems, prompts, complete, out, settings=settings, resume=resume, progress=progress)


_NOT_SETTINGS = ("n", "max_batch_size", "max_cache_tokens", "compile")  # how, not what, is generated


def evaluate_strategies(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    problems: Sequence[Problem],
    methods: Sequence[tuple[Strategy, GenerationConfig]],
    out_dir: str | Path,
    *,
    model_name: str,
    kind: PromptKind,
    prefix: str = "math500",
    resume: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Evaluate each (strategy, decoding) on the same problems, one resumable results file each
    (out_dir/PREFIX-SLUG.jsonl); returns the files, ready for `report.compare_runs`."""
    outputs = []
    for strategy, config in methods:
        out = Path(out_dir) / f"{prefix}-{strategy.slug}.jsonl"
        if progress:
            print(f"evaluating {strategy.label} -> {out}")
        evaluate_math500(
            model, tokenizer, problems, config, out, model_name=model_name, kind=kind, strategy=strategy, resume=resume,
            progress=progress,
        )  # fmt: skip
        outputs.append(out)
    return outputs
