"""MATH-500 on a model: the published prompt protocol, the generation engine, the runner."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from reasoning.data import Problem
from reasoning.evaluation.runner import Completion, evaluate
from reasoning.generation.api import GenerationConfig, generate_as_completed
from reasoning.prompts import PromptKind, build_prompt
from reasoning.tokenizer import Qwen3Tokenizer


def engine_completer(model: nn.Module, tokenizer: Qwen3Tokenizer, config: GenerationConfig):
    """A runner `complete` function: yields (index, Completion) as the engine finishes each prompt.

    A record's seconds are the wall time since the previous completion finished, so they add
    up to the run's wall time whatever the batch size.
    """

    def complete(prompts: Sequence[str]) -> Iterator[tuple[int, Completion]]:
        last = time.perf_counter()
        for [result] in generate_as_completed(model, tokenizer, list(prompts), config):
            now = time.perf_counter()
            yield result.prompt_index, Completion(result.text or "", result.num_tokens, now - last)
            last = now

    return complete


def evaluate_math500(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    problems: Sequence[Problem],
    config: GenerationConfig,
    out: str | Path,
    *,
    model_name: str,
    kind: PromptKind,
    cot: bool = False,
    enable_thinking: bool = True,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Evaluate `problems` with greedy (or configured) decoding; records go to `out` as they finish."""
    if config.n != 1:
        raise ValueError("MATH-500 evaluation takes one sample per problem (n=1); see the scaling strategies for more")
    prompts = [build_prompt(p.question, kind=kind, cot=cot, enable_thinking=enable_thinking) for p in problems]
    settings: dict[str, Any] = {
        "model": model_name, "kind": kind, "cot": cot, "enable_thinking": enable_thinking,
        **{key: value for key, value in asdict(config).items() if key not in ("max_batch_size", "max_cache_tokens", "compile")},
    }  # fmt: skip
    return evaluate(problems, prompts, engine_completer(model, tokenizer, config), out, settings=settings, resume=resume, progress=progress)
