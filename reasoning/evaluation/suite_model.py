"""A benchmark suite on a model: each benchmark's prompts, samples from the engine (n sampled or
greedy completions per problem) or, for multiple choice, the log-likelihood of each letter,
then records and the summary (`suite`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from reasoning.data import Problem
from reasoning.evaluation.benchmarks import BENCHMARKS, benchmark_prompt
from reasoning.evaluation.loglik import choice_logprobs
from reasoning.evaluation.protocols import SCORING, Protocol
from reasoning.evaluation.runner import Clock
from reasoning.evaluation.suite import SUMMARY_FILE, Generate, Sample, Share, run_benchmark, write_summary
from reasoning.generation.api import GenerationConfig, GenerationResult, Prompt, Tokenizer, generate_as_completed
from reasoning.generation.options import THINKING_FIELDS
from reasoning.prompts import PromptKind
from reasoning.tokenizer import Qwen3Tokenizer

CHOICE_LETTERS = "ABCDEFGHIJ"


def engine_samples(model: nn.Module, tokenizer: Tokenizer, config: GenerationConfig) -> Generate:
    """`config.n` completions per problem from the batched engine, yielded as each problem's
    samples all finish; each problem's random streams are keyed by its benchmark index."""

    def generate(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, list[Sample], float]]:
        clock = Clock()
        prompts = [Prompt(text, stream=index) for index, text in items]
        for results in generate_as_completed(model, tokenizer, prompts, config):
            samples = [Sample(r.text or "", r.num_tokens, r.finish_reason, _token_split(r)) for r in results]
            yield results[0].prompt_index, samples, clock.lap()

    return generate


def _token_split(result: GenerationResult) -> dict[str, int]:
    """Thinking, forced and answer tokens, where thinking control counted them."""
    if result.thinking_tokens is None:
        return {}
    return {"thinking_tokens": result.thinking_tokens, "forced_tokens": result.forced_tokens, "answer_tokens": result.answer_tokens}


def loglik_samples(model: nn.Module, tokenizer: Tokenizer, letters: str, *, batch_size: int = 16) -> Generate:
    """One "sample" per problem: the letter the model finds likeliest after the prompt, written
    as "Answer: X" so it grades like a generated answer, with every letter's log-prob kept."""

    def generate(items: Sequence[tuple[int, str]]) -> Iterator[tuple[int, list[Sample], float]]:
        clock = Clock()
        for start in range(0, len(items), batch_size):
            chunk = [text for _, text in items[start : start + batch_size]]
            scores = choice_logprobs(model, tokenizer, chunk, list(letters), batch_size=batch_size)
            seconds = clock.lap() / len(chunk)
            for offset, row in enumerate(scores):
                best = max(range(len(letters)), key=row.__getitem__)
                logprobs = {letter: round(value, 4) for letter, value in zip(letters, row)}
                yield start + offset, [Sample(f"Answer: {letters[best]}", 0, "loglik", {"letter_logprobs": logprobs})], seconds

    return generate


def evaluate_suite(
    model: nn.Module,
    tokenizer: Qwen3Tokenizer,
    suite: dict[str, list[Problem]],
    protocol: Protocol,
    out_dir: str | Path,
    *,
    model_name: str,
    kind: PromptKind,
    enable_thinking: bool = True,
    scoring: str = "generate",
    seed: int = 0,
    batch_size: int = 16,
    compile: bool | None = None,
    thinking: dict[str, Any] | None = None,
    resume: bool = False,
    share: Share = Share(),
    barrier: Callable[[], None] = lambda: None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Evaluate each benchmark of `suite` ({name: problems}, from `load_benchmarks`) in turn into
    out_dir (records per benchmark, then summary.json); returns {benchmark: summary} (on every
    rank, once all ranks are done).

    scoring "generate" samples `protocol.n` completions per problem; "loglik" (multiple choice
    only) scores each choice letter's likelihood after a plain prompt, one forward pass each.
    """
    if scoring not in SCORING:
        raise ValueError(f"unknown scoring {scoring!r}; choose one of {', '.join(SCORING)}")
    benchmarks = [BENCHMARKS[name] for name in suite]
    if scoring == "loglik":
        open_ended = [b.name for b in benchmarks if b.kind != "choice"]
        if open_ended:
            raise ValueError(f"loglik scoring reads a choice letter; {', '.join(open_ended)} is not multiple choice")
        settings: dict[str, Any] = {"model": model_name, "scoring": scoring, "kind": "base"}
        kind = "base"
    else:
        settings = {"model": model_name, "scoring": scoring, "kind": kind, "enable_thinking": enable_thinking,
                    **protocol.settings(), "seed": seed}  # fmt: skip
    config = GenerationConfig(
        max_new_tokens=protocol.max_new_tokens, temperature=protocol.temperature, top_p=protocol.top_p,
        top_k=protocol.top_k, min_p=protocol.min_p, n=protocol.n, seed=seed, max_batch_size=batch_size, compile=compile,
    ).with_options(**(thinking or {}))
    if config.controls_thinking and scoring != "loglik":  # recorded only when set: older runs keep resuming
        settings.update({name: getattr(config, name) for name in THINKING_FIELDS})
    chat = tokenizer.apply_chat_template
    for benchmark in benchmarks:
        problems = suite[benchmark.name]
        prompts = [
            benchmark_prompt(benchmark, p, kind=kind, enable_thinking=enable_thinking, chat=chat) for p in problems
        ]
        if scoring == "loglik":
            letters = CHOICE_LETTERS[: max(len(p.meta["choices"]) for p in problems)]
            generate = loglik_samples(model, tokenizer, letters, batch_size=batch_size)
        else:
            generate = engine_samples(model, tokenizer, config)
        run_benchmark(
            benchmark, problems, prompts, generate, out_dir, settings=settings, resume=resume, share=share,
            progress=progress,
        )  # fmt: skip
        barrier()
        if share.rank == 0:
            write_summary(out_dir)
        barrier()
    summaries = json.loads((Path(out_dir) / SUMMARY_FILE).read_text())
    return {name: summaries[name] for name in suite}
